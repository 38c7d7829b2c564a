"""From the evidence base to the evidence units a model fits: patients and aggregate strata.

Filtering (outcome, population, condition, excluded studies, derived counts, death timeframes,
strata after anakinra failure) happens here, once, before any model is built; the result is
plain numpy arrays with named categories, and the reason for every study or unit left out.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from hlhbayes.errors import HlhBayesError
from hlhbayes.evidence import EvidenceBase
from hlhbayes.evidence.schema import CONDITIONS, POPULATIONS, TIMEFRAMES, Patient, Stratum
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
DEFAULT_DEATH_TIMEFRAMES: tuple[str, ...] = ("last_follow_up", "not_stated")
"""Deaths a death fit uses unless told otherwise: the design's estimand is mortality at last
follow-up as reported, and a count given without a timeframe is the crude proportion at the end
of what its source reports. Fixed-horizon mortality (in hospital, 28, 30 or 90 days) is shorter
and enters only when selected. The timeframes used are listed in :meth:`Units.describe`."""


class NoEvidenceError(HlhBayesError):
    """No evidence unit is left after filtering (e.g. no death count in the selected timeframes)."""


@dataclass(frozen=True)
class Filters:
    """Which evidence enters a fit."""

    outcome: str = "response"
    population: str = "all"
    conditions: tuple[str, ...] = DEFAULT_CONDITIONS
    exclude_studies: tuple[str, ...] = ()
    exclude_derived: bool = False
    death_timeframes: tuple[str, ...] = DEFAULT_DEATH_TIMEFRAMES
    include_after_anakinra_failure: bool = False

    @classmethod
    def from_dict(cls, data: dict) -> Filters:
        """The filters as recorded by :meth:`to_dict` (in a spec or a run's provenance)."""
        return cls(
            outcome=data["outcome"],
            population=data["population"],
            conditions=tuple(data["conditions"]),
            exclude_studies=tuple(data["exclude_studies"]),
            exclude_derived=bool(data["exclude_derived"]),
            # runs recorded before these filters existed: every timeframe, after-anakinra
            # strata counted as later line (what those fits did)
            death_timeframes=tuple(data.get("death_timeframes") or TIMEFRAMES),
            include_after_anakinra_failure=bool(data.get("include_after_anakinra_failure", True)),
        )

    def to_dict(self) -> dict:
        """A plain, serialisable record."""
        return {
            "outcome": self.outcome,
            "population": self.population,
            "conditions": list(self.conditions),
            "exclude_studies": list(self.exclude_studies),
            "exclude_derived": self.exclude_derived,
            "death_timeframes": list(self.death_timeframes),
            "include_after_anakinra_failure": self.include_after_anakinra_failure,
        }

    def validate(self, base: EvidenceBase) -> None:
        """Raise :class:`~hlhbayes.errors.HlhBayesError` for codes that do not exist (all problems in one message)."""
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
        for t in self.death_timeframes:
            if t not in TIMEFRAMES:
                problems.append(
                    f"unknown death timeframe {quoted(t)}; valid: {', '.join(TIMEFRAMES)}"
                )
        if not self.death_timeframes:
            problems.append(f"no death timeframe selected; valid: {', '.join(TIMEFRAMES)}")
        if problems:
            raise HlhBayesError("; ".join(problems))


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
    left_out: dict[str, str] = field(default_factory=dict)
    """Units of the studies in the fit that a filter left out: unit id (``study/stratum``, or
    ``study#patients`` for a study's patient rows) -> reason."""
    death_timeframes: dict[str, int] = field(default_factory=dict)
    """Death fits: the number of patients per timeframe code that entered (a patient reported
    one by one counts one, an aggregate stratum its total)."""

    @property
    def n_units(self) -> int:
        """Patients plus strata."""
        return len(self.pat_ids) + len(self.agg_ids)

    def pooled_mix(self, fitted: np.ndarray | None = None) -> np.ndarray:
        """The etiology mix of the units with known composition, weighted by patients.

        ``fitted``: a boolean per unit (patients, then strata); only those units count (all by
        default). Uniform when no counted unit has a known composition (as
        :meth:`pooled_later` is 0.5).
        """
        pat, agg = self._split(fitted)
        counts = self.pat_w[pat].sum(axis=0)
        known = ~np.isnan(self.agg_w).any(axis=1) & agg
        counts = counts + (self.agg_w[known] * self.agg_total[known, None]).sum(axis=0)
        total = counts.sum()
        if not total:
            return np.full(self.agg_w.shape[1], 1.0 / self.agg_w.shape[1])
        return counts / total

    def pooled_later(self, fitted: np.ndarray | None = None) -> float:
        """The later-line fraction of the units with known line composition.

        ``fitted``: as in :meth:`pooled_mix`.
        """
        pat, agg = self._split(fitted)
        known = ~np.isnan(self.agg_v) & agg
        later = self.pat_later[pat].sum() + (self.agg_v[known] * self.agg_total[known]).sum()
        total = pat.sum() + self.agg_total[known].sum()
        return float(later / total) if total else 0.5

    def fingerprint(self, study: str | None = None) -> str:
        """SHA-256 of everything a fit of these units sees, or of one study's units.

        Unit ids, studies, outcomes, totals, compositions (unknown ones as NaN) and derived
        flags: two fits with the same fingerprint, spec and seed fit the same data, whatever
        else in the evidence base changed (a citation, a study the filters leave out).
        """
        pat = np.ones(len(self.pat_ids), dtype=bool)
        agg = np.ones(len(self.agg_ids), dtype=bool)
        studies = list(self.studies)
        if study is not None:
            s = self.studies.index(study)
            pat, agg, studies = self.pat_study == s, self.agg_study == s, [study]
        digest = hashlib.sha256()
        for text in (
            studies,
            [i for i, keep in zip(self.pat_ids, pat, strict=True) if keep],
            [i for i, keep in zip(self.agg_ids, agg, strict=True) if keep],
        ):
            digest.update("\x1f".join(text).encode("utf-8") + b"\x1e")
        for array in (
            self.pat_study[pat] if study is None else np.zeros(0),
            self.pat_y[pat],
            self.pat_w[pat],
            self.pat_later[pat],
            self.agg_study[agg] if study is None else np.zeros(0),
            self.agg_events[agg],
            self.agg_total[agg],
            self.agg_w[agg],
            self.agg_v[agg],
            self.agg_derived[agg],
        ):
            values = np.ascontiguousarray(array, dtype=float)
            digest.update(str(values.shape).encode() + np.nan_to_num(values, nan=-1.0).tobytes())
        return digest.hexdigest()

    def _split(self, fitted: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        n_pat = len(self.pat_ids)
        if fitted is None:
            return np.ones(n_pat, bool), np.ones(len(self.agg_ids), bool)
        fitted = np.asarray(fitted, dtype=bool)
        if fitted.shape != (self.n_units,):
            raise ValueError(f"one value per unit ({self.n_units}) needed, got {fitted.shape}")
        return fitted[:n_pat], fitted[n_pat:]

    def describe(self) -> dict:
        """Counts for dry runs and reports.

        Death fits also list the timeframes that entered (``death_timeframes``: code -> patients),
        and every fit the units a filter left out of studies otherwise in it (``left_out``).
        """
        described = {
            "studies": len(self.studies),
            "patients": len(self.pat_ids),
            "strata": len(self.agg_ids),
            "events": int(self.pat_y.sum() + self.agg_events.sum()),
            "total": int(len(self.pat_ids) + self.agg_total.sum()),
            "strata_with_unknown_etiology": int(np.isnan(self.agg_w).any(axis=1).sum()),
            "strata_with_unknown_line": int(np.isnan(self.agg_v).sum()),
        }
        if self.death_timeframes:
            described["death_timeframes"] = dict(self.death_timeframes)
        if self.left_out:
            described["left_out"] = dict(self.left_out)
        return described

    def in_words(self, events: bool = False) -> str:
        """The units in plain words, with the events when asked.

        ``8 studies, 58 events in 65 patients (21 reported one by one, 44 in 8 aggregate
        strata)``; a kind of unit the fit has none of is left out.
        """
        u = self.describe()
        patients = _counted(u["total"], "patient", "patients")
        if events:
            patients = f"{_counted(u['events'], 'event', 'events')} in {patients}"
        one_by_one, n_strata = u["patients"], u["strata"]
        strata = _counted(n_strata, "aggregate stratum", "aggregate strata")
        if one_by_one and n_strata:
            detail = f" ({one_by_one} reported one by one, {u['total'] - one_by_one} in {strata})"
        elif one_by_one:
            detail = " (reported one by one)"
        elif n_strata:
            detail = f" (in {strata})"
        else:
            detail = ""
        return f"{_counted(u['studies'], 'study', 'studies')}, {patients}{detail}"


def _counted(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def build_units(base: EvidenceBase, filters: Filters) -> Units:
    """Select and encode the units of ``base`` that pass ``filters``.

    ``population`` adult or pediatric keeps patient rows by age (18 and over: adult) and the
    strata of studies of that population; the strata of a ``mixed`` study are left out, since
    they count adults and children together, and so are those of a study whose population is not
    stated.

    ``outcome`` death keeps the strata (and patient rows) whose deaths were counted in one of
    ``death_timeframes``; any outcome leaves out a stratum with patients given anakinra after
    anakinra failed unless ``include_after_anakinra_failure`` (then they count as later line).
    Each unit so left out is named in ``Units.left_out``, each study left with nothing in
    ``Units.excluded``, with the reason.

    Raises :class:`NoEvidenceError` when no unit is left.
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
        elif filters.population != "all" and s.population not in (
            filters.population,
            "mixed",
            None,
        ):
            reason = f"population {s.population}"
        if reason:
            excluded[sid] = reason
        else:
            chosen.append(sid)

    left_out: dict[str, str] = {}
    death = filters.outcome == "death"
    timeframe_reason = (
        f"deaths counted {{}}, not among the death timeframes selected "
        f"({', '.join(filters.death_timeframes)})"
    )
    pats = []
    for p in base.patients:
        if p.study not in chosen or filters.population not in ("all", _patient_population(p.age)):
            continue
        frame = base.studies[p.study].study.patient_death_timeframe
        if death and frame not in filters.death_timeframes:
            left_out[f"{p.study}#patients"] = timeframe_reason.format(frame)
            continue
        pats.append(p)
    strata = []
    for sid in chosen:
        if filters.population != "all" and base.studies[sid].study.population in ("mixed", None):
            # its strata mix adults and children (or may); only patient rows (by age) can enter
            continue
        for s in base.studies[sid].strata:
            if s.outcome != filters.outcome or s.events is None:
                continue
            if filters.exclude_derived and s.derived:
                continue
            reason = _left_out_reason(s, filters, timeframe_reason)
            if reason:
                left_out[f"{sid}/{s.id}"] = reason
                continue
            strata.append((sid, s))
    used = sorted({p.study for p in pats} | {sid for sid, _ in strata})
    for sid in chosen:
        if sid not in used:
            population = base.studies[sid].study.population
            mine = [r for u, r in left_out.items() if _study_of(u) == sid]
            if filters.population != "all" and population in ("mixed", None):
                excluded[sid] = (
                    f"population {population or 'not stated'}: no {filters.population} patient "
                    "rows (its strata may mix adults and children)"
                )
            elif mine:
                excluded[sid] = "; ".join(dict.fromkeys(mine))
            else:
                excluded[sid] = f"no usable {filters.outcome} count"
    left_out = {u: r for u, r in left_out.items() if _study_of(u) in used}
    if not used:
        frames = f" (death timeframes {', '.join(filters.death_timeframes)})" if death else ""
        raise NoEvidenceError(
            f"no evidence is left for outcome {quoted(filters.outcome)} after filtering{frames}"
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
            # after-anakinra strata reach here only when asked for: counted as later line
            agg_v[j] = (s.line.later + s.line.after_anakinra) / s.total

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
        left_out=left_out,
        death_timeframes=_timeframe_counts(base, pats, strata) if death else {},
    )


def _left_out_reason(stratum: Stratum, filters: Filters, timeframe_reason: str) -> str | None:
    """Why a stratum with a count does not enter this fit, or None."""
    if filters.outcome == "death" and stratum.timeframe not in filters.death_timeframes:
        return timeframe_reason.format(stratum.timeframe)
    line = stratum.line
    if line is not None and line.after_anakinra and not filters.include_after_anakinra_failure:
        return (
            f"{line.after_anakinra} of {stratum.total} given anakinra after anakinra had failed: "
            "says nothing about anakinra as first or later line (include them as later line "
            "with --include-after-anakinra-failure)"
        )
    return None


def _study_of(unit_id: str) -> str:
    """The study of a unit id: ``S/stratum`` or ``S#patients`` (or ``S#3``) -> ``S``."""
    return unit_id.split("/")[0].split("#")[0]


def _timeframe_counts(
    base: EvidenceBase, pats: list[Patient], strata: list[tuple[str, Stratum]]
) -> dict[str, int]:
    counts: dict[str, int] = {}
    frames = [base.studies[p.study].study.patient_death_timeframe for p in pats]
    for frame, patients in [
        *((f, 1) for f in frames),
        *((s.timeframe, s.total) for _, s in strata),
    ]:
        counts[frame] = counts.get(frame, 0) + int(patients)
    return {t: counts[t] for t in TIMEFRAMES if t in counts}


def _patient_population(age: float | None) -> str:
    if age is None:
        return "unknown"
    return "pediatric" if age < 18 else "adult"
