"""Read and validate the evidence base from disk.

``data/studies/<ID>.yaml`` holds a study with its reported aggregates and strata;
``data/patients/<ID>.csv`` holds individual patient rows. :func:`load_evidence` reads both,
validates every record against :mod:`hlhbayes.evidence.schema`, runs the cross-record rules of
:mod:`hlhbayes.evidence.validate`, and either returns an :class:`EvidenceBase` or raises
:class:`EvidenceError` listing every issue with its file, row and field.

The base is read while holding its lock (:func:`base_guard`): never in the middle of a
``data add``, and a change that a killed ``data add`` left unfinished is undone first.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from contextlib import nullcontext
from pathlib import Path

from pydantic import ValidationError

from hlhbayes.evidence.base import EvidenceBase
from hlhbayes.evidence.issues import EvidenceError, Issue, issues_from_pydantic
from hlhbayes.evidence.schema import PATIENT_COLUMNS, Patient, StudyFile
from hlhbayes.evidence.validate import cross_check
from hlhbayes.evidence.yaml_input import YamlInputError, load_yaml
from hlhbayes.inputs import InputFileError, read_text_input
from hlhbayes.locking import Guard, hold, leftovers
from hlhbayes.quoting import cut_line, field_label, quoted
from hlhbayes.workspace import evidence_source

STUDIES_DIR = "studies"
PATIENTS_DIR = "patients"


def default_data_dir() -> Path:
    """The evidence base to use when none is given.

    ``$HLHBAYES_DATA`` if set, else the workspace's, else the shipped one
    (:func:`hlhbayes.workspace.evidence_source`).
    """
    return evidence_source().path


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def parse_study_text(text: str, file: str) -> tuple[StudyFile | None, list[Issue]]:
    """Parse and validate the YAML text of one study file."""
    try:
        raw = load_yaml(text)
    except YamlInputError as exc:
        return None, [Issue(file, exc.row, exc.field, exc.message)]
    if not isinstance(raw, dict):
        return None, [Issue(file, "", "", "expected a mapping with keys study, reported, strata")]
    # every section is written, even empty ([]): a file cut short after a section is refused
    missing = [
        Issue(file, "", key, "section missing (write [] if there is none; is the file cut short?)")
        for key in ("reported", "strata")
        if key not in raw
    ]
    try:
        record = StudyFile.model_validate(raw)
    except ValidationError as exc:
        return None, missing + issues_from_pydantic(file, exc.errors())
    return (None, missing) if missing else (record, [])


def parse_patients_text(text: str, file: str) -> tuple[list[Patient], list[Issue]]:
    """Parse and validate the CSV text of one patient table (empty cells are missing)."""
    numbered, issues = _parse_patient_rows(text, file)
    return [p for _, p in numbered], issues


def _parse_patient_rows(text: str, file: str) -> tuple[list[tuple[int, Patient]], list[Issue]]:
    """Like :func:`parse_patients_text`, with the spreadsheet row of each valid patient.

    The CSV dialect is strict (a stray or unterminated quote is an error), and a row with fewer
    or more cells than the header, as a file cut short leaves its last row, is an issue.
    """
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, [])
    except csv.Error as exc:
        return [], [Issue(file, "header", "", f"not valid CSV: {cut_line(exc)}")]
    issues = [
        Issue(file, "header", field_label(col), "unknown column")
        for col in header
        if col not in PATIENT_COLUMNS
    ]
    issues += [
        Issue(file, "header", col, "missing column")
        for col in PATIENT_COLUMNS
        if col not in header and col != "judgement"
    ]
    issues += [
        Issue(file, "header", col, "column given twice")
        for col in PATIENT_COLUMNS
        if header.count(col) > 1
    ]
    if issues:
        return [], issues
    patients = []
    number = reader.line_num
    try:
        for cells in reader:
            # the physical line (header = 1), so blank lines, which are skipped, still count
            number = reader.line_num
            line = f"row {number}"
            if not cells:
                continue
            if len(cells) != len(header):
                issues.append(_ragged(file, line, cells, header))
                continue
            values = {
                k: (v.strip() if v.strip() else None) for k, v in zip(header, cells, strict=True)
            }
            try:
                patients.append((number, Patient.model_validate(values)))
            except ValidationError as exc:
                issues += issues_from_pydantic(file, exc.errors(), row_of=lambda _r, ln=line: ln)
    except csv.Error as exc:  # the row after the last one read
        issues.append(Issue(file, f"row {number + 1}", "", f"not valid CSV: {cut_line(exc)}"))
    return patients, issues


def _ragged(file: str, line: str, cells: list[str], header: list[str]) -> Issue:
    counts = f"the row has {len(cells)} cells, the header {len(header)}"
    if len(cells) > len(header):
        return Issue(file, line, "", f"more cells than columns: {counts}")
    return Issue(file, line, header[len(cells)], f"missing: {counts} (is the file cut short?)")


def read_records(
    root: Path,
    row_numbers: dict[str, list[int]] | None = None,
    overlay: Mapping[Path, tuple[str, str]] | None = None,
) -> tuple[dict[str, tuple[str, StudyFile]], dict[str, tuple[str, list[Patient]]], list[Issue]]:
    """Read every study and patient file under ``root`` without cross-checking them.

    ``row_numbers``, when given, receives the spreadsheet row of each valid patient per table
    (rows that failed validation are left out of the patients, so their index is not their row).
    ``overlay``: files of the base read from memory instead of the disk (path under ``root`` ->
    text, and the name its issues give), as if they were written there.
    """
    issues: list[Issue] = []
    studies: dict[str, tuple[str, StudyFile]] = {}
    patients: dict[str, tuple[str, list[Patient]]] = {}
    overlay = overlay or {}
    studies_dir = root / STUDIES_DIR
    if not studies_dir.is_dir():
        raise EvidenceError([Issue(_display(root), "", "", f"no {STUDIES_DIR}/ folder here")])

    def files(folder: Path, pattern: str) -> list[Path]:
        return sorted(set(folder.glob(pattern)) | {p for p in overlay if p.parent == folder})

    def text_of(path: Path) -> tuple[str | None, str]:
        if path in overlay:
            return overlay[path]
        file = _display(path)
        return read_input(path, file, issues), file

    for path in files(studies_dir, "*.yaml"):
        text, file = text_of(path)
        if text is None:
            continue
        record, found = parse_study_text(text, file)
        issues += found
        if record is None:
            continue
        if record.study.id != path.stem:
            issues.append(Issue(file, "study", "id", f"id {quoted(record.study.id)} != file name"))
        if record.study.id in studies:
            issues.append(
                Issue(file, "study", "id", f"duplicate study id {quoted(record.study.id)}")
            )
            continue
        studies[record.study.id] = (file, record)
    for path in files(root / PATIENTS_DIR, "*.csv"):
        text, file = text_of(path)
        if text is None:
            continue
        numbered, found = _parse_patient_rows(text, file)
        issues += found
        patients[path.stem] = (file, [p for _, p in numbered])
        if row_numbers is not None:
            row_numbers[path.stem] = [n for n, _ in numbered]
    return studies, patients, issues


def read_input(path: Path, file: str, issues: list[Issue]) -> str | None:
    """The text of an input file, or ``None`` with the reason (located) added to ``issues``."""
    try:
        return read_text_input(path, file)
    except InputFileError as exc:
        issues.append(Issue(exc.file, exc.row, "", exc.message))
        return None


def base_guard(root: Path) -> Guard:
    """The lock, journal and leftover places of the evidence base under ``root``."""
    return Guard.inside(Path(root), (STUDIES_DIR, PATIENTS_DIR))


def base_leftovers(root: Path) -> list[Path]:
    """Temporary files an interrupted command left in the base (hidden, ending in .hlhbayes)."""
    return leftovers(base_guard(root))


def load_evidence(
    root: Path | str | None = None, overlay: Mapping[Path, tuple[str, str]] | None = None
) -> EvidenceBase:
    """Load, validate and cross-check the evidence base under ``root``.

    ``overlay``: files read from memory instead of the disk (see :func:`read_records`): the
    base as it would be with them written.

    Raises
    ------
    EvidenceError
        With every issue found, each located by file, row and field.
    """
    root = Path(root) if root is not None else default_data_dir()
    row_numbers: dict[str, list[int]] = {}
    # a folder that is not a base gets no lock file: read_records says what it lacks
    guard = hold(base_guard(root), reading=True) if (root / STUDIES_DIR).is_dir() else nullcontext()
    with guard:
        studies, patients, issues = read_records(root, row_numbers, overlay)
    issues += cross_check(studies, patients, row_numbers)
    if issues:
        raise EvidenceError(issues)
    return EvidenceBase(
        root=root,
        studies={sid: rec for sid, (_, rec) in studies.items()},
        patients=[p for _, (_, rows) in sorted(patients.items()) for p in rows],
    )
