"""The rows of the forest plot, as data, in the layout meta-analysts read.

What each study observed, what the model makes of it, and the pooled estimates, as metafor's
``forest`` and RBesT's ``forest_plot`` show them.

One :class:`ForestStudy` per study of the fit:

* its own estimate: events / n with the exact Clopper-Pearson 95% interval (the beta quantiles
  that invert the binomial test; see :func:`hlhbayes.reporting.estimates.clopper_pearson`);
* its shrunken estimate: the posterior median and 95% equal-tailed interval of the study's own
  rate under the model. For ``etiology-line`` that is the rate the model predicts for the
  study's own mix: the mean fitted probability of its patients, each at their own triggers and
  line, and of its strata at their reported (or latent) mixes, weighted by size, with the
  study's own effect u_s included,

      rate_s = (sum_j n_j p_j) / (sum_j n_j),   logit p_j = sum_e w_je eta_e + gamma v_j + u_s

  (a stratum's p_j is its mixture probability, see the model); for ``random-effects`` it is
  logistic(mu + u_s);
* its trigger (one trigger, several, or not reported) and population, for labels and groups.

Then one :class:`ForestPooled` pair per cell (trigger x line): the average across studies
(``rate_typical``, drawn as a diamond) and the rate expected in a new centre (``rate_new``, the
prediction interval, drawn as a bar), and the between-study SD tau beneath. Every point is a
median; every interval 95%.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from hlhbayes.evidence import EvidenceBase
from hlhbayes.models.units import MODEL_ETIOLOGIES, Units
from hlhbayes.reporting.estimates import EvidenceRow, eti

POINT = "median"
"""The point estimate drawn and printed for every posterior quantity of the forest plot."""

GROUP_TITLES = {
    **{e: e.capitalize() for e in MODEL_ETIOLOGIES if e != "unknown"},
    "unknown": "Trigger not identified",
    "mixed": "Several triggers",
    "unreported": "Trigger mix not reported",
    None: "",
}
"""Headings of the groups of study rows, in this order."""


@dataclass(frozen=True)
class Interval:
    """A median and a 95% interval."""

    median: float
    lo: float
    hi: float

    @classmethod
    def of(cls, draws: np.ndarray) -> Interval:
        """The median and 95% equal-tailed interval of ``draws``."""
        lo, hi = eti(draws)
        return cls(float(np.median(draws)), lo, hi)


@dataclass(frozen=True)
class ForestStudy:
    """One study row: its own estimate and the model's estimate of its rate."""

    study: str
    trigger: str  # label: "infection", "mostly rheumatic", "mixed", "not reported", ""
    trigger_key: str | None  # a model etiology, "mixed", "unreported", or None (no triggers)
    population: str
    events: int
    total: int
    own: Interval  # median = events / total, the exact 95% interval
    model: Interval  # the study's rate under the model

    @property
    def group(self) -> str:
        """The heading this study is listed under (several triggers: with the main one)."""
        if self.trigger_key == "mixed" and self.trigger != "mixed":
            return f"{GROUP_TITLES['mixed']}: {self.trigger}"
        return GROUP_TITLES[self.trigger_key]


KIND_WORDS = {"average": "average across studies", "prediction": "new centre (prediction)"}


@dataclass(frozen=True)
class ForestPooled:
    """A pooled row: the average across studies (diamond) or a new centre (prediction bar)."""

    etiology: str | None
    line: str | None
    kind: str  # "average" (rate_typical) or "prediction" (rate_new)
    estimate: Interval

    @property
    def cell(self) -> str:
        """``Infection, first line``; ``All studies`` for a model without cells."""
        if self.etiology is None:
            return "All studies"
        return f"{self.etiology.capitalize()}, {self.line} line"

    @property
    def words(self) -> str:
        """``average across studies`` or ``new centre (prediction)``."""
        return KIND_WORDS[self.kind]

    @property
    def label(self) -> str:
        """``Infection, first line: average across studies``."""
        return f"{self.cell}: {self.words}"


@dataclass(frozen=True)
class ForestTable:
    """Everything the forest plot draws, in order."""

    studies: list[ForestStudy]
    pooled: list[ForestPooled]
    tau: Interval | None

    @property
    def groups(self) -> list[tuple[str, list[ForestStudy]]]:
        """Study rows by heading, in the order of the rows (one untitled group without triggers)."""
        out: dict[str, list[ForestStudy]] = {}
        for s in self.studies:
            out.setdefault(s.group, []).append(s)
        return list(out.items())


def forest_table(
    rows: list[EvidenceRow],
    units: Units,
    posterior: xr.Dataset,
    cells: list[tuple[str | None, str | None]],
    base: EvidenceBase | None = None,
) -> ForestTable:
    """The forest plot's rows from the evidence rows (with their shrunken draws) and the posterior.

    ``cells``: the trigger x line cells whose pooled rates are shown (``[(None, None)]`` for a
    model without cells). ``base``: the evidence base, for populations and years (``None`` for a
    fit to a user's table: no triggers, no populations). Study rows are grouped by trigger
    (headings :data:`GROUP_TITLES`; studies of several triggers by their main one) and ordered by
    year, then id, within a group.
    """
    has_cells = cells != [(None, None)]
    studies = []
    for r in rows:
        if r.group is not None:
            continue
        if r.shrunken is None:
            raise ValueError(f"{r.study}: no posterior draws attached (attach_posterior first)")
        key, label = study_trigger(units, r) if has_cells else (None, "")
        lo, hi = r.exact_interval
        studies.append(
            ForestStudy(
                study=r.study,
                trigger=label,
                trigger_key=key,
                population=_population(base, r.study),
                events=r.events,
                total=r.total,
                own=Interval(r.observed, lo, hi),
                model=Interval.of(r.shrunken),
            )
        )
    order = list(GROUP_TITLES)
    studies.sort(key=lambda s: (order.index(s.trigger_key), s.group, _year(base, s.study), s.study))
    return ForestTable(studies, pooled_rows(posterior, cells), _tau(posterior))


def pooled_rows(
    posterior: xr.Dataset, cells: list[tuple[str | None, str | None]]
) -> list[ForestPooled]:
    """Per cell: the average across studies, then the rate expected in a new centre."""
    out = []
    for e, ln in cells:
        for quantity, kind in (("rate_typical", "average"), ("rate_new", "prediction")):
            da = posterior[quantity]
            if e is not None:
                da = da.sel(etiology=e, line=ln)
            draws = np.asarray(da.values).ravel()
            out.append(ForestPooled(e, ln, kind, Interval.of(draws)))
    return out


def study_trigger(units: Units, row: EvidenceRow) -> tuple[str, str]:
    """``(key, label)`` of a study's trigger from its units' etiology compositions.

    One trigger for every patient: ``(trigger, trigger)``. Several: ``("mixed", "mixed")``, or
    ``"mostly X"`` when X has more than half of the patients whose trigger is known. No
    composition known: ``("unreported", "not reported")``; partly known: mixed, with
    ``" + not reported"`` added to the label.
    """
    counts = units.pat_w[row.patients].sum(axis=0)
    unknown = 0.0
    for j in row.strata:
        if np.isnan(units.agg_w[j]).any():
            unknown += float(units.agg_total[j])
        else:
            counts = counts + units.agg_w[j] * units.agg_total[j]
    known = float(counts.sum())
    if known == 0:
        return "unreported", "not reported"
    shares = counts / known
    top = int(np.argmax(shares))
    name = MODEL_ETIOLOGIES[top]
    single = shares[top] > 1 - 1e-9
    if single and not unknown:
        return name, name
    label = name if single else (f"mostly {name}" if shares[top] > 0.5 else "mixed")
    return "mixed", f"{label} + not reported" if unknown else label


def _population(base: EvidenceBase | None, study: str) -> str:
    if base is None or study not in base.studies:
        return ""
    return base.studies[study].study.population or "not stated"


def _year(base: EvidenceBase | None, study: str) -> int:
    if base is None or study not in base.studies:
        return 0
    return base.studies[study].study.year or 9999


def _tau(posterior: xr.Dataset) -> Interval | None:
    if "tau" not in posterior:
        return None
    return Interval.of(np.asarray(posterior["tau"].values).ravel())
