"""``hlhbayes data add``: checks before writing, refusals, and atomic writes.

The study added is the worked example of README.md (tests/fixtures/example_study.yaml with
tests/fixtures/example_patients.csv).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conftest import file_counts, snapshot
from hlhbayes import journal
from hlhbayes.cli import main
from hlhbayes.evidence import EvidenceBase, load_evidence
from hlhbayes.evidence.add import apply_addition, plan_addition

FIXTURES = Path(__file__).resolve().parent / "fixtures"
STUDY = FIXTURES / "example_study.yaml"
PATIENTS = FIXTURES / "example_patients.csv"
README = Path(__file__).resolve().parents[1] / "README.md"


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def variant(tmp_path: Path, name: str, *edits: tuple[str, str], source: Path = STUDY) -> Path:
    """A copy of an example file with each (old, new) text replaced exactly once."""
    text = source.read_text(encoding="utf-8")
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def targets(root: Path) -> tuple[Path, Path]:
    return root / "studies" / "Example2024.yaml", root / "patients" / "Example2024.csv"


def stray_files(root: Path) -> list[str]:
    """Temporary or backup files left by a write (their names start with a dot)."""
    return sorted(str(p.relative_to(root)) for p in root.rglob(".*"))


# --------------------------------------------------------------------------------------------
# A valid study


def test_add_a_study_with_patients(data_copy: Path, shipped: EvidenceBase) -> None:
    before = snapshot(data_copy)
    result = run("data", "add", STUDY, "--patients", PATIENTS, "--data", data_copy)
    assert result.exit_code == 0, result.output
    study_path, patients_path = targets(data_copy)
    base = load_evidence(data_copy)
    assert result.stdout == (
        f"added Example2024: wrote {study_path}, {patients_path}\n"
        f"content hash: {base.content_hash}\n"
    )
    assert result.stderr == ""
    # the new files are the given files, byte for byte; nothing else changed
    assert study_path.read_bytes() == STUDY.read_bytes()
    assert patients_path.read_bytes() == PATIENTS.read_bytes()
    after = snapshot(data_copy)
    assert set(after) - set(before) == {"studies/Example2024.yaml", "patients/Example2024.csv"}
    assert all(after[name] == content for name, content in before.items())
    # the base still validates, with the new study, and its hash has changed
    studies, strata, patients = file_counts(data_copy)  # the example adds 1, 2 and 3 of them
    assert (studies, strata, patients) == (
        len(shipped.studies) + 1,
        sum(len(s.strata) for s in shipped.studies.values()) + 2,
        len(shipped.patients) + 3,
    )
    assert len(base.studies) == studies and len(base.patients) == patients
    assert [s.id for s in base.study("Example2024").strata] == ["response-others", "deaths-others"]
    assert base.content_hash != shipped.content_hash
    validated = run("data", "validate", data_copy)
    assert validated.exit_code == 0
    assert validated.stdout.splitlines() == [
        f"ok: {studies} studies, {strata} strata, {patients} patients in {data_copy}",
        f"content hash: {base.content_hash}",
    ]


def test_add_a_study_without_patients(data_copy: Path, shipped: EvidenceBase) -> None:
    result = run("data", "add", STUDY, "--data", data_copy)
    assert result.exit_code == 0, result.output
    study_path, patients_path = targets(data_copy)
    assert result.stdout.splitlines()[0] == f"added Example2024: wrote {study_path}"
    assert study_path.exists() and not patients_path.exists()
    assert len(load_evidence(data_copy).studies) == len(shipped.studies) + 1


def test_dry_run_writes_nothing(data_copy: Path, tmp_path: Path) -> None:
    before = snapshot(data_copy)
    result = run("data", "add", STUDY, "--patients", PATIENTS, "--data", data_copy, "--dry-run")
    assert result.exit_code == 0, result.output
    assert snapshot(data_copy) == before
    study_path, patients_path = targets(data_copy)
    lines = result.stdout.splitlines()
    assert lines[0] == f"dry run: Example2024 is valid; would write {study_path}, {patients_path}"
    predicted = re.fullmatch(r"content hash after: ([0-9a-f]{64})", lines[1])
    assert predicted and len(lines) == 2
    # the hash announced is the hash the base has once the study is really added
    assert run("data", "add", STUDY, "--patients", PATIENTS, "--data", data_copy).exit_code == 0
    assert load_evidence(data_copy).content_hash == predicted.group(1)


# --------------------------------------------------------------------------------------------
# Refusals


def test_duplicate_id_is_refused_unless_replace(data_copy: Path, tmp_path: Path) -> None:
    assert run("data", "add", STUDY, "--patients", PATIENTS, "--data", data_copy).exit_code == 0
    before = snapshot(data_copy)
    result = run("data", "add", STUDY, "--data", data_copy)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "error: 1 problem found:\n"
        f"{STUDY}: study: id: study 'Example2024' exists; use --replace to replace it\n"
    )
    assert snapshot(data_copy) == before
    # --replace: the study file is replaced, the patient table kept
    changed = variant(tmp_path, "changed.yaml", ("    events: 3\n", "    events: 4\n"))
    result = run("data", "add", changed, "--data", data_copy, "--replace")
    assert result.exit_code == 0, result.output
    study_path, patients_path = targets(data_copy)
    assert study_path.read_bytes() == changed.read_bytes()
    assert patients_path.read_bytes() == PATIENTS.read_bytes()
    assert load_evidence(data_copy).study("Example2024").strata[0].events == 4


def test_duplicate_doi_is_refused(data_copy: Path, tmp_path: Path) -> None:
    before = snapshot(data_copy)
    path = variant(tmp_path, "doi.yaml", ("  doi: null\n", "  doi: 10.3390/JCM11195799\n"))
    result = run("data", "add", path, "--data", data_copy)
    assert result.exit_code == 1
    assert result.stderr == (
        "error: 1 problem found:\n"
        f"{path}: study: doi: doi '10.3390/JCM11195799' is already study Baverez2022\n"
    )
    assert snapshot(data_copy) == before
    # --replace does not help: the DOI belongs to another study
    assert run("data", "add", path, "--data", data_copy, "--replace").exit_code == 1
    path = variant(tmp_path, "pmid.yaml", ("  pmid: null\n", "  pmid: 36233667\n"))
    result = run("data", "add", path, "--data", data_copy)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[1] == (
        f"{path}: study: pmid: pmid 36233667 is already study Baverez2022"
    )
    assert snapshot(data_copy) == before


def test_overlap_conflict_is_refused_unless_allowed(data_copy: Path, tmp_path: Path) -> None:
    before = snapshot(data_copy)
    group = "alberta-prmas-2006-2009"  # already pooled through PedRheum2008_S13
    path = variant(tmp_path, "overlap.yaml", ("overlap_group: null", f"overlap_group: {group}"))
    result = run("data", "add", path, "--data", data_copy)
    assert result.exit_code == 1
    assert result.stderr == (
        "error: 1 problem found:\n"
        f"{path}: study: overlap_group: overlap group '{group}' is already pooled through "
        "PedRheum2008_S13; use --allow-overlap to add this study unpooled\n"
    )
    assert snapshot(data_copy) == before
    result = run("data", "add", path, "--data", data_copy, "--allow-overlap")
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        "note: Example2024 overlaps with PedRheum2008_S13: added with pool: false\n"
    )
    study = load_evidence(data_copy).study("Example2024").study
    assert study.pool is False
    assert study.overlap_group == group
    assert (
        study.exclusion_reason == f"overlaps with PedRheum2008_S13 (group {group}); added unpooled"
    )
    assert run("data", "validate", data_copy).exit_code == 0


def test_malformed_files_are_refused_with_every_issue_located(
    data_copy: Path, tmp_path: Path
) -> None:
    before = snapshot(data_copy)
    study = variant(
        tmp_path,
        "bad.yaml",
        ("  population: adult\n", "  population: elderly\n"),
        ("    timeframe: 30_day\n", "    timeframe: 30_day\n    colour: red\n"),
        (
            "    etiology: {infection: 3, malignancy: 2}\n    line: {first",
            "    etiology: 5\n    line: {first",
        ),
    )
    patients = variant(
        tmp_path,
        "bad.csv",
        ("Example2024,2,67,M,", "Example2024,2,67,X,"),
        (",alone,Yes,1,,0,", ",alone,Yes,yes,,0,"),
        source=PATIENTS,
    )
    result = run("data", "add", study, "--patients", patients, "--data", data_copy)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: 5 problems found:",
        f"{patients}: row 3: sex: Input should be 'M' or 'F' (got 'X')",
        f"{patients}: row 4: response: Input should be a valid integer, unable to parse string "
        "as an integer (got 'yes')",
        f"{study}: strata[0]: etiology: Input should be a valid dictionary (got 5)",
        f"{study}: strata[1]: colour: Extra inputs are not permitted (got 'red')",
        f"{study}: study: population: Input should be 'adult', 'pediatric' or 'mixed' "
        "(got 'elderly')",
    ]
    assert snapshot(data_copy) == before


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("    events: 3\n", "    events: 9\n"), "strata[0]: events: events (9) > total (5)"),
        (
            ("    events: 3\n    total: 5\n", "    events: 3\n    total: -5\n"),
            "strata[0]: total: Input should be greater than 0",
        ),
        (
            ("  condition: classic_shlh\n", "  condition: hlh\n"),
            "study: condition: Input should be",
        ),
        (
            ("    definition: mortality\n", "    definition: death\n"),
            "strata[1]: definition: Input",
        ),
        (("  pool: true\n", "  pool: false\n"), "study: exclusion_reason: pool: false needs an"),
        (
            ("study:\n", "study:\n  funding: none\n"),
            "study: funding: Extra inputs are not permitted",
        ),
        (("  year: 2024\n", "  year: [2024\n"), "line 6: not valid YAML"),
    ],
)
def test_one_problem_in_the_study_file(
    data_copy: Path, tmp_path: Path, edit: tuple[str, str], message: str
) -> None:
    before = snapshot(data_copy)
    path = variant(tmp_path, "one.yaml", edit)
    result = run("data", "add", path, "--patients", PATIENTS, "--data", data_copy)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == "error: 1 problem found:"
    assert lines[1].startswith(f"{path}: {message}")
    assert len(lines) == 2
    assert snapshot(data_copy) == before


def test_patient_rows_of_another_study_name_the_users_file(
    data_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(data_copy)
    patients = variant(tmp_path, "other.csv", ("Example2024,3,", "Other2024,3,"), source=PATIENTS)
    monkeypatch.chdir(tmp_path)  # the loader shows paths relative to the working directory
    result = run("data", "add", STUDY, "--patients", patients, "--data", data_copy)
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: 1 problem found:\n{patients}: row 4: study: 'Other2024' != file 'Example2024'\n"
    )
    assert snapshot(data_copy) == before


def test_a_missing_file_is_a_usage_error(data_copy: Path, tmp_path: Path) -> None:
    result = run("data", "add", tmp_path / "nope.yaml", "--data", data_copy)
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


# --------------------------------------------------------------------------------------------
# Atomicity


def failing_on(monkeypatch: pytest.MonkeyPatch, name: str, call: int) -> list[int]:
    """Make ``os.<name>`` (as hlhbayes.journal sees it) raise on its ``call``-th call.

    ``replace``: the calls that move a file to a study or patient file are counted (not those
    of the journal, a hidden file); ``fsync``: every call (the new files are flushed first).
    """
    real = getattr(journal.os, name)
    calls: list[int] = []

    def fake(*args, **kwargs):
        if name == "replace" and Path(args[1]).name.startswith("."):
            return real(*args, **kwargs)
        calls.append(1)
        if len(calls) == call:
            raise OSError(f"simulated failure of {name}")
        return real(*args, **kwargs)

    monkeypatch.setattr(journal.os, name, fake)
    return calls


@pytest.mark.parametrize(
    ("name", "call"),
    [
        pytest.param("replace", 2, id="second file fails to move into place"),
        pytest.param("replace", 1, id="first file fails to move into place"),
        pytest.param("fsync", 1, id="first file fails to be written"),
        pytest.param("fsync", 2, id="second file fails to be written"),
    ],
)
def test_a_failed_addition_leaves_data_byte_identical(
    data_copy: Path, monkeypatch: pytest.MonkeyPatch, name: str, call: int
) -> None:
    before = snapshot(data_copy)
    calls = failing_on(monkeypatch, name, call)
    result = run("data", "add", STUDY, "--patients", PATIENTS, "--data", data_copy)
    assert result.exit_code == 1
    assert result.stderr == f"error: simulated failure of {name}\n"  # one line, no traceback
    assert len(calls) >= call
    assert snapshot(data_copy) == before  # same files, same bytes: no temp or backup left
    assert stray_files(data_copy) == []


def test_a_failed_replacement_restores_both_files(
    data_copy: Path, shipped: EvidenceBase, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # replace Baverez2022's study file and patient table; the second move fails after the first
    # file was already replaced, which must be put back from its backup
    study = variant(
        tmp_path,
        "Baverez2022.yaml",
        ("  country: France\n", "  country: FR\n"),
        source=data_copy / "studies" / "Baverez2022.yaml",
    )
    patients = variant(
        tmp_path,
        "Baverez2022.csv",
        ("Baverez2022,7,20,M,", "Baverez2022,7,21,M,"),
        source=data_copy / "patients" / "Baverez2022.csv",
    )
    plan = plan_addition(data_copy, study, patients, replace=True)
    assert plan.content_hash != shipped.content_hash
    before = snapshot(data_copy)
    calls = failing_on(monkeypatch, "replace", 2)
    with pytest.raises(OSError, match="simulated failure of replace"):
        apply_addition(plan)
    assert len(calls) == 3  # two moves into place, then one move back from the backup
    assert snapshot(data_copy) == before
    assert stray_files(data_copy) == []
    monkeypatch.undo()
    apply_addition(plan)
    assert load_evidence(data_copy).content_hash == plan.content_hash
    assert stray_files(data_copy) == []


# --------------------------------------------------------------------------------------------
# The README example is the one tested here


def readme_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## Adding a study\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_readme_example_is_the_tested_example() -> None:
    section = readme_section()
    blocks = re.findall(r"```(\w+)\n(.*?)```", section, flags=re.DOTALL)
    by_language = {}
    for language, body in blocks:
        by_language.setdefault(language, []).append(body)
    assert by_language["yaml"] == [STUDY.read_text(encoding="utf-8")]
    assert by_language["csv"] == [PATIENTS.read_text(encoding="utf-8")]
    commands = "".join(by_language["sh"])
    assert (
        "hlhbayes data add example_study.yaml --patients example_patients.csv --dry-run" in commands
    )
    assert "hlhbayes data add example_study.yaml --patients example_patients.csv\n" in commands


def test_readme_example_output(data_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the README shows the output in a workspace at /path/to/my-review
    monkeypatch.chdir(FIXTURES)
    args = ["data", "add", "example_study.yaml", "--patients", "example_patients.csv"]
    section = readme_section()
    result = run(*args, "--data", data_copy)
    assert result.exit_code == 0, result.output
    added, hash_line = result.stdout.replace(str(data_copy), "/path/to/my-review/data").splitlines()
    assert f"\n{added}\n" in section
    assert hash_line.startswith("content hash: ")
    assert "\ncontent hash: <SHA-256 of the evidence base with the new study>\n" in section
    again = run(*args, "--data", data_copy)
    assert again.exit_code == 1
    assert f"```text\n{again.stderr}```" in section
