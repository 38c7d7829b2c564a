"""Warnings about figures that are valid but implausible or incomplete, for a reviewer to check.

Unlike the schema's errors, a warning does not stop anything: the figure is kept as printed (the
evidence base records what sources say) and the warning makes sure it is seen. ``data validate``
prints them.
"""

from __future__ import annotations

from hlhbayes.evidence.base import EvidenceBase
from hlhbayes.evidence.issues import Issue
from hlhbayes.evidence.load import PATIENTS_DIR, STUDIES_DIR
from hlhbayes.evidence.schema import HSCORE_MAX


def plausibility_warnings(base: EvidenceBase) -> list[Issue]:
    """Figures a reviewer should look at twice, each located like a validation issue.

    - an H score above the score's maximum of 337, in a patient row or a reported aggregate whose
      key starts with ``hscore`` (impossible as an H score: a misprint, or another score);
    - a study whose publication year is not stated (it is ordered last in cumulative analyses).
    """
    found: list[Issue] = []
    for sid in sorted(base.studies):
        record = base.studies[sid]
        file = f"{STUDIES_DIR}/{sid}.yaml"
        if record.study.year is None:
            found.append(
                Issue(file, "study", "year", "not stated: ordered last in cumulative analyses")
            )
        for i, r in enumerate(record.reported):
            value = r.value
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            if r.key.startswith("hscore") and numeric and value > HSCORE_MAX:
                found.append(Issue(file, f"reported[{i}]", "value", _hscore_message(r.key, value)))
    for p in base.patients:
        if p.hscore is not None and p.hscore > HSCORE_MAX:
            found.append(
                Issue(
                    f"{PATIENTS_DIR}/{p.study}.csv",
                    f"patient {p.patient}",
                    "hscore",
                    _hscore_message("hscore", p.hscore),
                )
            )
    return sorted(found)


def _hscore_message(key: str, value: float) -> str:
    return (
        f"{key} {value} is above the H score's maximum of {HSCORE_MAX}: implausible as printed "
        "(kept as the source states it)"
    )
