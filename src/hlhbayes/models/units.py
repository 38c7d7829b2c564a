"""From the evidence base to the evidence units a model fits: patients and aggregate strata.

Filtering (outcome, population, condition, excluded studies, derived counts) happens here, once,
before any model is built; the result is plain numpy arrays with named categories.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hlhbayes.evidence import EvidenceBase
from hlhbayes.evidence.schema import CONDITIONS, POPULATIONS
from hlhbayes.quoting import quoted

MODEL_ETIOLOGIES: tuple[str, ...] = ("infection", "malignancy", "rheumatic", "other", "unknown")
"""Etiology levels of the models. The data's ``medication`` category is modelled as ``other``."""

DATA_TO_MODEL_ETIOLOGY = {
    "infection": "infection",
    "malignancy": "malignancy",
    "rheumatic": "rheumatic",
    "medication": "other",
    "other": "other",
    "unknown": "unknown",
}
MODEL_LINES: tuple[str, ...] = ("first", "later")
DEFAULT_CONDITIONS: tuple[str, ...] = ("classic_shlh", "mas")


@dataclass(frozen=True)
class Filters:
    """Which evidence enters a fit."""

    outcome: str = "response"
    population: str = "all"
    conditions: tuple[str, ...] = DEFAULT_CONDITIONS
    exclude_studies: tuple[str, ...] = ()
    exclude_derived: bool = False

    def validate(self, base: EvidenceBase) -> None:
        """Raise ``ValueError`` for codes that do not exist (all problems in one message)."""
        problems = []
        if self.outcome not in ("response", "death"):
            problems.append(f"unknown outcome {quoted(self.outcome)}; valid: response, death")
        if self.population not in (*POPULATIONS, "all"):
            problems.append(
                f"unknown population {quoted(self.population)}; valid: adult, pediatric, all"
            )
        for c in self.conditions:
            if c not in CONDITIONS:
                problems.append(f"unknown condition {quoted(c)}; valid: {', '.join(CONDITIONS)}")
        for s in self.exclude_studies:
            if s not in base.studies:
                problems.append(f"--exclude-study {quoted(s)} is not in the evidence base")
        if problems:
            raise ValueError("; ".join(problems))


@dataclass(frozen=True)
class Units:
    """The evidence units of one fit.

    Patients (``pat_*``): a binary outcome, etiology weights ``pat_w`` (rows sum to 1: a patient
    with two triggers has 1/2 on each) and a later-line indicator. Strata (``agg_*``): events of
    total, etiology fractions ``agg_w`` (NaN rows: unknown mix) and later-line fraction
    ``agg_v`` (NaN: unknown).
    """

    studies: tuple[str, ...]
    pat_ids: tuple[str, ...]
    pat_study: np.ndarray
    pat_y: np.ndarray
    pat_w: np.ndarray
    pat_later: np.ndarray
    agg_ids: tuple[str, ...]
    agg_study: np.ndarray
    agg_events: np.ndarray
    agg_total: np.ndarray
    agg_w: np.ndarray
    agg_v: np.ndarray
    agg_derived: np.ndarray
    excluded: dict[str, str] = field(default_factory=dict)

    @property
    def n_units(self) -> int:
        """Patients plus strata."""
        return len(self.pat_ids) + len(self.agg_ids)

    def pooled_mix(self) -> np.ndarray:
        """The etiology mix of all units with known composition, weighted by patients.

        Uniform when no unit has a known composition (as :meth:`pooled_later` is 0.5).
        """
        counts = self.pat_w.sum(axis=0)
        known = ~np.isnan(self.agg_w).any(axis=1)
        counts = counts + (self.agg_w[known] * self.agg_total[known, None]).sum(axis=0)
        total = counts.sum()
        if not total:
            return np.full(self.agg_w.shape[1], 1.0 / self.agg_w.shape[1])
        return counts / total

    def pooled_later(self) -> float:
        """The later-line fraction of all units with known line composition."""
        known = ~np.isnan(self.agg_v)
        later = self.pat_later.sum() + (self.agg_v[known] * self.agg_total[known]).sum()
        total = len(self.pat_ids) + self.agg_total[known].sum()
        return float(later / total) if total else 0.5

    def describe(self) -> dict:
        """Counts for dry runs and reports."""
        return {
            "studies": len(self.studies),
            "patients": len(self.pat_ids),
            "strata": len(self.agg_ids),
            "events": int(self.pat_y.sum() + self.agg_events.sum()),
            "total": int(len(self.pat_ids) + self.agg_total.sum()),
            "strata_with_unknown_etiology": int(np.isnan(self.agg_w).any(axis=1).sum()),
            "strata_with_unknown_line": int(np.isnan(self.agg_v).sum()),
        }


def build_units(base: EvidenceBase, filters: Filters) -> Units:
    """Select and encode the units of ``base`` that pass ``filters``.

    ``population`` adult or pediatric keeps patient rows by age (18 and over: adult) and the
    strata of studies of that population; the strata of a ``mixed`` study are left out, since
    they count adults and children together.

    Raises ``ValueError`` when no unit is left.
    """
    filters.validate(base)
    excluded: dict[str, str] = {}
    chosen: list[str] = []
    for sid in sorted(base.studies):
        s = base.studies[sid].study
        reason = None
        if not s.pool:
            reason = f"not pooled: {s.exclusion_reason}"
        elif sid in filters.exclude_studies:
            reason = "excluded on the command line"
        elif s.condition not in filters.conditions:
            reason = f"condition {s.condition} not selected"
        elif filters.population != "all" and s.population not in (filters.population, "mixed"):
            reason = f"population {s.population}"
        if reason:
            excluded[sid] = reason
        else:
            chosen.append(sid)

    pats = [
        p
        for p in base.patients
        if p.study in chosen and filters.population in ("all", _patient_population(p.age))
    ]
    strata = []
    for sid in chosen:
        if filters.population != "all" and base.studies[sid].study.population == "mixed":
            # its strata mix adults and children; only its patient rows (by age) can enter
            continue
        for s in base.studies[sid].strata:
            if s.outcome != filters.outcome or s.events is None:
                continue
            if filters.exclude_derived and s.derived:
                continue
            strata.append((sid, s))
    used = sorted({p.study for p in pats} | {sid for sid, _ in strata})
    for sid in chosen:
        if sid not in used:
            mixed = filters.population != "all" and base.studies[sid].study.population == "mixed"
            excluded[sid] = (
                f"population mixed: no {filters.population} patient rows (its strata mix adults "
                "and children)"
                if mixed
                else f"no usable {filters.outcome} count"
            )
    if not used:
        raise ValueError(
            f"no evidence is left for outcome {quoted(filters.outcome)} after filtering"
        )
    index = {sid: i for i, sid in enumerate(used)}
    k = len(MODEL_ETIOLOGIES)

    pat_w = np.zeros((len(pats), k))
    for i, p in enumerate(pats):
        for e in p.etiologies:
            pat_w[i, MODEL_ETIOLOGIES.index(DATA_TO_MODEL_ETIOLOGY[e])] += 1.0
    pat_w = pat_w / pat_w.sum(axis=1, keepdims=True) if len(pats) else pat_w
    pat_y = np.array(
        [p.response if filters.outcome == "response" else p.died for p in pats], dtype=np.int64
    )

    agg_w = np.full((len(strata), k), np.nan)
    agg_v = np.full(len(strata), np.nan)
    for j, (_, s) in enumerate(strata):
        if s.etiology is not None:
            row = np.zeros(k)
            for e, n in s.etiology.items():
                row[MODEL_ETIOLOGIES.index(DATA_TO_MODEL_ETIOLOGY[e])] += n
            agg_w[j] = row / s.total
        if s.line is not None:
            agg_v[j] = s.line.later / s.total

    return Units(
        studies=tuple(used),
        pat_ids=tuple(f"{p.study}#{p.patient}" for p in pats),
        pat_study=np.array([index[p.study] for p in pats], dtype=np.int64),
        pat_y=pat_y,
        pat_w=pat_w,
        pat_later=np.array([float(p.anakinra_line > 1) for p in pats]),
        agg_ids=tuple(f"{sid}/{s.id}" for sid, s in strata),
        agg_study=np.array([index[sid] for sid, _ in strata], dtype=np.int64),
        agg_events=np.array([s.events for _, s in strata], dtype=np.int64),
        agg_total=np.array([s.total for _, s in strata], dtype=np.int64),
        agg_w=agg_w,
        agg_v=agg_v,
        agg_derived=np.array([s.derived for _, s in strata], dtype=bool),
        excluded=excluded,
    )


def _patient_population(age: float | None) -> str:
    if age is None:
        return "unknown"
    return "pediatric" if age < 18 else "adult"
