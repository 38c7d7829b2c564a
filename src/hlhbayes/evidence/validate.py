"""Rules that span records: ids, overlaps and links between patients, strata and studies."""

from __future__ import annotations

from collections import Counter, defaultdict

from hlhbayes.evidence.issues import Issue
from hlhbayes.evidence.schema import Patient, StudyFile


def cross_check(
    studies: dict[str, tuple[str, StudyFile]],
    patients: dict[str, tuple[str, list[Patient]]],
) -> list[Issue]:
    """Check the rules no single record can check on its own.

    - stratum ids unique within a study, reported entries unique by (key, location);
    - a DOI or PMID used by one study only;
    - at most one pooled study per overlap group (two reports of the same patients);
    - every patient file named after, and every patient row pointing to, a known study;
      patient numbers unique within a study.
    """
    issues: list[Issue] = []
    for file, record in studies.values():
        for i, n in _duplicates([s.id for s in record.strata]):
            issues.append(Issue(file, f"strata[{i}]", "id", f"duplicate stratum id {n!r}"))
        keys = [(r.key, r.location) for r in record.reported]
        for i, (key, where) in _duplicates(keys):
            issues.append(
                Issue(file, f"reported[{i}]", "key", f"{key!r} at {where!r} is given twice")
            )

    # One publication may hold two records (a cohort and the literature review printed with it)
    # only when they can never be pooled together: same overlap group, or one is secondary.
    for attr in ("doi", "pmid"):
        seen: dict[str, str] = {}
        for sid, (file, record) in sorted(studies.items()):
            value = getattr(record.study, attr)
            if value is None:
                continue
            norm = str(value).strip().lower()
            first = seen.setdefault(norm, sid)
            group = record.study.overlap_group
            other = studies[first][1].study
            shared = group is not None and group == other.overlap_group
            secondary = "secondary" in (record.study.role, other.role)
            if first != sid and not (shared or secondary):
                issues.append(
                    Issue(
                        file,
                        "study",
                        attr,
                        f"{attr} {value} is also used by {first} (allowed only within one "
                        "overlap group or for a secondary record)",
                    )
                )

    pooled: dict[str, list[str]] = defaultdict(list)
    for sid, (_, record) in sorted(studies.items()):
        if record.study.overlap_group and record.study.pool:
            pooled[record.study.overlap_group].append(sid)
    for group, members in pooled.items():
        for sid in members[1:]:
            issues.append(
                Issue(
                    studies[sid][0],
                    "study",
                    "pool",
                    f"overlap group {group!r} is already pooled through {members[0]}: "
                    "set pool: false on one of them",
                )
            )

    for stem, (file, rows) in patients.items():
        if stem not in studies:
            issues.append(Issue(file, "", "", f"no study file studies/{stem}.yaml for this table"))
        for index, patient in enumerate(rows):
            if patient.study != stem:
                issues.append(
                    Issue(file, f"row {index + 2}", "study", f"{patient.study!r} != file {stem!r}")
                )
        for i, n in _duplicates([p.patient for p in rows]):
            issues.append(Issue(file, f"row {i + 2}", "patient", f"duplicate patient {n}"))
    return issues


def _duplicates(values: list) -> list[tuple[int, object]]:
    counts = Counter(values)
    seen: set = set()
    found = []
    for i, value in enumerate(values):
        if counts[value] > 1 and value in seen:
            found.append((i, value))
        seen.add(value)
    return found
