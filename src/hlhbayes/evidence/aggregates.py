"""Aggregates recomputed from patient rows, named by the keys of ``reported`` entries.

Quartiles use linear interpolation between order statistics (Hyndman & Fan type 7), which is
what Excel's QUARTILE.INC / MEDIAN compute and numpy's default ``"linear"`` method; the seed paper
states it used Excel 2019, and this method reproduces its printed age and H score IQRs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from hlhbayes.evidence.schema import ETIOLOGIES, Patient

QUANTILE_METHOD = "linear"
QUANTILE_METHOD_TEXT = (
    "linear interpolation between order statistics (Hyndman-Fan type 7; Excel QUARTILE.INC)"
)
CHILD_AGE = 18


def quartiles(values: Sequence[float | None]) -> tuple[float, float, float] | None:
    """Median and IQR of the non-missing values, or None when there are none."""
    data = np.array([v for v in values if v is not None], dtype=float)
    if data.size == 0:
        return None
    q1, med, q3 = np.quantile(data, [0.25, 0.5, 0.75], method=QUANTILE_METHOD)
    return float(med), float(q1), float(q3)


def _counts(patients: Sequence[Patient]) -> dict[str, Callable[[Patient], bool]]:
    tests: dict[str, Callable[[Patient], bool]] = {
        "n": lambda p: True,
        "men": lambda p: p.sex == "M",
        "women": lambda p: p.sex == "F",
        "children": lambda p: p.age is not None and p.age < CHILD_AGE,
        "first_line": lambda p: p.anakinra_line == 1,
        "later_line": lambda p: p.anakinra_line > 1,
        "monotherapy": lambda p: p.regimen == "alone",
        "without_corticosteroids": lambda p: p.corticosteroid_days == 0,
        "responders": lambda p: p.response == 1,
        "deaths": lambda p: p.died == 1,
    }
    for k in range(1, 1 + max((p.anakinra_line for p in patients), default=0)):
        tests[f"line_{k}"] = lambda p, k=k: p.anakinra_line == k
    for e in ETIOLOGIES:
        tests[f"etiology_{e}"] = lambda p, e=e: bool(getattr(p, e))
    return tests


def recompute(patients: Sequence[Patient]) -> dict[str, float]:
    """Every aggregate that can be recomputed from these rows, by reported key.

    Counts (``men``, ``line_2``, ``etiology_infection``...), their ``<key>_percent`` of n, and
    ``<variable>_median`` / ``_q1`` / ``_q3`` for age, H score and the two durations.
    """
    values: dict[str, float] = {}
    n = len(patients)
    for key, test in _counts(patients).items():
        count = sum(1 for p in patients if test(p))
        values[key] = count
        if n:
            values[f"{key}_percent"] = 100.0 * count / n
    for variable in ("age", "hscore", "anakinra_days", "corticosteroid_days"):
        q = quartiles([getattr(p, variable) for p in patients])
        if q is not None:
            values[f"{variable}_median"], values[f"{variable}_q1"], values[f"{variable}_q3"] = q
    return values
