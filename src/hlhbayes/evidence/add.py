"""Add a new study (and optionally its patient table) to the evidence base, atomically.

:func:`add_study` does it all while holding the lock of the base
(:func:`~hlhbayes.evidence.load.base_guard`), so that no other command changes the base between
the checks and the writing: :func:`plan_addition` checks the new files against the base and
validates the base as it would be with them (read from memory: the ``overlay`` of
:func:`~hlhbayes.evidence.load.load_evidence`); :func:`apply_addition` then writes them as one
change with a journal (:mod:`hlhbayes.journal`): both files or neither, also if the process is
killed between them. A failure at any point leaves ``data/`` byte-identical to what it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from hlhbayes.atomic import write_atomically
from hlhbayes.evidence.identifiers import IDENTIFIER_KEYS
from hlhbayes.evidence.issues import EvidenceError, Issue
from hlhbayes.evidence.load import (
    PATIENTS_DIR,
    STUDIES_DIR,
    base_guard,
    load_evidence,
    parse_patients_text,
    parse_study_text,
    read_input,
)
from hlhbayes.evidence.plausibility import plausibility_warnings
from hlhbayes.evidence.yaml_input import load_yaml
from hlhbayes.locking import hold
from hlhbayes.quoting import quoted


@dataclass
class AddPlan:
    """What an addition will write (or wrote), with notices and warnings for the user.

    ``warnings`` are the new study's plausibility warnings: figures kept as printed that a
    reviewer should check.
    """

    study_id: str
    root: Path
    writes: dict[Path, bytes] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    content_hash: str = ""


def add_study(
    root: Path,
    study_file: Path,
    patients_file: Path | None = None,
    *,
    replace: bool = False,
    allow_overlap: bool = False,
    dry_run: bool = False,
) -> AddPlan:
    """Check the new study against the base under ``root`` and (unless ``dry_run``) add it.

    One locked section: the checks of :func:`plan_addition` and the writing of
    :func:`apply_addition` see the same base. Returns the plan (what was, or would be, written).
    """
    with hold(base_guard(root)):
        plan = plan_addition(
            root, study_file, patients_file, replace=replace, allow_overlap=allow_overlap
        )
        if not dry_run:
            apply_addition(plan)
    return plan


def plan_addition(
    root: Path,
    study_file: Path,
    patients_file: Path | None = None,
    *,
    replace: bool = False,
    allow_overlap: bool = False,
) -> AddPlan:
    """Validate a new study against the base under ``root`` and return what to write.

    Refuses (``EvidenceError``) a study id or DOI / PMID already in the base unless
    ``replace`` (same id), and a pooled study in an overlap group that is already pooled unless
    ``allow_overlap`` (the study is then added with ``pool: false``).
    """
    root = Path(root)
    base = load_evidence(root)
    issues: list[Issue] = []
    text = read_input(study_file, str(study_file), issues)
    record, found = parse_study_text(text, str(study_file)) if text is not None else (None, [])
    issues += found
    ptext = None
    if patients_file is not None:  # checked now, so that every problem is listed at once
        ptext = read_input(patients_file, str(patients_file), issues)
        if ptext is not None:
            issues += parse_patients_text(ptext, str(patients_file))[1]
    if record is None or text is None:
        raise EvidenceError(issues)
    study = record.study
    new_file = str(study_file)
    plan = AddPlan(study.id, root)

    if study.id in base.studies and not replace:
        issues.append(
            Issue(
                new_file,
                "study",
                "id",
                f"study {quoted(study.id)} exists; use --replace to replace it",
            )
        )
    for attr in ("doi", "pmid"):
        value = getattr(study, attr)
        if value is None:
            continue
        for other_id, other in base.studies.items():
            other_value = getattr(other.study, attr)
            key = IDENTIFIER_KEYS[attr]  # doi:, https://doi.org/, PMID: and zeros stripped
            same = other_value is not None and key(other_value) == key(value)
            if same and other_id != study.id:
                issues.append(
                    Issue(
                        new_file,
                        "study",
                        attr,
                        f"{attr} {value if attr == 'pmid' else quoted(value)} is already study "
                        f"{other_id}",
                    )
                )
    if study.overlap_group and study.pool:
        pooled = [
            sid
            for sid, other in base.studies.items()
            if sid != study.id
            and other.study.overlap_group == study.overlap_group
            and other.study.pool
        ]
        if pooled and not allow_overlap:
            issues.append(
                Issue(
                    new_file,
                    "study",
                    "overlap_group",
                    f"overlap group {quoted(study.overlap_group)} is already pooled through "
                    f"{pooled[0]}; use --allow-overlap to add this study unpooled",
                )
            )
        elif pooled:
            raw = load_yaml(text)
            raw["study"]["pool"] = False
            raw["study"]["exclusion_reason"] = (
                f"overlaps with {pooled[0]} (group {study.overlap_group}); added unpooled"
            )
            text = yaml.safe_dump(raw, sort_keys=False, allow_unicode=True)
            plan.notices.append(f"{study.id} overlaps with {pooled[0]}: added with pool: false")
    if issues:
        raise EvidenceError(issues)

    # the base as it will be: its files, with the new ones in their places (read from memory)
    overlay: dict[Path, tuple[str, str]] = {}
    target = root / STUDIES_DIR / f"{study.id}.yaml"
    plan.writes[target], overlay[target] = text.encode("utf-8"), (text, new_file)
    if patients_file is not None and ptext is not None:
        target = root / PATIENTS_DIR / f"{study.id}.csv"
        plan.writes[target] = ptext.encode("utf-8")
        overlay[target] = (ptext, str(patients_file))
    added = load_evidence(root, overlay)
    plan.content_hash = added.content_hash
    mine = (f"{STUDIES_DIR}/{study.id}.yaml", f"{PATIENTS_DIR}/{study.id}.csv")
    for warning in plausibility_warnings(added):
        if warning.file in mine:
            plan.warnings.append(str(warning))
    return plan


def apply_addition(plan: AddPlan) -> None:
    """Write the planned files as one change: all of them, or (after any failure or a kill) none.

    Takes the lock of the base for the writing; :func:`add_study` holds it from the checks on.
    Stale temporary files of an interrupted command are removed first.
    """
    guard = base_guard(plan.root)
    with hold(guard, tidy=True):
        write_atomically(plan.writes, journal=guard.journal)
