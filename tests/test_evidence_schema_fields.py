"""Field rules against careless and hostile values: bounded counts, finite numbers, DOIs and
PMIDs in one form, http(s)-only addresses, no control characters, and files cut short.

Each case is a change to the README's example study (or its patients CSV) given to
``data add``; each must be refused with one located line and leave the base as it was.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conftest import snapshot
from hlhbayes.cli import main
from hlhbayes.evidence import load_evidence
from hlhbayes.evidence.identifiers import doi_key, normalise_doi, normalise_pmid, pmid_key
from hlhbayes.evidence.schema import MAX_COUNT, MAX_REPORTED

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SECTION_MISSING = "section missing (write [] if there is none; is the file cut short?)"
STUDY = FIXTURES / "example_study.yaml"
PATIENTS = FIXTURES / "example_patients.csv"


def run(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def variant(tmp_path: Path, *edits: tuple[str, str], source: Path = STUDY) -> Path:
    text = source.read_text(encoding="utf-8")
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = tmp_path / f"changed{source.suffix}"
    path.write_text(text, encoding="utf-8")
    return path


def refused(data: Path, study: Path, patients: Path | None = None) -> list[str]:
    """``data add`` is refused: the problem lines (after the count), base unchanged."""
    before = snapshot(data)
    args = ["data", "add", study, "--data", data]
    if patients is not None:
        args += ["--patients", patients]
    result = run(*args)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert snapshot(data) == before
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: ") and lines[0].endswith("found:")
    return lines[1:]


# --- item: counts are bounded ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (str(10**40), f"Input should be less than or equal to {MAX_COUNT} (got {10**40})"),
        (str(2**63), f"Input should be less than or equal to {MAX_COUNT} (got {2**63})"),
        (str(MAX_COUNT + 1), f"Input should be less than or equal to {MAX_COUNT}"),
        ("1.0e+30", "Input should be a valid integer (got 1e+30)"),
        (".nan", "Input should be a valid integer (got nan)"),
        (".inf", "Input should be a valid integer (got inf)"),
        ("-3", "Input should be greater than or equal to 0 (got -3)"),
    ],
)
def test_huge_or_invalid_events_are_refused(
    data_copy: Path, tmp_path: Path, value: str, message: str
) -> None:
    study = variant(tmp_path, ("    events: 3\n", f"    events: {value}\n"))
    lines = refused(data_copy, study)
    assert lines[0].startswith(f"{study}: strata[0]: events: {message}")


@pytest.mark.parametrize("value", [str(10**40), str(2**63), ".inf", "-.inf", "1.0e+30"])
def test_huge_totals_and_compositions_are_refused(
    data_copy: Path, tmp_path: Path, value: str
) -> None:
    study = variant(
        tmp_path,
        ("    events: 3\n    total: 5\n", f"    events: 3\n    total: {value}\n"),
    )
    assert any(
        line.startswith(f"{study}: strata[0]: total: ") for line in refused(data_copy, study)
    )
    study = variant(tmp_path, ("line: {first: 2, later: 3}", f"line: {{first: {value}, later: 3}}"))
    assert any(
        line.startswith(f"{study}: strata[0].line: first: ") for line in refused(data_copy, study)
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (".nan", "nan is not a finite number"),
        (".inf", "inf is not a finite number"),
        ("-.inf", "-inf is not a finite number"),
        (str(10**40), f"{10**40} is larger than {MAX_REPORTED}"),
    ],
)
def test_reported_values_are_finite_and_bounded(
    data_copy: Path, tmp_path: Path, value: str, message: str
) -> None:
    study = variant(tmp_path, ("    value: 8\n", f"    value: {value}\n"))
    assert refused(data_copy, study) == [f"{study}: reported[0]: value: {message}"]


@pytest.mark.parametrize(
    ("edit", "field", "start"),
    [
        ((",52,F,", ",nan,F,"), "age", "Input should be a finite number"),
        ((",52,F,", ",inf,F,"), "age", "Input should be a finite number"),
        ((",14,21,Alive,", f",{10**40},21,Alive,"), "anakinra_days", "Input should be less"),
        ((",14,21,Alive,", ",1e30,21,Alive,"), "anakinra_days", "Input should be"),
        (("Example2024,1,52,", f"Example2024,{10**7},52,"), "patient", "Input should be less"),
    ],
)
def test_patient_numbers_are_finite_and_bounded(
    data_copy: Path, tmp_path: Path, edit: tuple[str, str], field: str, start: str
) -> None:
    patients = variant(tmp_path, edit, source=PATIENTS)
    lines = refused(data_copy, STUDY, patients)
    assert len(lines) == 1
    assert lines[0].startswith(f"{patients}: row 2: {field}: {start}")


def test_show_json_is_strict_json_for_every_study(shipped) -> None:
    def refuse(constant: str):
        raise AssertionError(f"invalid JSON constant {constant}")

    for sid in shipped.studies:
        result = run("data", "show", sid, "--format", "json")
        assert result.exit_code == 0
        json.loads(result.stdout, parse_constant=refuse)


# --- item: DOIs and PMIDs compared in one form ---------------------------------------------------


@pytest.mark.parametrize(
    "doi",
    [
        "10.3390/jcm11195799",
        "10.3390/JCM11195799",
        "https://doi.org/10.3390/jcm11195799",
        "http://dx.doi.org/10.3390/JCM11195799",
        "https://www.doi.org/10.3390/jcm11195799",
        "doi:10.3390/jcm11195799",
        "DOI: 10.3390/jcm11195799",
        " 10.3390/jcm11195799 ",
    ],
)
def test_a_duplicate_doi_is_found_however_it_is_written(
    data_copy: Path, tmp_path: Path, doi: str
) -> None:
    study = variant(tmp_path, ("  doi: null\n", f'  doi: "{doi}"\n'))
    lines = refused(data_copy, study)
    assert len(lines) == 1
    assert lines[0].startswith(f"{study}: study: doi: doi '10.3390/")
    assert lines[0].endswith("' is already study Baverez2022")
    # and the same when two files of the base hold it (data validate)
    (data_copy / "studies" / "Example2024.yaml").write_text(study.read_text())
    result = run("data", "validate", data_copy)
    assert result.exit_code == 1
    assert "is also used by Baverez2022" in result.stderr


@pytest.mark.parametrize(
    "pmid", ["36233667", "036233667", "PMID: 36233667", "pmid:36233667", "0036233667"]
)
def test_a_duplicate_pmid_is_found_however_it_is_written(
    data_copy: Path, tmp_path: Path, pmid: str
) -> None:
    study = variant(tmp_path, ("  pmid: null\n", f'  pmid: "{pmid}"\n'))
    assert refused(data_copy, study) == [
        f"{study}: study: pmid: pmid 36233667 is already study Baverez2022"
    ]


def test_identifiers_are_kept_in_their_bare_form() -> None:
    assert normalise_doi("https://doi.org/10.1002/(SICI)1097-4636") == "10.1002/(SICI)1097-4636"
    assert doi_key("doi:10.1002/ABC") == "10.1002/abc"
    assert normalise_pmid(36233667) == 36233667
    assert normalise_pmid("PMID: 0036233667") == "36233667"
    assert pmid_key("pmid 00123") == pmid_key(123) == 123


@pytest.mark.parametrize(
    ("field", "value", "start"),
    [
        ("doi", "javascript:alert(1)", "'javascript:alert(1)' is not a DOI"),
        ("doi", "10.abc/x", "'10.abc/x' is not a DOI"),
        ("doi", "10.1000/a b", "'10.1000/a b' is not a DOI"),
        ("pmid", "abc", "'abc' is not a PMID"),
        ("pmid", "0", "'0' is not a PMID"),
        ("url", "javascript:alert(1)", "'javascript:alert(1)' is not a web address"),
        ("url", "JAVASCRIPT:alert(1)", "'JAVASCRIPT:alert(1)' is not a web address"),
        ("url", "data:text/html,<b>x</b>", "'data:text/html,<b>x</b>' is not a web address"),
        ("url", "ftp://example.org/x", "'ftp://example.org/x' is not a web address"),
        ("url", "//example.org/x", "'//example.org/x' is not a web address"),
        ("url", "https://example.org/a b", "'https://example.org/a b' is not a web address"),
        ("url", 'https://example.org/"><b>', "'https://example.org/\"><b>' is not a web address"),
    ],
)
def test_identifiers_and_addresses_of_the_wrong_form_are_refused(
    data_copy: Path, tmp_path: Path, field: str, value: str, start: str
) -> None:
    old = (
        "  url: https://example.org/hlhbayes/example2024\n"
        if field == "url"
        else f"  {field}: null\n"
    )
    study = variant(tmp_path, (old, f"  {field}: {json.dumps(value)}\n"))
    lines = refused(data_copy, study)
    assert any(line.startswith(f"{study}: study: {field}: {start}") for line in lines), lines


def test_a_stratum_source_must_be_a_web_address(data_copy: Path, tmp_path: Path) -> None:
    study = variant(
        tmp_path,
        (
            '    source: null\n    note: "The five',
            '    source: "javascript:alert(1)"\n    note: "The five',
        ),
    )
    assert refused(data_copy, study) == [
        f"{study}: strata[0]: source: 'javascript:alert(1)' is not a web address (http:// or "
        "https://, without spaces)"
    ]


# --- item: control characters ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "row", "field", "message"),
    [
        (
            "  design: retrospective case series, single centre\n",
            '  design: "retro\\0spective"\n',
            "study",
            "design",
            "a control character (U+0000) at character 6; text may not hold one",
        ),
        (
            "  design: retrospective case series, single centre\n",
            '  design: "red \\e[31m text"\n',
            "study",
            "design",
            "a control character (U+001B) at character 5; text may not hold one",
        ),
        (
            "  design: retrospective case series, single centre\n",
            '  design: "two\\nlines"\n',
            "study",
            "design",
            "a line break or tab (U+000A) at character 4; this field is one line of text",
        ),
        (
            "    location: Results paragraph 2\n",
            '    location: "abc\\u202Eevil"\n',
            "strata[0]",
            "location",
            "a control character (U+202E) at character 4; text may not hold one",
        ),
        (
            "    note: patients described one by one\n",
            '    note: "bell\\a"\n',
            "reported[1]",
            "note",
            "a control character (U+0007) at character 5; text may not hold one",
        ),
    ],
)
def test_control_characters_in_text_are_refused(
    data_copy: Path, tmp_path: Path, old: str, new: str, row: str, field: str, message: str
) -> None:
    study = variant(tmp_path, (old, new))
    assert refused(data_copy, study) == [f"{study}: {row}: {field}: {message}"]


def test_tabs_and_line_breaks_are_kept_in_prose(data_copy: Path, tmp_path: Path) -> None:
    study = variant(
        tmp_path,
        ("    note: patients described one by one\n", '    note: "first line\\n\\tsecond"\n'),
    )
    assert run("data", "add", study, "--data", data_copy).exit_code == 0
    record = load_evidence(data_copy).study("Example2024")
    assert record.reported[1].note == "first line\n\tsecond"


def test_a_control_character_in_a_patient_cell_is_refused(data_copy: Path, tmp_path: Path) -> None:
    patients = variant(tmp_path, ("EBV infection", "EBV\x1b[2J infection"), source=PATIENTS)
    assert refused(data_copy, STUDY, patients) == [
        f"{patients}: row 2: factors: a control character (U+001B) at character 4; text may "
        "not hold one"
    ]


# --- item: files cut short -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cut_before", "expected"),
    [
        ("reported:\n", [f"reported: {SECTION_MISSING}", f"strata: {SECTION_MISSING}"]),
        ("strata:\n", [f"strata: {SECTION_MISSING}"]),
    ],
)
def test_a_study_file_cut_at_a_line_boundary_is_refused(
    data_copy: Path, tmp_path: Path, cut_before: str, expected: list[str]
) -> None:
    text = STUDY.read_text(encoding="utf-8")
    path = tmp_path / "cut.yaml"
    path.write_text(text[: text.index(cut_before)], encoding="utf-8")
    assert refused(data_copy, path) == [f"{path}: {e}" for e in expected]


def test_a_study_file_cut_inside_a_stratum_is_refused(data_copy: Path, tmp_path: Path) -> None:
    text = STUDY.read_text(encoding="utf-8")
    path = tmp_path / "cut.yaml"
    path.write_text(text[: text.index("    definition: mortality\n")], encoding="utf-8")
    lines = refused(data_copy, path)
    assert f"{path}: strata[1]: definition: Field required" in lines
    assert f"{path}: strata[1]: location: Field required" in lines


def test_empty_sections_are_written_as_empty_lists(data_copy: Path, tmp_path: Path) -> None:
    text = STUDY.read_text(encoding="utf-8")
    path = tmp_path / "Example2024.yaml"
    path.write_text(text[: text.index("reported:\n")] + "reported: []\nstrata: []\n")
    assert run("data", "add", path, "--data", data_copy).exit_code == 0


def test_a_patient_table_whose_last_row_is_cut_is_refused(data_copy: Path, tmp_path: Path) -> None:
    text = PATIENTS.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    last = len(lines)
    cut = tmp_path / "cut.csv"
    cut.write_text("".join(lines[:-1]) + lines[-1][:40] + "\n", encoding="utf-8")
    cells = len(lines[-1][:40].split(","))
    assert refused(data_copy, STUDY, cut) == [
        f"{cut}: row {last}: {lines[0].split(',')[cells]}: missing: the row has {cells} cells, "
        "the header 24 (is the file cut short?)"
    ]
    quoted_cut = tmp_path / "quote.csv"
    start = lines[-1].index('"Table 2')
    quoted_cut.write_text("".join(lines[:-1]) + lines[-1][: start + 6], encoding="utf-8")
    assert refused(data_copy, STUDY, quoted_cut) == [
        f"{quoted_cut}: row {last}: not valid CSV: unexpected end of data"
    ]
