"""Loading the evidence base from disk: cross-record rules, and every issue reported at once.

Broken files are written into a scratch copy of the shipped base (``data_copy``); each issue
must name the right file, row and field.
"""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import DATA, REPO, file_counts
from hlhbayes.evidence import EvidenceBase, EvidenceError, Issue, load_evidence
from hlhbayes.evidence.load import default_data_dir

Where = tuple[str, str, str]  # (studies/<file> or patients/<file>, row, field)


def where(issue: Issue) -> Where:
    path = Path(issue.file)
    return (f"{path.parent.name}/{path.name}", issue.row, issue.field)


def issues_of(root: Path) -> list[Issue]:
    with pytest.raises(EvidenceError) as caught:
        load_evidence(root)
    return caught.value.issues


def read_study(root: Path, sid: str) -> dict:
    return yaml.safe_load((root / "studies" / f"{sid}.yaml").read_text(encoding="utf-8"))


def write_study(root: Path, name: str, record: dict) -> None:
    text = yaml.safe_dump(record, sort_keys=False, allow_unicode=True)
    (root / "studies" / f"{name}.yaml").write_text(text, encoding="utf-8")


def edit_study(root: Path, sid: str, **study_fields) -> None:
    record = read_study(root, sid)
    record["study"].update(study_fields)
    write_study(root, sid, record)


def read_rows(root: Path, name: str = "Baverez2022") -> list[list[str]]:
    text = (root / "patients" / f"{name}.csv").read_text(encoding="utf-8")
    return list(csv.reader(io.StringIO(text)))


def write_rows(root: Path, name: str, rows: list[list[str]]) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    (root / "patients" / f"{name}.csv").write_text(buffer.getvalue(), encoding="utf-8")


def set_cell(rows: list[list[str]], row: int, column: str, value: str) -> None:
    """Set one cell; ``row`` counts as a spreadsheet does (the header is row 1)."""
    rows[row - 1][rows[0].index(column)] = value


# --------------------------------------------------------------------------------------------
# The shipped base


def test_the_shipped_base_loads(shipped: EvidenceBase) -> None:
    studies, strata, patients = file_counts(DATA)  # every file and record of data/ loaded
    assert len(shipped.studies) == studies
    assert sum(len(s.strata) for s in shipped.studies.values()) == strata
    assert len(shipped.patients) == patients
    assert {p.study for p in shipped.patients} == {"Baverez2022"}
    assert [p.patient for p in shipped.patients_of("Baverez2022")] == list(range(1, 22))


def test_the_default_folder_is_the_checkout_or_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("HLHBAYES_DATA", raising=False)
    monkeypatch.chdir(REPO / "tests")  # inside the checkout's workspace
    assert default_data_dir() == DATA
    monkeypatch.setenv("HLHBAYES_DATA", str(tmp_path))
    assert default_data_dir() == tmp_path


def test_a_folder_without_studies_is_an_error(tmp_path: Path) -> None:
    issues = issues_of(tmp_path)
    assert len(issues) == 1
    assert issues[0].message == "no studies/ folder here"


def test_unknown_study_lists_the_known_ids(shipped: EvidenceBase) -> None:
    with pytest.raises(KeyError) as caught:
        shipped.study("Nope")
    assert str(caught.value) == f"unknown study 'Nope'; known: {', '.join(sorted(shipped.studies))}"


# --------------------------------------------------------------------------------------------
# One rule at a time


def test_duplicate_study_id(data_copy: Path) -> None:
    shutil.copy(data_copy / "studies" / "Kumar2017.yaml", data_copy / "studies" / "Kumar2017b.yaml")
    assert [(where(i), i.message) for i in issues_of(data_copy)] == [
        (("studies/Kumar2017b.yaml", "study", "id"), "duplicate study id 'Kumar2017'"),
        (("studies/Kumar2017b.yaml", "study", "id"), "id 'Kumar2017' != file name"),
    ]


def test_duplicate_stratum_id(data_copy: Path) -> None:
    record = read_study(data_copy, "Imperial2020")
    record["strata"][3]["id"] = record["strata"][1]["id"]
    write_study(data_copy, "Imperial2020", record)
    assert [(where(i), i.message) for i in issues_of(data_copy)] == [
        (
            ("studies/Imperial2020.yaml", "strata[3]", "id"),
            "duplicate stratum id 'deaths-infection'",
        )
    ]


def test_duplicate_reported_entry(data_copy: Path) -> None:
    record = read_study(data_copy, "Imperial2020")
    record["reported"].append(dict(record["reported"][0]))
    write_study(data_copy, "Imperial2020", record)
    assert [(where(i), i.message) for i in issues_of(data_copy)] == [
        (
            ("studies/Imperial2020.yaml", "reported[11]", "key"),
            "'n' at 'abstract, results sentence on treatment given' is given twice",
        )
    ]


def test_duplicate_patient_number(data_copy: Path) -> None:
    rows = read_rows(data_copy)
    set_cell(rows, 9, "patient", "3")  # row 9 is patient 8; patient 3 is row 4
    write_rows(data_copy, "Baverez2022", rows)
    assert [(where(i), i.message) for i in issues_of(data_copy)] == [
        (("patients/Baverez2022.csv", "row 9", "patient"), "duplicate patient 3")
    ]


def test_patient_file_without_a_study(data_copy: Path) -> None:
    rows = read_rows(data_copy)
    for row in rows[1:]:
        row[0] = "Orphan2020"
    write_rows(data_copy, "Orphan2020", rows)
    assert [(where(i), i.message) for i in issues_of(data_copy)] == [
        (
            ("patients/Orphan2020.csv", "", ""),
            "no study file studies/Orphan2020.yaml for this table",
        )
    ]


def test_patient_row_pointing_to_another_study(data_copy: Path) -> None:
    rows = read_rows(data_copy)
    set_cell(rows, 6, "study", "Imperial2020")
    write_rows(data_copy, "Baverez2022", rows)
    assert [(where(i), i.message) for i in issues_of(data_copy)] == [
        (("patients/Baverez2022.csv", "row 6", "study"), "'Imperial2020' != file 'Baverez2022'")
    ]


def test_two_pooled_studies_in_one_overlap_group(data_copy: Path) -> None:
    # Miettunen2011 and PedRheum2008_S13 report the same Alberta patients; only the latter pools
    edit_study(data_copy, "Miettunen2011", pool=True, exclusion_reason=None)
    assert [(where(i), i.message) for i in issues_of(data_copy)] == [
        (
            ("studies/PedRheum2008_S13.yaml", "study", "pool"),
            "overlap group 'alberta-prmas-2006-2009' is already pooled through Miettunen2011: "
            "set pool: false on one of them",
        )
    ]


def test_unpooled_study_needs_an_exclusion_reason(data_copy: Path) -> None:
    edit_study(data_copy, "Kumar2017", exclusion_reason=None)
    assert [(where(i), i.message) for i in issues_of(data_copy)] == [
        (
            ("studies/Kumar2017.yaml", "study", "exclusion_reason"),
            "pool: false needs an exclusion_reason",
        )
    ]


def test_secondary_study_is_never_pooled(data_copy: Path) -> None:
    edit_study(data_copy, "CADTH_RC1409", pool=True)
    assert [(where(i), i.message) for i in issues_of(data_copy)] == [
        (
            ("studies/CADTH_RC1409.yaml", "study", "pool"),
            "a secondary source (review) is never pooled: set pool: false",
        )
    ]


def test_duplicate_doi_across_unrelated_studies(data_copy: Path) -> None:
    edit_study(data_copy, "Wohlfarth2019", doi="10.3390/JCM11195799")  # case does not matter
    assert [(where(i), i.message) for i in issues_of(data_copy)] == [
        (
            ("studies/Wohlfarth2019.yaml", "study", "doi"),
            "doi '10.3390/JCM11195799' is also used by Baverez2022 (allowed only within one "
            "overlap group or for a secondary record)",
        )
    ]


def test_duplicate_pmid_across_unrelated_studies(data_copy: Path) -> None:
    edit_study(data_copy, "Phadke2021", pmid=28871523)  # Kumar2017's PMID, as an integer
    assert [(where(i), i.message) for i in issues_of(data_copy)] == [
        (
            ("studies/Phadke2021.yaml", "study", "pmid"),
            "pmid 28871523 is also used by Kumar2017 (allowed only within one "
            "overlap group or for a secondary record)",
        )
    ]


def test_shared_doi_is_allowed_for_a_secondary_record_or_within_an_overlap_group(
    shipped: EvidenceBase, data_copy: Path
) -> None:
    # shipped: Sonmez2018 (cohort) and Sonmez2018_SLR (its review, secondary) share a DOI
    assert shipped.study("Sonmez2018").study.doi == shipped.study("Sonmez2018_SLR").study.doi
    # same overlap group, both primary, one unpooled: allowed
    doi = shipped.study("PedRheum2008_S13").study.doi
    edit_study(data_copy, "Miettunen2011", doi=doi)
    assert len(load_evidence(data_copy).studies) == len(shipped.studies)


def test_a_doi_shared_with_a_secondary_record_still_catches_two_unrelated_studies(
    data_copy: Path,
) -> None:
    # CADTH_RC1409 (secondary) sorts first: both later studies must be compared with each
    # other, not only with it
    doi = "10.9999/shared"
    for sid in ("CADTH_RC1409", "Imperial2020", "UCLH2023"):
        edit_study(data_copy, sid, doi=doi)
    assert [where(i) for i in issues_of(data_copy)] == [("studies/UCLH2023.yaml", "study", "doi")]


def test_non_utf8_file_is_an_issue(data_copy: Path) -> None:
    path = data_copy / "studies" / "Kumar2017.yaml"
    path.write_bytes(path.read_bytes().replace(b"Kumar", b"Kum\xe4r", 1))
    data = path.read_bytes()
    offset = data.index(b"\xe4")
    issues = issues_of(data_copy)
    line = data.count(b"\n", 0, offset) + 1
    assert [where(i) for i in issues] == [("studies/Kumar2017.yaml", f"line {line}", "")]
    assert issues[0].message == (
        f"not UTF-8 text: byte 0xe4 at byte {offset} (saved as Latin-1 or Windows-1252?); "
        "save it as UTF-8"
    )


# --------------------------------------------------------------------------------------------
# Everything at once


def test_every_problem_in_every_file_is_reported_at_once(data_copy: Path) -> None:
    clean_rows = read_rows(data_copy)
    # 1. Imperial2020: an unknown field, a wrong type, events > total, a negative count, unknown
    #    codes, a composition that does not add up, and a duplicate stratum id
    record = read_study(data_copy, "Imperial2020")
    record["study"]["population"] = "elderly"
    record["study"]["condition"] = "fhlh"
    record["strata"][0]["colour"] = "red"  # unknown field
    record["strata"][1]["events"] = 4  # total 3
    record["strata"][2]["total"] = "one"
    record["strata"][3]["events"] = -1
    record["strata"][4]["etiology"] = {"infection": 3, "malignancy": 6, "virus": 2}
    record["reported"][0]["value"] = {"n": 11}
    write_study(data_copy, "Imperial2020", record)
    # 2. Eloseily2020: unknown outcome, definition and line mix; etiology not summing to total;
    #    a duplicate stratum id (on a stratum that is otherwise valid)
    record = read_study(data_copy, "Eloseily2020")
    strata = record["strata"]
    strata[0]["outcome"] = "cure"
    strata[1]["definition"] = "cured"
    strata[1]["line"] = {"first": 1, "third": 1}
    strata[2]["etiology"] = {"infection": strata[2]["total"] + 1}
    strata[3]["id"] = strata[0]["id"]
    write_study(data_copy, "Eloseily2020", record)
    # 3. a duplicate stratum id in a file that is otherwise valid
    record = read_study(data_copy, "OxfordIV2021")
    record["strata"][1]["id"] = record["strata"][0]["id"]
    write_study(data_copy, "OxfordIV2021", record)
    # 4. study-level rules in three more files, and a duplicate study id in a fourth
    edit_study(data_copy, "Kumar2017", exclusion_reason=None)
    edit_study(data_copy, "CADTH_RC1409", pool=True)
    edit_study(data_copy, "Miettunen2011", pool=True, exclusion_reason=None)
    edit_study(data_copy, "Wohlfarth2019", doi="10.3390/jcm11195799")
    shutil.copy(data_copy / "studies" / "UCLH2023.yaml", data_copy / "studies" / "ZCopy.yaml")
    # 5. the patient table: garbage cells, a row of another study, a duplicate patient number;
    #    the garbage rows fail validation, and the rows after them keep their own row numbers
    rows = read_rows(data_copy)
    set_cell(rows, 3, "sex", "X")
    set_cell(rows, 4, "age", "old")
    set_cell(rows, 4, "response", "2")
    set_cell(rows, 6, "study", "Imperial2020")
    set_cell(rows, 8, "patient", "6")  # row 7 is patient 6
    set_cell(rows, 12, "anakinra_days", "-5")
    write_rows(data_copy, "Baverez2022", rows)
    # 6. a patient table whose study does not exist
    rows = clean_rows
    for row in rows[1:]:
        row[0] = "Orphan2020"
    write_rows(data_copy, "Orphan2020", rows)

    found = issues_of(data_copy)
    assert [where(i) for i in found] == sorted(
        [
            ("patients/Baverez2022.csv", "row 12", "anakinra_days"),
            ("patients/Baverez2022.csv", "row 3", "sex"),
            ("patients/Baverez2022.csv", "row 4", "age"),
            ("patients/Baverez2022.csv", "row 4", "response"),
            ("patients/Baverez2022.csv", "row 6", "study"),
            ("patients/Baverez2022.csv", "row 8", "patient"),
            ("patients/Orphan2020.csv", "", ""),
            ("studies/CADTH_RC1409.yaml", "study", "pool"),
            ("studies/Eloseily2020.yaml", "strata[0]", "outcome"),
            ("studies/Eloseily2020.yaml", "strata[1]", "definition"),
            ("studies/Eloseily2020.yaml", "strata[1].line", "later"),
            ("studies/Eloseily2020.yaml", "strata[1].line", "third"),
            ("studies/Eloseily2020.yaml", "strata[2]", "etiology"),
            ("studies/Imperial2020.yaml", "reported[0]", "value"),
            ("studies/Imperial2020.yaml", "reported[0]", "value"),
            ("studies/Imperial2020.yaml", "reported[0]", "value"),
            ("studies/Imperial2020.yaml", "strata[0]", "colour"),
            ("studies/Imperial2020.yaml", "strata[1]", "events"),
            ("studies/Imperial2020.yaml", "strata[2]", "total"),
            ("studies/Imperial2020.yaml", "strata[3]", "events"),
            ("studies/Imperial2020.yaml", "strata[4]", "etiology"),
            ("studies/Imperial2020.yaml", "study", "condition"),
            ("studies/Imperial2020.yaml", "study", "population"),
            ("studies/Kumar2017.yaml", "study", "exclusion_reason"),
            ("studies/OxfordIV2021.yaml", "strata[1]", "id"),
            ("studies/PedRheum2008_S13.yaml", "study", "pool"),
            ("studies/Wohlfarth2019.yaml", "study", "doi"),
            ("studies/ZCopy.yaml", "study", "id"),
            ("studies/ZCopy.yaml", "study", "id"),
        ]
    )
    messages = {where(i): i.message for i in found}
    assert messages["studies/Imperial2020.yaml", "strata[1]", "events"] == "events (4) > total (3)"
    assert "got 'virus'" in messages["studies/Imperial2020.yaml", "strata[4]", "etiology"]
    assert messages["patients/Baverez2022.csv", "row 8", "patient"] == "duplicate patient 6"
    assert messages["studies/OxfordIV2021.yaml", "strata[1]", "id"] == (
        "duplicate stratum id 'response-overall'"
    )
    assert [i.message for i in found if where(i)[0] == "studies/ZCopy.yaml"] == [
        "duplicate study id 'UCLH2023'",
        "id 'UCLH2023' != file name",
    ]
    # Eloseily2020's duplicate stratum id is not reported: a file that fails its schema is not
    # cross-checked (its other problems are listed first)


def test_row_numbers_survive_invalid_rows_before_them(data_copy: Path) -> None:
    rows = read_rows(data_copy)
    for row in (2, 3, 4):  # three invalid rows before the two checked by cross-record rules
        set_cell(rows, row, "sex", "?")
    set_cell(rows, 10, "study", "Imperial2020")
    set_cell(rows, 22, "patient", "5")  # row 6 is patient 5
    write_rows(data_copy, "Baverez2022", rows)
    assert [where(i) for i in issues_of(data_copy) if i.field != "sex"] == [
        ("patients/Baverez2022.csv", "row 10", "study"),
        ("patients/Baverez2022.csv", "row 22", "patient"),
    ]
