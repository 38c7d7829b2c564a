"""Schemas and parsers of single files: every rule, every located issue, and property tests.

Cross-record rules (duplicates, overlap groups, links between files) are in
``test_evidence_load.py``.
"""

from __future__ import annotations

import copy
import csv
import io
import string

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from conftest import DATA
from hlhbayes.evidence import EvidenceError, Issue
from hlhbayes.evidence.issues import issues_from_pydantic
from hlhbayes.evidence.load import parse_patients_text, parse_study_text
from hlhbayes.evidence.schema import (
    ETIOLOGIES,
    OUTCOMES,
    PATIENT_COLUMNS,
    RESPONSE_DEFINITIONS,
    TIMEFRAMES,
    UNITS,
    Patient,
    Stratum,
    Study,
    StudyFile,
)

PATIENTS_CSV = (DATA / "patients" / "Baverez2022.csv").read_text(encoding="utf-8")

FAST = settings(
    max_examples=50,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

STUDY = {
    "id": "Synthetic2024",
    "citation": "A synthetic study for tests",
    "year": 2024,
    "doi": "10.0000/synthetic",
    "pmid": None,
    "url": None,
    "design": "retrospective cohort",
    "country": None,
    "population": "adult",
    "condition": "classic_shlh",
    "response_definition": None,
    "role": "primary",
    "pool": True,
    "exclusion_reason": None,
    "overlap_group": None,
    "notes": None,
}
STRATUM = {
    "id": "response-all",
    "outcome": "response",
    "events": 3,
    "total": 5,
    "etiology": {"infection": 2, "malignancy": 3},
    "line": {"first": 1, "later": 4},
    "definition": "remission",
    "timeframe": None,
    "derived": False,
    "location": "Table 1",
    "source": None,
    "note": None,
}
REPORTED = {"key": "n", "value": 5, "location": "abstract", "derived": False, "note": None}


def study_file(**parts) -> dict:
    """A valid study file as a dict, with ``parts`` replacing its top-level sections."""
    record = {
        "study": copy.deepcopy(STUDY),
        "reported": [copy.deepcopy(REPORTED)],
        "strata": [copy.deepcopy(STRATUM)],
    }
    record.update(copy.deepcopy(parts))
    return record


class Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # libyaml when present: faster
    """Writes shared values out in full: study files may not use aliases."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def dump(record: object) -> str:
    return yaml.dump(record, Dumper=Dumper, sort_keys=False, allow_unicode=True)


def parse(record: dict, file: str = "studies/Synthetic2024.yaml") -> list[Issue]:
    parsed, issues = parse_study_text(dump(record), file)
    assert (parsed is None) == bool(issues)
    return issues


def located(issues: list[Issue]) -> set[tuple[str, str]]:
    return {(i.row, i.field) for i in issues}


def with_stratum(**changes) -> dict:
    return study_file(strata=[STRATUM, {**STRATUM, "id": "broken", **changes}])


def without(mapping: dict, key: str) -> dict:
    return {k: v for k, v in mapping.items() if k != key}


# --------------------------------------------------------------------------------------------
# The valid record, and single-file rules with the exact location of each issue


def test_the_valid_synthetic_file_parses() -> None:
    parsed, issues = parse_study_text(yaml.safe_dump(study_file()), "f.yaml")
    assert issues == []
    assert parsed is not None
    assert parsed.strata[0].etiology == {"infection": 2, "malignancy": 3}
    assert parsed.strata[0].line is not None and parsed.strata[0].line.later == 4


@pytest.mark.parametrize(
    ("record", "row", "field", "message"),
    [
        # unknown fields, at each level
        (with_stratum(colour="red"), "strata[1]", "colour", "Extra inputs are not permitted"),
        (study_file(extra=1), "", "extra", "Extra inputs are not permitted"),
        (
            study_file(study={**STUDY, "journal": "X"}),
            "study",
            "journal",
            "Extra inputs are not permitted",
        ),
        (
            study_file(reported=[{**REPORTED, "unit": "days"}]),
            "reported[0]",
            "unit",
            "Extra inputs are not permitted",
        ),
        (
            with_stratum(line={"first": 1, "later": 4, "third": 0}),
            "strata[1].line",
            "third",
            "Extra inputs are not permitted",
        ),
        # wrong types (counts are strict integers: no strings, floats or booleans)
        (with_stratum(events="3"), "strata[1]", "events", "valid integer"),
        (with_stratum(events=3.0), "strata[1]", "events", "valid integer"),
        (with_stratum(events=True), "strata[1]", "events", "valid integer"),
        (with_stratum(total="5"), "strata[1]", "total", "valid integer"),
        (with_stratum(etiology=[2, 3]), "strata[1]", "etiology", "valid dictionary"),
        (with_stratum(line="first"), "strata[1]", "line", "valid dictionary"),
        (with_stratum(location=None), "strata[1]", "location", "valid string"),
        (study_file(study={**STUDY, "year": "2024"}), "study", "year", "valid integer"),
        (study_file(strata={"a": 1}), "", "strata", "valid list"),
        (study_file(strata=[STRATUM, 7]), "strata[1]", "", "valid dictionary"),
        # a union-typed value: the location is the field, not pydantic's union member
        (study_file(reported=[{**REPORTED, "value": [1]}]), "reported[0]", "value", "got [1]"),
        (study_file(study={**STUDY, "pmid": [1]}), "study", "pmid", "got [1]"),
        # events > total, negative counts, a zero total
        (with_stratum(events=6), "strata[1]", "events", "events (6) > total (5)"),
        (with_stratum(events=-1), "strata[1]", "events", "greater than or equal to 0"),
        (with_stratum(total=0), "strata[1]", "total", "greater than 0"),
        (
            with_stratum(etiology={"infection": -1, "malignancy": 6}),
            "strata[1].etiology",
            "infection",
            "a whole or half number >= 0",
        ),
        (
            with_stratum(etiology={"infection": 2.3, "malignancy": 2.7}),
            "strata[1].etiology",
            "infection",
            "a whole or half number >= 0",
        ),
        (
            with_stratum(etiology={"infection": "2", "malignancy": 3}),
            "strata[1].etiology",
            "infection",
            "a count must be a number",
        ),
        (
            with_stratum(etiology={"infection": True, "malignancy": 4}),
            "strata[1].etiology",
            "infection",
            "a count must be a number",
        ),
        (
            with_stratum(line={"first": -1, "later": 6}),
            "strata[1].line",
            "first",
            "greater than or equal to 0",
        ),
        # unknown codes
        (
            with_stratum(etiology={"virus": 5}),
            "strata[1]",
            "etiology",
            "got 'virus'",
        ),
        (with_stratum(outcome="cure"), "strata[1]", "outcome", "got 'cure'"),
        (with_stratum(definition="cured"), "strata[1]", "definition", "got 'cured'"),
        (
            study_file(study={**STUDY, "population": "elderly"}),
            "study",
            "population",
            "got 'elderly'",
        ),
        (study_file(study={**STUDY, "condition": "fhlh"}), "study", "condition", "got 'fhlh'"),
        (study_file(study={**STUDY, "role": "tertiary"}), "study", "role", "got 'tertiary'"),
        (
            with_stratum(line={"first": 5, "second": 0}),
            "strata[1].line",
            "second",
            "Extra inputs are not permitted",
        ),
        # compositions that do not add up
        (
            with_stratum(etiology={"infection": 2, "malignancy": 2}),
            "strata[1]",
            "etiology",
            "counts sum to 4, not total 5",
        ),
        (
            with_stratum(line={"first": 3, "later": 3}),
            "strata[1]",
            "line",
            "counts sum to 6, not total 5",
        ),
        # timeframes: the vocabulary, on death strata only
        (
            with_stratum(outcome="death", definition="mortality", timeframe="30 days"),
            "strata[1]",
            "timeframe",
            "got '30 days'",
        ),
        (
            with_stratum(outcome="death", definition="mortality"),
            "strata[1]",
            "timeframe",
            "a death stratum needs a timeframe",
        ),
        (
            with_stratum(timeframe="not_stated"),
            "strata[1]",
            "timeframe",
            "only death strata carry a timeframe",
        ),
        (with_stratum(unit="cases"), "strata[1]", "unit", "got 'cases'"),
        (
            with_stratum(line={"first": 1, "later": 2, "after_anakinra": 1}),
            "strata[1]",
            "line",
            "counts sum to 4, not total 5",
        ),
        (
            study_file(study={**STUDY, "patient_death_timeframe": "day 30"}),
            "study",
            "patient_death_timeframe",
            "got 'day 30'",
        ),
        # definitions that do not fit the outcome
        (
            with_stratum(outcome="death", definition="remission"),
            "strata[1]",
            "definition",
            "a death stratum has definition mortality",
        ),
        (
            with_stratum(definition="mortality"),
            "strata[1]",
            "definition",
            "a response stratum needs one of",
        ),
        # required fields
        (study_file(strata=[without(STRATUM, "events")]), "strata[0]", "events", "Field required"),
        (
            study_file(strata=[without(STRATUM, "definition")]),
            "strata[0]",
            "definition",
            "Field required",
        ),
        (study_file(study=without(STUDY, "design")), "study", "design", "Field required"),
        (without(study_file(), "study"), "", "study", "Field required"),
        # study-level rules
        (
            study_file(study={**STUDY, "pool": False}),
            "study",
            "exclusion_reason",
            "pool: false needs an exclusion_reason",
        ),
        (
            study_file(study={**STUDY, "role": "secondary"}),
            "study",
            "pool",
            "a secondary source (review) is never pooled",
        ),
        (
            study_file(study={**STUDY, "doi": None}),
            "study",
            "doi",
            "needs at least one of doi, pmid, url",
        ),
        (study_file(study={**STUDY, "id": "2024Study"}), "study", "id", "should match pattern"),
        (study_file(study={**STUDY, "year": 1900}), "study", "year", "greater than or equal"),
        (
            study_file(reported=[{**REPORTED, "key": "Bad Key"}]),
            "reported[0]",
            "key",
            "should match pattern",
        ),
        (with_stratum(id="-starts-with-dash"), "strata[1]", "id", "should match pattern"),
    ],
)
def test_broken_study_file_gives_one_located_issue(
    record: dict, row: str, field: str, message: str
) -> None:
    issues = parse(record)
    assert issues, "the broken record parsed without an issue"
    assert all(i.file == "studies/Synthetic2024.yaml" for i in issues)
    matching = [i for i in issues if (i.row, i.field) == (row, field)]
    assert matching, f"no issue at {row!r}/{field!r}: {issues}"
    assert any(message in i.message for i in matching), matching


def test_several_problems_in_one_file_are_all_reported() -> None:
    record = study_file(
        study={**STUDY, "population": "elderly", "colour": "red"},
        reported=[{**REPORTED, "value": None}],
        strata=[{**STRATUM, "events": "x"}, {**STRATUM, "id": "b", "outcome": "cure"}],
    )
    assert located(parse(record)) == {
        ("study", "population"),
        ("study", "colour"),
        ("reported[0]", "value"),
        ("strata[0]", "events"),
        ("strata[1]", "outcome"),
    }


@pytest.mark.parametrize(
    ("text", "row", "field", "message"),
    [
        ("study: [unclosed\n", "line 2", "", "not valid YAML"),
        ("study:\n  id: A\n\tyear: 1\n", "line 3", "", "not valid YAML"),
        ("- a list\n", "", "", "expected a mapping with keys study, reported, strata"),
        ("", "", "", "expected a mapping with keys study, reported, strata"),
        # an impossible date is named with its line and key (a plain date is just text)
        (
            "study:\n  notes: !!timestamp 2021-02-30\n",
            "line 2",
            "notes",
            "'2021-02-30' is not a valid timestamp: day is out of range for month",
        ),
    ],
)
def test_unreadable_yaml_is_an_issue_not_an_exception(
    text: str, row: str, field: str, message: str
) -> None:
    parsed, issues = parse_study_text(text, "x.yaml")
    assert parsed is None
    assert [(i.file, i.row, i.field) for i in issues] == [("x.yaml", row, field)]
    assert issues[0].message.startswith(message)


def test_a_plain_date_is_text() -> None:
    record = study_file(study={**STUDY, "notes": "2021-02-30"})
    text = dump(record).replace("notes: '2021-02-30'", "notes: 2021-02-30")
    assert "notes: 2021-02-30\n" in text
    parsed, issues = parse_study_text(text, "x.yaml")
    assert issues == [] and parsed is not None
    assert parsed.study.notes == "2021-02-30"


# --------------------------------------------------------------------------------------------
# Patient rows


def csv_text(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


PATIENT_ROWS = list(csv.reader(io.StringIO(PATIENTS_CSV)))
HEADER = PATIENT_ROWS[0]


def patients_with(row: int, column: str, value: str) -> str:
    """The shipped table with one cell replaced (``row`` counts as a spreadsheet: header = 1)."""
    rows = [list(r) for r in PATIENT_ROWS]
    rows[row - 1][HEADER.index(column)] = value
    return csv_text(rows)


def test_the_shipped_patient_table_parses() -> None:
    patients, issues = parse_patients_text(PATIENTS_CSV, "p.csv")
    assert issues == []
    assert [p.patient for p in patients] == list(range(1, 22))
    assert patients[6].anakinra_days is None  # patient 7: '###' in Table 2, left empty
    assert tuple(HEADER) == PATIENT_COLUMNS


@pytest.mark.parametrize(
    ("row", "column", "value", "message"),
    [
        (4, "age", "abc", "valid number"),
        (4, "age", "-3", "greater than or equal to 0"),
        (5, "sex", "X", "Input should be 'M' or 'F'"),
        (6, "response", "2", "less than or equal to 1"),
        (6, "died", "yes", "valid integer"),
        (7, "anakinra_days", "3.5", "valid integer"),
        (8, "anakinra_line", "", "valid integer"),
        (9, "regimen", "monotherapy", "got 'monotherapy'"),
        (10, "patient", "0", "greater than or equal to 1"),
        (11, "hscore", "401", "less than or equal to 400"),
        (12, "study", "1bad", "should match pattern"),
        (13, "factors", "", "valid string"),
        (22, "infection", "x", "valid integer"),
    ],
)
def test_bad_patient_cell_gives_issue_at_its_row_and_column(
    row: int, column: str, value: str, message: str
) -> None:
    patients, issues = parse_patients_text(patients_with(row, column, value), "p.csv")
    assert [(i.file, i.row, i.field) for i in issues] == [("p.csv", f"row {row}", column)]
    assert message in issues[0].message
    assert len(patients) == 20


def test_patient_without_any_etiology_flag_is_located_at_unknown() -> None:
    # patient 12 has only 'other' set; clearing it leaves no flag at all
    _, issues = parse_patients_text(patients_with(13, "other", "0"), "p.csv")
    assert [(i.row, i.field) for i in issues] == [("row 13", "unknown")]
    assert "no etiology flag set" in issues[0].message


def test_patient_header_problems_are_all_reported() -> None:
    rows = [list(r) for r in PATIENT_ROWS]
    rows[0][rows[0].index("hscore")] = "h_score"
    rows[0][rows[0].index("sex")] = "gender"
    patients, issues = parse_patients_text(csv_text(rows), "p.csv")
    assert patients == []
    assert sorted((i.row, i.field, i.message) for i in issues) == [
        ("header", "gender", "unknown column"),
        ("header", "h_score", "unknown column"),
        ("header", "hscore", "missing column"),
        ("header", "sex", "missing column"),
    ]


def test_judgement_column_is_optional_and_extra_cells_are_reported() -> None:
    rows = [r[:-1] for r in PATIENT_ROWS]  # drop 'judgement'
    patients, issues = parse_patients_text(csv_text(rows), "p.csv")
    assert issues == [] and len(patients) == 21
    rows = [list(r) for r in PATIENT_ROWS]
    rows[3].append("surplus")
    patients, issues = parse_patients_text(csv_text(rows), "p.csv")
    assert [(i.row, i.field, i.message) for i in issues] == [
        ("row 4", "", "more cells than columns: the row has 25 cells, the header 24")
    ]
    assert len(patients) == 20


def test_rows_are_numbered_by_line_even_after_a_blank_line() -> None:
    rows = [list(r) for r in PATIENT_ROWS]
    rows[3][rows[0].index("sex")] = "X"  # the third patient: line 4 of the file
    lines = csv_text(rows).splitlines(keepends=True)
    lines.insert(2, "\n")  # a blank line after the first patient moves it to line 5
    patients, issues = parse_patients_text("".join(lines), "p.csv")
    assert [(i.row, i.field) for i in issues] == [("row 5", "sex")]
    assert len(patients) == 20


def test_an_oversized_csv_field_is_an_issue_not_an_exception() -> None:
    text = PATIENTS_CSV.rstrip("\n") + "\nBaverez2022,22," + "x" * 200_000 + "\n"
    patients, issues = parse_patients_text(text, "p.csv")
    assert [(i.row, i.field) for i in issues] == [("row 23", "")]
    assert issues[0].message.startswith("not valid CSV")
    assert len(patients) == 21


def test_patient_properties() -> None:
    patients, _ = parse_patients_text(PATIENTS_CSV, "p.csv")
    by_number = {p.patient: p for p in patients}
    assert by_number[5].etiologies == ("infection", "malignancy")
    assert by_number[5].line == "first"
    assert by_number[9].line == "later"


# --------------------------------------------------------------------------------------------
# Issues and the error that carries them


def test_issue_text_skips_empty_parts() -> None:
    assert str(Issue("a.csv", "row 3", "age", "bad")) == "a.csv: row 3: age: bad"
    assert str(Issue("a.yaml", "", "study", "Field required")) == "a.yaml: study: Field required"
    assert str(Issue("a.yaml", "", "", "not valid")) == "a.yaml: not valid"


def test_evidence_error_sorts_and_deduplicates_its_issues() -> None:
    b = Issue("b.yaml", "study", "id", "x")
    a = Issue("a.yaml", "strata[1]", "events", "y")
    error = EvidenceError([b, a, b])
    assert error.issues == [a, b]
    assert str(error) == "a.yaml: strata[1]: events: y\nb.yaml: study: id: x"


def test_issues_from_pydantic_maps_rows_for_csv() -> None:
    with pytest.raises(ValidationError) as caught:
        Patient.model_validate({"study": "A"})
    issues = issues_from_pydantic("p.csv", caught.value.errors(), row_of=lambda _r: "row 9")
    assert {i.row for i in issues} == {"row 9"}
    assert {i.field for i in issues} >= {"patient", "sex", "age", "location"}


# --------------------------------------------------------------------------------------------
# Property tests


ALNUM = string.ascii_letters + string.digits


@st.composite
def split(draw, total: int, names: tuple[str, ...], step: float = 1) -> dict[str, int | float]:
    """Counts over a non-empty subset of ``names`` that add up to ``total``, in ``step`` units.

    With ``step`` 0.5 a count may be a half (a patient with two triggers); whole counts stay
    ``int``, as the schema gives them back.
    """
    chosen = draw(st.permutations(names))[: draw(st.integers(1, len(names)))]
    units = round(total / step)
    cuts = draw(st.lists(st.integers(0, units), min_size=len(chosen) - 1, max_size=len(chosen) - 1))
    bounds = [0, *sorted(cuts), units]
    counts = [(bounds[i + 1] - bounds[i]) * step for i in range(len(chosen))]
    return {name: int(c) if c == int(c) else c for name, c in zip(chosen, counts, strict=True)}


BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# text a one-line field accepts: no control character (and no surrogate: not UTF-8)
LINE_CHARS = st.characters(exclude_categories=("Cc", "Cs"), exclude_characters=BIDI_CONTROLS)
PROSE_CHARS = LINE_CHARS | st.sampled_from("\t\n")


@st.composite
def valid_strata(draw) -> dict:
    total = draw(st.integers(1, 400))
    outcome = draw(st.sampled_from(OUTCOMES))
    first, later = sorted(draw(st.integers(0, total)) for _ in range(2))
    line = {"first": first, "later": later - first, "after_anakinra": total - later}
    return {
        "id": draw(st.sampled_from(ALNUM)) + draw(st.text(ALNUM + "_.-", max_size=15)),
        "outcome": outcome,
        "events": draw(st.none() | st.integers(0, total)),
        "total": total,
        "unit": draw(st.sampled_from(UNITS)),
        "etiology": draw(st.none() | split(total, ETIOLOGIES, draw(st.sampled_from([1, 0.5])))),
        "line": draw(st.sampled_from([None, line])),
        "definition": "mortality"
        if outcome == "death"
        else draw(st.sampled_from(RESPONSE_DEFINITIONS)),
        "timeframe": draw(st.sampled_from(TIMEFRAMES)) if outcome == "death" else None,
        "derived": draw(st.booleans()),
        "location": draw(st.text(LINE_CHARS, min_size=1, max_size=30)),
        "source": None,
        "note": draw(st.none() | st.text(PROSE_CHARS, max_size=30)),
    }


@FAST
@given(strata=st.lists(valid_strata(), min_size=1, max_size=3, unique_by=lambda s: s["id"]))
def test_random_valid_strata_always_validate(strata: list[dict]) -> None:
    for stratum in strata:
        parsed = Stratum.model_validate(stratum)
        assert parsed.model_dump(mode="json") == stratum
    assert parse(study_file(strata=strata)) == []


REQUIRED = ("id", "outcome", "events", "total", "definition", "location")
not_an_int = (
    st.text(max_size=5)
    | st.floats(allow_nan=False)
    | st.booleans()
    | st.lists(st.integers(), max_size=2)
)
WRONG_TYPES = {
    "events": not_an_int,
    "total": not_an_int,
    "outcome": st.integers() | st.text(max_size=8).filter(lambda s: s not in OUTCOMES),
    "definition": st.integers() | st.just("cured"),
    "etiology": st.integers() | st.text(max_size=5) | st.lists(st.integers(), max_size=2),
    "line": st.integers() | st.text(max_size=5),
    "location": st.integers() | st.none() | st.lists(st.text(), max_size=1),
    "id": st.integers() | st.from_regex(r"[-. _][A-Za-z0-9]{0,5}", fullmatch=True),
    "derived": st.lists(st.integers(), max_size=2) | st.text(alphabet="xyz", min_size=2),
}


@st.composite
def mutations(draw) -> tuple[dict, str, str]:
    """A valid stratum broken in one way, with the row suffix and field of the expected issue."""
    stratum = draw(valid_strata())
    kind = draw(st.sampled_from(["drop", "unknown", "type", "events>total", "negative"]))
    if kind == "drop":
        field = draw(st.sampled_from(REQUIRED))
        return without(stratum, field), "", field
    if kind == "unknown":
        field = draw(
            st.from_regex(r"[a-z][a-z_]{0,12}", fullmatch=True).filter(
                lambda k: k not in Stratum.model_fields
            )
        )
        return {**stratum, field: draw(st.integers() | st.text(max_size=5))}, "", field
    if kind == "type":
        field = draw(st.sampled_from(sorted(WRONG_TYPES)))
        return {**stratum, field: draw(WRONG_TYPES[field])}, "", field
    if kind == "events>total":
        return {**stratum, "events": stratum["total"] + draw(st.integers(1, 50))}, "", "events"
    where = draw(st.sampled_from(["events", "total", "etiology", "line"]))
    minus = -draw(st.integers(1, 1000))
    if where in ("events", "total"):
        return {**stratum, where: minus}, "", where
    if where == "etiology":
        category = draw(st.sampled_from(ETIOLOGIES))
        etiology = {**(stratum["etiology"] or {}), category: minus}
        return {**stratum, "etiology": etiology}, ".etiology", category
    return {**stratum, "line": {"first": minus, "later": stratum["total"]}}, ".line", "first"


@FAST
@given(before=st.lists(valid_strata(), max_size=2), mutation=mutations())
def test_a_mutated_stratum_always_gives_a_located_issue(
    before: list[dict], mutation: tuple[dict, str, str]
) -> None:
    broken, suffix, field = mutation
    index = len(before)
    issues = parse(study_file(strata=[*before, broken]))
    assert issues
    row = f"strata[{index}]{suffix}"
    assert (row, field) in located(issues), issues
    assert all(i.row.startswith(f"strata[{index}]") for i in issues), issues


garbage_text = st.builds(
    str.__add__, st.sampled_from(string.ascii_letters), st.text("abcXYZ !?#*/-", max_size=10)
)
GARBAGE = {
    **{
        column: garbage_text
        for column in (
            "patient",
            "age",
            "hscore",
            "anakinra_line",
            "response",
            "anakinra_days",
            "corticosteroid_days",
            "died",
            *ETIOLOGIES,
        )
    },
    "sex": garbage_text.filter(lambda s: s.strip() not in ("M", "F")),
    "regimen": garbage_text.filter(lambda s: s.strip() not in ("alone", "with_corticosteroids")),
    "study": st.builds(
        str.__add__, st.sampled_from("0123456789#!"), st.text(ALNUM + " #!", max_size=8)
    ),
}


@FAST
@given(
    row=st.integers(2, 22),
    column=st.sampled_from(sorted(GARBAGE)),
    data=st.data(),
)
def test_a_garbage_patient_cell_is_located_at_its_row(
    row: int, column: str, data: st.DataObject
) -> None:
    value = data.draw(GARBAGE[column], label="garbage")
    patients, issues = parse_patients_text(patients_with(row, column, value), "p.csv")
    assert issues
    assert {(i.file, i.row) for i in issues} == {("p.csv", f"row {row}")}
    assert column in {i.field for i in issues}
    assert len(patients) == 20


@FAST
@given(text=st.text(max_size=300))
def test_any_text_gives_issues_or_a_record_never_an_exception(text: str) -> None:
    record, issues = parse_study_text(text, "s.yaml")
    assert (record is None) == bool(issues)
    assert all(i.file == "s.yaml" for i in issues)
    patients, issues = parse_patients_text(text, "p.csv")
    assert all(i.file == "p.csv" for i in issues)
    assert all(isinstance(p, Patient) for p in patients)


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(string.ascii_lowercase, max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)


@FAST
@given(
    top=st.dictionaries(
        st.sampled_from(["study", "reported", "strata", "extra"]), yaml_values, max_size=4
    )
)
def test_any_yaml_structure_gives_located_issues(top: dict) -> None:
    record, issues = parse_study_text(dump(top), "s.yaml")
    assert record is None  # 'study' can never be valid here
    assert issues and all(i.file == "s.yaml" for i in issues)
    assert all(i.row or i.field for i in issues)


def test_models_are_frozen_and_forbid_unknown_fields() -> None:
    study = Study.model_validate(STUDY)
    with pytest.raises(ValidationError):
        study.year = 2000  # type: ignore[misc]
    with pytest.raises(ValidationError):
        StudyFile.model_validate({"study": STUDY, "unknown": []})
