"""Reconciliation: a paper's stated aggregates against the same figures from its patient rows.

Nothing is fixed: every disagreement is listed with both values and where the stated one is.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from hlhbayes.evidence.aggregates import recompute
from hlhbayes.evidence.base import EvidenceBase

PERCENT_TOLERANCE = 0.5  # printed percentages are rounded to whole numbers (or one decimal)
MEASURE_TOLERANCE = 0.05  # medians and quartiles are printed to one decimal


@dataclass(frozen=True)
class Finding:
    """One stated aggregate compared with its recomputation."""

    key: str
    location: str
    stated: float | int | str
    computed: float | None
    status: str  # "agrees" | "disagrees" | "not recomputable"
    derived: bool

    def as_dict(self) -> dict:
        """Plain dict for JSON output."""
        return asdict(self)


def reconcile(base: EvidenceBase, study_id: str) -> list[Finding]:
    """Compare every reported aggregate of ``study_id`` with its recomputation from patients.

    Studies without patient rows give an empty list.
    """
    patients = base.patients_of(study_id)
    if not patients:
        return []
    computed = recompute(patients)
    findings = []
    for entry in base.study(study_id).reported:
        value = computed.get(entry.key)
        if value is None or isinstance(entry.value, str):
            status = "not recomputable"
        else:
            status = "agrees" if _agrees(entry.key, entry.value, value) else "disagrees"
        findings.append(
            Finding(entry.key, entry.location, entry.value, value, status, entry.derived)
        )
    return findings


def _agrees(key: str, stated: float, computed: float) -> bool:
    if key.endswith("_percent"):
        return abs(stated - computed) <= PERCENT_TOLERANCE
    if key.endswith(("_median", "_q1", "_q3")):
        return abs(stated - computed) <= MEASURE_TOLERANCE
    return float(stated) == float(computed)
