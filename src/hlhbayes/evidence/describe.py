"""The descriptive statistics of a study, recomputed from its patient rows.

Counts with percentages of n, medians with IQR (method: :data:`QUANTILE_METHOD_TEXT`), counts by
anakinra line and regimen, responders and deaths by etiology and line, the comparison of anakinra
duration by etiology that the seed paper reports (Wilcoxon rank-sum / Mann-Whitney U, two-sided),
and the reconciliation of every stated aggregate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from hlhbayes.errors import HlhBayesError
from hlhbayes.evidence.aggregates import QUANTILE_METHOD_TEXT, quartiles
from hlhbayes.evidence.base import EvidenceBase
from hlhbayes.evidence.reconcile import reconcile
from hlhbayes.evidence.schema import ETIOLOGIES, Patient
from hlhbayes.quoting import quoted

CONTINUOUS = {
    "age": "Age (years)",
    "hscore": "H score",
    "anakinra_days": "Anakinra duration (days)",
    "corticosteroid_days": "Corticosteroid duration (days)",
}

# The seed paper compares anakinra duration in Still's disease with malignancy or infection.
# Which patients it put in each group is not stated, so two readings are computed.
DURATION_GROUPS: dict[str, tuple[str, Callable[[Patient], bool], Callable[[Patient], bool]]] = {
    "rheumatic_vs_malignancy_or_infection": (
        "rheumatic (AOSD or sJIA) vs malignancy or infection without rheumatic disease",
        lambda p: p.rheumatic == 1,
        lambda p: p.rheumatic == 0 and (p.malignancy == 1 or p.infection == 1),
    ),
    "stills_vs_malignancy_or_infection": (
        "Still's disease as written in the table vs malignancy or infection without it",
        lambda p: "still" in p.factors.lower(),
        lambda p: "still" not in p.factors.lower() and (p.malignancy == 1 or p.infection == 1),
    ),
}


def _count(patients: Sequence[Patient], test: Callable[[Patient], bool]) -> dict:
    n = len(patients)
    k = sum(1 for p in patients if test(p))
    return {"n": k, "of": n, "percent": round(100.0 * k / n, 1) if n else None}


def _continuous(patients: Sequence[Patient], variable: str) -> dict:
    values = [getattr(p, variable) for p in patients]
    q = quartiles(values)
    present = sum(v is not None for v in values)
    out = {"label": CONTINUOUS[variable], "n": present, "missing": len(values) - present}
    if q is not None:
        out.update(median=q[0], q1=q[1], q3=q[2])
    return out


def _duration_comparison(patients: Sequence[Patient]) -> list[dict]:
    from scipy import stats  # not at the top: listing the commands imports this module

    results = []
    for key, (label, in_a, in_b) in DURATION_GROUPS.items():
        a = [p.anakinra_days for p in patients if in_a(p) and p.anakinra_days is not None]
        b = [p.anakinra_days for p in patients if in_b(p) and p.anakinra_days is not None]
        entry: dict = {"comparison": key, "groups": label, "n_a": len(a), "n_b": len(b)}
        if a and b:
            test = stats.mannwhitneyu(a, b, alternative="two-sided", method="auto")
            entry.update(
                median_a=quartiles(a)[0],  # type: ignore[index]
                median_b=quartiles(b)[0],  # type: ignore[index]
                u=float(test.statistic),
                p_value=float(test.pvalue),
                test="Wilcoxon rank-sum (Mann-Whitney U), two-sided; exact without ties, "
                "normal approximation with continuity correction with ties",
            )
        results.append(entry)
    return results


def describe(base: EvidenceBase, study_id: str) -> dict:
    """Descriptive statistics of ``study_id`` from its patient rows, as a JSON-able dict.

    Raises
    ------
    HlhBayesError
        When the study has no patient rows to describe.
    """
    patients = base.patients_of(study_id)
    if not patients:
        raise HlhBayesError(f"study {quoted(study_id)} has no patient rows to describe")
    counts = {
        "men": _count(patients, lambda p: p.sex == "M"),
        "women": _count(patients, lambda p: p.sex == "F"),
        "children (<18 y)": _count(patients, lambda p: p.age is not None and p.age < 18),
        **{
            f"etiology: {e}": _count(patients, lambda p, e=e: getattr(p, e) == 1)
            for e in ETIOLOGIES
        },
        "several triggers": _count(patients, lambda p: len(p.etiologies) > 1),
        "anakinra first line": _count(patients, lambda p: p.anakinra_line == 1),
        "anakinra alone at start": _count(patients, lambda p: p.regimen == "alone"),
        "never given corticosteroids": _count(patients, lambda p: p.corticosteroid_days == 0),
        "responders": _count(patients, lambda p: p.response == 1),
        "deaths": _count(patients, lambda p: p.died == 1),
    }
    by_line: dict[str, dict] = {}
    for p in patients:
        cell = by_line.setdefault(
            str(p.anakinra_line),
            {"patients": 0, "alone": 0, "with_corticosteroids": 0, "responders": 0, "deaths": 0},
        )
        cell["patients"] += 1
        cell[p.regimen] += 1
        cell["responders"] += p.response
        cell["deaths"] += p.died
    by_etiology = {}
    for e in ETIOLOGIES:
        group = [p for p in patients if getattr(p, e) == 1]
        by_etiology[e] = {
            "patients": len(group),
            "first_line": sum(p.anakinra_line == 1 for p in group),
            "responders": sum(p.response for p in group),
            "deaths": sum(p.died for p in group),
        }
    return {
        "study": study_id,
        "n": len(patients),
        "quantile_method": QUANTILE_METHOD_TEXT,
        "counts": counts,
        "continuous": {v: _continuous(patients, v) for v in CONTINUOUS},
        "by_anakinra_line": dict(sorted(by_line.items(), key=lambda kv: int(kv[0]))),
        "by_etiology": by_etiology,
        "anakinra_duration_by_etiology": _duration_comparison(patients),
        "reconciliation": [f.as_dict() for f in reconcile(base, study_id)],
    }
