"""Rules that span records: ids, overlaps and links between patients, strata and studies."""

from __future__ import annotations

from collections import Counter, defaultdict

from hlhbayes.evidence.identifiers import IDENTIFIER_KEYS
from hlhbayes.evidence.issues import Issue
from hlhbayes.evidence.schema import TIMEFRAMES, Patient, StudyFile
from hlhbayes.quoting import quoted


def cross_check(
    studies: dict[str, tuple[str, StudyFile]],
    patients: dict[str, tuple[str, list[Patient]]],
    row_numbers: dict[str, list[int]] | None = None,
) -> list[Issue]:
    """Check the rules no single record can check on its own.

    - stratum ids unique within a study, reported entries unique by (key, location);
    - a DOI or PMID used by one study only;
    - at most one pooled study per overlap group (two reports of the same patients);
    - every patient file named after, and every patient row pointing to, a known study;
      patient numbers unique within a study;
    - a study with patient rows says when their deaths were counted (``patient_death_timeframe``).

    ``row_numbers`` gives the spreadsheet row of each patient per table (default: its index + 2,
    right only when no row of the table failed validation).
    """
    issues: list[Issue] = []
    for file, record in studies.values():
        for i, n in _duplicates([s.id for s in record.strata]):
            issues.append(Issue(file, f"strata[{i}]", "id", f"duplicate stratum id {quoted(n)}"))
        keys = [(r.key, r.location) for r in record.reported]
        for i, (key, where) in _duplicates(keys):
            issues.append(
                Issue(
                    file,
                    f"reported[{i}]",
                    "key",
                    f"{quoted(key)} at {quoted(where)} is given twice",
                )
            )

    # One publication may hold two records (a cohort and the literature review printed with it)
    # only when they can never be pooled together: same overlap group, or one is secondary.
    # Each study is compared with every earlier one (not only the first) that uses the value.
    for attr in ("doi", "pmid"):
        seen: dict[str | int, list[str]] = {}
        for sid, (file, record) in sorted(studies.items()):
            value = getattr(record.study, attr)
            if value is None:
                continue
            norm = IDENTIFIER_KEYS[attr](value)
            group = record.study.overlap_group
            for first in seen.setdefault(norm, []):
                other = studies[first][1].study
                shared = group is not None and group == other.overlap_group
                secondary = "secondary" in (record.study.role, other.role)
                if not (shared or secondary):
                    issues.append(
                        Issue(
                            file,
                            "study",
                            attr,
                            f"{attr} {_shown(value)} is also used by {first} (allowed only within one "
                            "overlap group or for a secondary record)",
                        )
                    )
                    break
            seen[norm].append(sid)

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
                    f"overlap group {quoted(group)} is already pooled through {members[0]}: "
                    "set pool: false on one of them",
                )
            )

    for stem, (file, rows) in patients.items():
        numbers = (row_numbers or {}).get(stem) or [i + 2 for i in range(len(rows))]
        if stem not in studies:
            issues.append(Issue(file, "", "", f"no study file studies/{stem}.yaml for this table"))
        elif studies[stem][1].study.patient_death_timeframe is None:
            issues.append(
                Issue(
                    studies[stem][0],
                    "study",
                    "patient_death_timeframe",
                    f"the study has patient rows ({file}): say when their deaths were counted, "
                    f"one of {', '.join(TIMEFRAMES)}",
                )
            )
        for number, patient in zip(numbers, rows, strict=True):
            if patient.study != stem:
                issues.append(
                    Issue(
                        file,
                        f"row {number}",
                        "study",
                        f"{quoted(patient.study)} != file {quoted(stem)}",
                    )
                )
        for i, n in _duplicates([p.patient for p in rows]):
            issues.append(Issue(file, f"row {numbers[i]}", "patient", f"duplicate patient {n}"))
    return issues


def _shown(identifier: str | int) -> str:
    """A DOI (unbounded text) quoted and capped; a PMID (at most 9 digits) as it is."""
    return quoted(identifier) if not str(identifier).isdigit() else str(identifier)


def _duplicates(values: list) -> list[tuple[int, object]]:
    counts = Counter(values)
    seen: set = set()
    found = []
    for i, value in enumerate(values):
        if counts[value] > 1 and value in seen:
            found.append((i, value))
        seen.add(value)
    return found
