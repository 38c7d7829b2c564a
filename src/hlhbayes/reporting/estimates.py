"""Study-level numbers for the evidence table, the forest plot and the predictive check.

One :class:`EvidenceRow` per study in the fit, and one per group of patient-level rows
(patients of a study grouped by their etiologies and line). For each row: the observed
events / total with its exact (Clopper-Pearson) interval, the posterior draws of the row's
*shrunken* rate (the total-weighted mean of its units' fitted probabilities, i.e. the rate the
model believes this study, or group, had) and posterior predictive draws of its event count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy import stats

from hlhbayes.models.base import ModelDefinition
from hlhbayes.models.units import MODEL_ETIOLOGIES, Units

INTERVAL = 0.95
"""The one interval policy of the project: 95 % equal-tailed."""


@dataclass
class EvidenceRow:
    """A study of the fit, or a group of one study's patients."""

    study: str
    group: str | None  # None for a study row, e.g. "infection, first line" for a group
    events: int
    total: int
    derived: str  # "yes", "no" or "partly (k of m strata)"
    patients: np.ndarray  # indices into units.pat_*
    strata: np.ndarray  # indices into units.agg_*
    shrunken: np.ndarray | None = None  # (sample,) draws
    predicted: np.ndarray | None = None  # (sample,) draws of the event count

    @property
    def label(self) -> str:
        """Display label."""
        return self.study if self.group is None else f"{self.study}: {self.group}"

    @property
    def observed(self) -> float:
        """The observed rate, events / total."""
        return self.events / self.total

    @property
    def exact_interval(self) -> tuple[float, float]:
        """The exact (Clopper-Pearson) binomial interval of the observed rate."""
        return clopper_pearson(self.events, self.total)


def clopper_pearson(events: int, total: int, prob: float = INTERVAL) -> tuple[float, float]:
    """Exact binomial interval: the beta quantiles that invert the binomial test."""
    a = (1 - prob) / 2
    lo = 0.0 if events == 0 else float(stats.beta.ppf(a, events, total - events + 1))
    hi = 1.0 if events == total else float(stats.beta.ppf(1 - a, events + 1, total - events))
    return lo, hi


def eti(draws: np.ndarray, prob: float = INTERVAL) -> tuple[float, float]:
    """Equal-tailed interval of a set of draws."""
    a = (1 - prob) / 2
    lo, hi = np.quantile(draws, [a, 1 - a])
    return float(lo), float(hi)


def evidence_rows(units: Units, detail: Units | None = None) -> list[EvidenceRow]:
    """Study rows, each followed by the groups of its patients (if the fit has patient rows).

    ``detail``: the patient and stratum units of the evidence base behind ``units`` (they say
    which counts are derived also when the fit added them up to one count per study).
    """
    rows: list[EvidenceRow] = []
    for s, study in enumerate(units.studies):
        pats = np.flatnonzero(units.pat_study == s)
        aggs = np.flatnonzero(units.agg_study == s)
        derived = _derived(detail if detail is not None else units, study)
        rows.append(
            EvidenceRow(
                study,
                None,
                int(units.pat_y[pats].sum() + units.agg_events[aggs].sum()),
                int(len(pats) + units.agg_total[aggs].sum()),
                derived,
                pats,
                aggs,
            )
        )
        rows += _patient_groups(units, study, pats)
    return rows


def _derived(units: Units, study: str) -> str:
    if study not in units.studies:
        return "no"
    s = units.studies.index(study)
    aggs = np.flatnonzero(units.agg_study == s)
    n_pats = int((units.pat_study == s).sum())
    n_derived = int(units.agg_derived[aggs].sum())
    if n_derived == 0:
        return "no"
    if n_derived == len(aggs) and not n_pats:
        return "yes"
    return f"partly ({n_derived} of {len(aggs)} strata)"


def _patient_groups(units: Units, study: str, pats: np.ndarray) -> list[EvidenceRow]:
    groups: dict[tuple[tuple[int, ...], int], list[int]] = {}
    for i in pats:
        etiologies = tuple(int(e) for e in np.flatnonzero(units.pat_w[i] > 0))
        groups.setdefault((etiologies, int(units.pat_later[i] > 0)), []).append(int(i))
    rows = []
    for (etiologies, later), members in sorted(
        groups.items(), key=lambda kv: (kv[0][0][0], len(kv[0][0]), kv[0][0], kv[0][1])
    ):
        idx = np.array(members, dtype=np.int64)
        name = " + ".join(MODEL_ETIOLOGIES[e] for e in etiologies)
        rows.append(
            EvidenceRow(
                study,
                f"{name}, {'later' if later else 'first'} line",
                int(units.pat_y[idx].sum()),
                len(idx),
                "no",
                idx,
                np.zeros(0, dtype=np.int64),
            )
        )
    return rows


def attach_posterior(
    rows: list[EvidenceRow], units: Units, model: ModelDefinition, idata: xr.DataTree
) -> list[EvidenceRow]:
    """Fill in each row's shrunken-rate and predicted-count draws (flattened chain x draw)."""
    posterior = idata["posterior"].to_dataset()
    probs = model.unit_probabilities(posterior, units)
    predictive = idata["posterior_predictive"].to_dataset()
    pat_p = _flat(probs.get("y_patient"))
    agg_p = _flat(probs.get("y_stratum"))
    pat_pred = _flat(predictive["y_patient"].values) if "y_patient" in predictive else None
    agg_pred = _flat(predictive["y_stratum"].values) if "y_stratum" in predictive else None
    for row in rows:
        weighted = 0.0
        predicted = 0
        if len(row.patients):
            weighted = weighted + pat_p[:, row.patients].sum(axis=1)
            predicted = predicted + pat_pred[:, row.patients].sum(axis=1)
        if len(row.strata):
            n = units.agg_total[row.strata]
            weighted = weighted + (agg_p[:, row.strata] * n).sum(axis=1)
            predicted = predicted + agg_pred[:, row.strata].sum(axis=1)
        row.shrunken = np.asarray(weighted) / row.total
        row.predicted = np.asarray(predicted)
    return rows


def _flat(values: np.ndarray | None) -> np.ndarray | None:
    """``(chain, draw, unit)`` to ``(sample, unit)``."""
    if values is None:
        return None
    return np.asarray(values).reshape(-1, values.shape[-1])
