"""The ``hlhbayes data`` and ``hlhbayes describe`` commands, through click's test runner.

Results go to stdout and messages to stderr (click >= 8.2 keeps them apart in ``Result``).
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner, Result

from conftest import DATA, file_counts
from hlhbayes import __version__
from hlhbayes.cli import main
from hlhbayes.evidence import EvidenceBase, load_evidence
from hlhbayes.evidence.describe import describe
from table_text import is_rule, read_table, records, spans


def run(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], env=env, prog_name="hlhbayes")


def ok(*args: str | Path) -> Result:
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result


# --------------------------------------------------------------------------------------------
# data validate


def test_validate_the_shipped_base(shipped: EvidenceBase) -> None:
    result = ok("data", "validate", DATA)
    studies, strata, patients = file_counts(DATA)
    assert result.stdout == (
        f"ok: {studies} studies, {strata} strata, {patients} patients in {DATA}\n"
        f"content hash: {shipped.content_hash}\n"
    )
    undated = sorted(
        p.name
        for p in (DATA / "studies").glob("*.yaml")
        if yaml.safe_load(p.read_text(encoding="utf-8"))["study"]["year"] is None
    )
    assert result.stderr == (
        "note: Baverez2022: 8 stated figures disagree with the patient table "
        "(see: hlhbayes describe Baverez2022)\n"
        + "".join(
            f"warning: studies/{name}: study: year: not stated: ordered last in cumulative "
            "analyses\n"
            for name in undated
            if name < "EastMidlands2024.yaml"
        )
        + "warning: studies/EastMidlands2024.yaml: reported[7]: value: hscore_max 363 is above "
        "the H score's maximum of 337: implausible as printed (kept as the source states it)\n"
        + "".join(
            f"warning: studies/{name}: study: year: not stated: ordered last in cumulative "
            "analyses\n"
            for name in undated
            if name > "EastMidlands2024.yaml"
        )
    )


def test_validate_defaults_to_the_shipped_base(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HLHBAYES_DATA", raising=False)
    result = ok("data", "validate")
    studies, strata, patients = file_counts(DATA)
    assert result.stdout.splitlines()[0] == (
        f"ok: {studies} studies, {strata} strata, {patients} patients in {DATA}"
    )


def test_validate_uses_hlhbayes_data(data_copy: Path) -> None:
    (data_copy / "studies" / "Kumar2017.yaml").unlink()
    result = run("data", "validate", env={"HLHBAYES_DATA": str(data_copy)})
    assert result.exit_code == 0, result.output
    studies, strata, patients = file_counts(data_copy)
    assert result.stdout.splitlines()[0] == (
        f"ok: {studies} studies, {strata} strata, {patients} patients in {data_copy}"
    )


def test_validate_takes_the_base_as_data_option_too(data_copy: Path, tmp_path: Path) -> None:
    (data_copy / "studies" / "Kumar2017.yaml").unlink()
    result = ok("data", "validate", "--data", str(data_copy))
    studies, strata, patients = file_counts(data_copy)
    assert result.stdout.splitlines()[0] == (
        f"ok: {studies} studies, {strata} strata, {patients} patients in {data_copy}"
    )
    both = run("data", "validate", str(data_copy), "--data", str(tmp_path))
    assert both.exit_code == 1
    assert both.stderr == (
        f"error: two evidence bases given: PATH {data_copy} and --data {tmp_path}\n"
    )


def test_validate_a_broken_copy_lists_every_issue_on_stderr(data_copy: Path) -> None:
    imperial = data_copy / "studies" / "Imperial2020.yaml"
    imperial.write_text(
        imperial.read_text(encoding="utf-8").replace(
            "  population: adult\n", "  population: old\n"
        ),
        encoding="utf-8",
    )
    table = data_copy / "patients" / "Baverez2022.csv"
    text = table.read_text(encoding="utf-8")
    table.write_text(text.replace("Baverez2022,2,33,M,", "Baverez2022,2,33,X,"), encoding="utf-8")
    kumar = data_copy / "studies" / "Kumar2017.yaml"
    kumar.write_text(
        kumar.read_text(encoding="utf-8") + "colour: red\n",
        encoding="utf-8",
    )
    result = run("data", "validate", data_copy)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "error: 3 problems found:\n"
        f"{table}: row 3: sex: Input should be 'M' or 'F' (got 'X')\n"
        f"{imperial}: study: population: Input should be 'adult', 'pediatric' or 'mixed' "
        "(got 'old')\n"
        f"{kumar}: colour: Extra inputs are not permitted (got 'red')\n"
    )


def test_validate_a_folder_that_is_not_a_base(tmp_path: Path) -> None:
    result = run("data", "validate", tmp_path)
    assert result.exit_code == 1
    assert result.stderr == f"error: 1 problem found:\n{tmp_path}: no studies/ folder here\n"


# --------------------------------------------------------------------------------------------
# data list


def test_list_as_a_table(shipped: EvidenceBase) -> None:
    lines = ok("data", "list").stdout.splitlines()
    assert lines[0].split() == [
        "study",
        "year",
        "population",
        "condition",
        "role",
        "pool",
        "overlap_group",
        "patients",
        "strata",
    ]  # the references (URLs) only with --wide
    assert is_rule(lines[1]) and len(spans(lines[1])) == 9  # a rule under each column
    assert len(lines) == len(shipped.studies) + 2
    assert [line.split()[0] for line in lines[2:]] == sorted(shipped.studies)
    baverez = next(line.split() for line in lines if line.split()[0] == "Baverez2022")
    assert baverez == ["Baverez2022", "2022", "mixed", "classic_shlh", "primary", "True", "21", "0"]
    assert lines[0].index("patients") < lines[0].index("strata")
    row = next(line for line in lines if line.startswith("Baverez2022"))
    # text left-aligned under its header, counts right-aligned under theirs
    assert row.index("mixed") == lines[0].index("population")
    assert row.index("21") + 2 == lines[0].index("patients") + len("patients")
    assert records(ok("data", "list").stdout)[1]["overlap_group"] == ""  # missing: blank


def test_list_wide_shows_the_references() -> None:
    result = ok("data", "list", "--wide")
    assert result.stdout.splitlines()[0].split()[-1] == "reference"
    assert "https://doi.org/10.3390/jcm11195799" in result.stdout
    assert "not shown" not in result.stderr
    assert ok("data", "list").stderr == (
        "(not shown: reference; --wide or --format csv shows them)\n"
    )


def test_list_as_csv(shipped: EvidenceBase) -> None:
    text = ok("data", "list", "--format", "csv").stdout
    assert text.splitlines()[0] == (
        "study,year,population,condition,role,pool,overlap_group,patients,strata,reference"
    )
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["study"] for r in rows] == sorted(shipped.studies)
    by_id = {r["study"]: r for r in rows}
    assert by_id["Miettunen2011"]["overlap_group"] == "alberta-prmas-2006-2009"
    assert by_id["Miettunen2011"]["pool"] == "False"
    assert by_id["Imperial2020"]["strata"] == "5"
    assert by_id["Kumar2017"]["reference"] == "https://pubmed.ncbi.nlm.nih.gov/28871523/"


def test_list_as_json(shipped: EvidenceBase) -> None:
    rows = json.loads(ok("data", "list", "--format", "json").stdout)
    assert [r["study"] for r in rows] == sorted(shipped.studies)
    assert next(r for r in rows if r["study"] == "Baverez2022") == {
        "study": "Baverez2022",
        "year": 2022,
        "population": "mixed",
        "condition": "classic_shlh",
        "role": "primary",
        "pool": True,
        "overlap_group": None,
        "patients": 21,
        "strata": 0,
        "reference": "https://doi.org/10.3390/jcm11195799",
    }
    assert sum(r["strata"] for r in rows) == 42


def test_list_of_a_broken_base_fails(data_copy: Path) -> None:
    (data_copy / "studies" / "Kumar2017.yaml").write_text("study: [\n", encoding="utf-8")
    result = run("data", "list", "--data", data_copy)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == "error: 1 problem found:"
    assert "Kumar2017.yaml: line 2: not valid YAML" in result.stderr


def test_list_rejects_an_unknown_format() -> None:
    result = run("data", "list", "--format", "xml")
    assert result.exit_code == 2
    assert "'xml' is not one of 'table', 'json', 'csv'" in result.stderr


# --------------------------------------------------------------------------------------------
# data show


def test_show_a_study() -> None:
    lines = ok("data", "show", "Baverez2022").stdout.splitlines()
    assert lines[0] == "id:                      Baverez2022"
    assert "year:                    2022" in lines
    assert "doi:                     10.3390/jcm11195799" in lines
    assert "pmid:                    36233667" in lines
    assert "population:              mixed" in lines
    assert "condition:               classic_shlh" in lines
    assert "pool:                    True" in lines
    assert "patient_death_timeframe: last_follow_up" in lines
    assert "patients:                21" in lines
    assert not any(line.startswith("exclusion_reason:") for line in lines)  # None is not shown
    assert "Reported aggregates" in lines
    assert "Strata" not in lines  # Baverez2022 has none
    header = lines[lines.index("Reported aggregates") + 1]
    assert header.split() == ["key", "value", "derived"]  # the locations only with --wide
    first = lines[lines.index("Reported aggregates") + 3].split()
    assert first[:2] == ["n", "21"]  # a stated integer stays an integer
    wide = ok("data", "show", "Baverez2022", "--wide").stdout.splitlines()
    header = wide[wide.index("Reported aggregates") + 1]
    assert header.split() == ["key", "value", "location", "derived"]


def test_show_a_study_with_strata() -> None:
    lines = ok("data", "show", "Imperial2020").stdout.splitlines()
    assert ["patients:", "0"] in [line.split() for line in lines]
    strata = lines[lines.index("Strata") + 1 :]
    assert strata[0].split()[:5] == ["stratum", "outcome", "events", "total", "definition"]
    assert [line.split()[0] for line in strata[2:]] == [
        "deaths-malignancy",
        "deaths-infection",
        "deaths-other",
        "deaths-unknown",
        "response-overall",
    ]
    assert strata[2].split()[2:4] == ["4", "6"]  # counts as integers, not 4.0
    assert "n_rheumatic" in strata[0] and "n_first" not in strata[0]  # no line mix known


def test_show_as_csv(shipped: EvidenceBase) -> None:
    rows = list(
        csv.DictReader(io.StringIO(ok("data", "show", "Baverez2022", "--format", "csv").stdout))
    )
    by_field = {r["field"]: r["value"] for r in rows}
    assert by_field["study.id"] == "Baverez2022"
    assert by_field["reported.0.key"] == "n"
    assert by_field["reported.0.value"] == "21"
    assert len([f for f in by_field if f.endswith(".key") and f.startswith("reported.")]) == 202


def test_show_as_json(shipped: EvidenceBase) -> None:
    shown = json.loads(ok("data", "show", "Baverez2022", "--format", "json").stdout)
    assert shown == shipped.study("Baverez2022").model_dump(mode="json")
    assert set(shown) == {"study", "reported", "strata"}
    assert len(shown["reported"]) == 202


def test_show_an_unknown_study(shipped: EvidenceBase) -> None:
    result = run("data", "show", "Nope")
    assert result.exit_code == 1
    assert result.stdout == ""
    known = ", ".join(sorted(shipped.studies))
    assert result.stderr == f"error: unknown study 'Nope'; known: {known}\n"
    assert "Baverez2022, CADTH_RC1409, Charlesworth2023" in result.stderr


# --------------------------------------------------------------------------------------------
# data patients

# Table 2 of Baverez et al. 2022, transcribed from the paper: patient, age, sex, H score,
# "sHLH Treatment and Line Number", anakinra efficacy, anakinra duration (days), corticosteroid
# (CTC) duration (days), live status at last visit. Patient 7's durations are printed '###'.
TABLE_2 = [
    (1, 38, "M", 309, "1. ANA", "Yes", 13, 0, "Alive"),
    (2, 33, "M", 224, "1. CTC, 2. ANA", "Yes", 67, 90, "Alive"),
    (3, 73, "F", 299, "1. CTC, 2. VP16, 3. IVIG, 4. ANA, 5. HLH-2004", "No", 13, 120, "Deceased"),
    (4, 66, "M", 214, "1. CTC, 2. ANA", "Yes", 20, 14, "Deceased"),
    (5, 51, "M", 262, "1. ANA + CTC", "Yes", 5, 7, "Alive"),
    (6, 64, "M", 218, "1. CTC, 2. ANA", "Yes", 90, 150, "Deceased"),
    (7, 20, "M", 210, "1. CTC, 2. ANA", "Yes", "###", "###", "Alive"),
    (8, 17, "F", 230, "1. ANA + CTC", "Yes", 180, 1420, "Alive"),
    (9, 41, "F", 224, "1. CTC, 2. VP16, 3. CSA, 4. VP16, 5. ANA", "Yes", 660, 660, "Alive"),
    (10, 61, "M", 232, "1. ANA", "Yes", 5, 0, "Alive"),
    (11, 45, "F", 279, "1. CTC, 2. ANA", "Yes", 14, 610, "Alive"),
    (12, 51, "M", 317, "1. CTC, 2. ANA", "Yes", 21, 130, "Alive"),
    (13, 35, "F", 294, "1. ANA, 2. CTC", "Yes", 45, 180, "Alive"),
    (14, 28, "F", 267, "1. CTC, 2. ANA", "Yes", 120, 28, "Alive"),
    (15, 6, "M", 254, "1. IVIG, 2. CTC, 3. ANA, 4. CSA + IVIG + CTC", "No", 210, 90, "Alive"),
    (16, 4, "F", 244, "1. ANA + CTC", "Yes", 60, 300, "Alive"),
    (17, 55, "F", 252, "1. ANA", "Yes", 6, 0, "Alive"),
    (18, 58, "M", 187, "1. ANA + CTC", "Yes", 17, 7, "Alive"),
    (19, 35, "F", 225, "1. ANA", "Yes", 8, 0, "Alive"),
    (20, 58, "M", 246, "1. IVIG, 2. CTC, 3. ANA", "Yes", 14, 17, "Alive"),
    (21, 77, "M", 208, "1. ANA", "Yes", 14, 0, "Alive"),
]

EXPORT_COLUMNS = [
    "patient",
    "age",
    "sex",
    "hscore",
    "anakinra_line",
    "response",
    "died",
    "anakinra_days",
    "corticosteroid_days",
    "infection",
    "malignancy",
    "rheumatic",
    "medication",
    "unknown",
]


def line_of_anakinra(lines: str) -> int:
    """The number of the line that contains ANA: '1. CTC, 2. ANA' -> 2."""
    (number,) = re.findall(r"(\d+)\. ANA", lines)
    return int(number)


def expected_rows() -> list[dict[str, str]]:
    rows = []
    for patient, age, sex, hscore, lines, efficacy, ana, ctc, status in TABLE_2:
        rows.append(
            {
                "patient": str(patient),
                "age": str(age),
                "sex": sex,
                "hscore": str(hscore),
                "anakinra_line": str(line_of_anakinra(lines)),
                "treatment_lines": lines,
                "efficacy": efficacy,
                "response": "1" if efficacy == "Yes" else "0",
                "anakinra_days": "" if ana == "###" else str(ana),
                "corticosteroid_days": "" if ctc == "###" else str(ctc),
                "status": status,
                "died": "1" if status == "Deceased" else "0",
            }
        )
    return rows


def test_patients_as_csv_match_table_2_row_for_row() -> None:
    text = ok("data", "patients", "Baverez2022", "--format", "csv").stdout
    reader = csv.DictReader(io.StringIO(text))
    assert set(EXPORT_COLUMNS) <= set(reader.fieldnames or [])
    assert (reader.fieldnames or [])[:5] == ["patient", "age", "sex", "hscore", "anakinra_line"]
    rows = list(reader)
    assert len(rows) == 21
    for got, want in zip(rows, expected_rows(), strict=True):
        assert {k: got[k] for k in want} == want, f"patient {want['patient']}"
    # the etiology flags add up to Table 1: infection 12, malignancy 5, rheumatic 6,
    # medication 1, unknown 1
    totals = {e: sum(int(r[e]) for r in rows) for e in EXPORT_COLUMNS[9:]}
    assert totals == {
        "infection": 12,
        "malignancy": 5,
        "rheumatic": 6,
        "medication": 1,
        "unknown": 1,
    }


def test_patients_as_json() -> None:
    rows = json.loads(ok("data", "patients", "Baverez2022", "--format", "json").stdout)
    assert len(rows) == 21
    seventh = rows[6]
    assert seventh["patient"] == 7
    assert seventh["anakinra_days"] is None and seventh["corticosteroid_days"] is None
    assert seventh["age"] == 20 and isinstance(seventh["age"], int)
    for got, (patient, age, sex, hscore, *_rest, status) in zip(rows, TABLE_2, strict=True):
        assert (got["patient"], got["age"], got["sex"], got["hscore"]) == (
            patient,
            age,
            sex,
            hscore,
        )
        assert got["died"] == (status == "Deceased")


def test_patients_as_a_table() -> None:
    lines = ok("data", "patients", "Baverez2022").stdout.splitlines()
    assert lines[0].split() == [
        "patient",
        "age",
        "sex",
        "hscore",
        "anakinra_line",
        "regimen",
        "response",
        "died",
        "anakinra_days",
        "corticosteroid_days",
        "infection",
        "malignancy",
        "rheumatic",
        "medication",
        "other",
        "unknown",
    ]
    assert len(lines) == 23
    assert "<NA>" not in "\n".join(lines)  # missing values are empty cells
    assert lines[8].split() == (
        ["7", "20", "M", "210", "2", "with_corticosteroids", "1", "0", "0", "0", "1", "0", "0", "0"]
    )  # durations missing: empty cells


def test_patients_of_a_study_without_rows() -> None:
    result = run("data", "patients", "Imperial2020")
    assert result.exit_code == 1
    assert result.stderr == "error: study 'Imperial2020' has no patient rows\n"
    result = run("data", "patients", "Nope")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"error: unknown study 'Nope'; known: {', '.join(sorted(load_evidence(DATA).studies))}"
    )


# --------------------------------------------------------------------------------------------
# describe


def test_describe_as_a_table() -> None:
    text = ok("describe", "Baverez2022").stdout
    lines = text.splitlines()
    assert lines[0] == "Baverez2022: 21 patients"
    counts = {r[""]: (r["n"], r["of"], r["%"]) for r in records(text, "Counts")}
    assert counts["men"] == ("12", "21", "57.1")
    assert counts["children (<18 y)"] == ("3", "21", "14.3")
    assert counts["anakinra first line"] == ("10", "21", "47.6")
    assert counts["responders"] == ("19", "21", "90.5")
    assert counts["deaths"] == ("3", "21", "14.3")
    medians = next(line for line in lines if line.startswith("Medians [IQR]; quartiles by "))
    assert {r[""]: list(r.values())[1:] for r in records(text, medians)} == {
        "Age (years)": ["45", "33", "58", "21", "0"],
        "H score": ["244", "224", "267", "21", "0"],
        "Anakinra duration (days)": ["18.5", "13", "72.75", "20", "1"],
        "Corticosteroid duration (days)": ["59", "5.25", "157.5", "20", "1"],
    }
    header, rows = read_table(text, "By anakinra line")
    assert header == ["line", "patients", "alone", "with CS", "responders", "deaths"]
    assert rows == [
        ["1", "10", "6", "4", "10", "0"],
        ["2", "7", "0", "7", "7", "2"],
        ["3", "2", "0", "2", "1", "0"],
        ["4", "1", "0", "1", "0", "1"],
        ["5", "1", "0", "1", "1", "0"],
    ]
    by_etiology = "By etiology (a patient with several triggers counts in each)"
    assert records(text, by_etiology)[0] == {
        "etiology": "infection",
        "patients": "12",
        "first line": "8",
        "responders": "11",
        "deaths": "0",
    }
    durations = "Anakinra duration by etiology (Wilcoxon rank-sum test, two-sided)"
    assert [list(r.values())[1:] for r in records(text, durations)] == [
        ["180", "5", "14", "13", "55", "0.030"],
        ["180", "3", "15.5", "14", "33", "0.146"],
    ]
    findings = records(text, "Reconciliation: stated figures vs the patient table")
    shown = [(f[""], f["figure"], f["stated"], f["table"], f["where stated"]) for f in findings]
    for expected in [
        ("DISAGREES", "men", "13", "12", "abstract"),
        ("DISAGREES", "anakinra_days_median", "21", "18.5", "Results paragraph 6"),
        ("agrees", "hscore_q3", "267.0", "267", 'Table 1 row "H score"'),  # 267.0 as stated
    ]:
        assert expected in shown, expected
    assert sum(f[""] == "DISAGREES" for f in findings) == 8
    assert sum(f[""] == "agrees" for f in findings) == 34
    assert findings[0][""] == "DISAGREES"  # disagreements are listed first
    assert lines[-1] == "(160 stated figures cannot be recomputed from the table; see data show)"


def test_describe_as_json(shipped: EvidenceBase) -> None:
    shown = json.loads(ok("describe", "Baverez2022", "--format", "json").stdout)
    assert shown == json.loads(json.dumps(describe(shipped, "Baverez2022")))
    assert shown["continuous"]["age"]["q1"] == 33.0
    assert shown["counts"]["responders"] == {"n": 19, "of": 21, "percent": 90.5}


def test_describe_a_study_without_rows() -> None:
    result = run("describe", "Imperial2020")
    assert result.exit_code == 1
    assert result.stderr == "error: study 'Imperial2020' has no patient rows to describe\n"


# --------------------------------------------------------------------------------------------
# help and version


def command_paths(command: click.Command, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [path]
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in sorted(command.list_commands(ctx)):
            paths += command_paths(command.get_command(ctx, name), (*path, name))
    return paths


def test_the_command_tree_has_the_data_commands() -> None:
    paths = command_paths(main)
    expected = [
        ("data",),
        ("data", "add"),
        ("data", "list"),
        ("data", "patients"),
        ("data", "show"),
        ("data", "template"),
        ("data", "validate"),
        ("describe",),
    ]
    assert set(expected) <= set(paths)


@pytest.mark.parametrize("path", command_paths(main), ids=lambda p: " ".join(p) or "hlhbayes")
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_every_command_has_help(path: tuple[str, ...], flag: str) -> None:
    result = run(*path, flag)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Usage: {' '.join(('hlhbayes', *path))} ")
    command: click.Command = main
    for name in path:
        assert isinstance(command, click.Group)
        command = command.get_command(click.Context(command), name)
    short = command.get_short_help_str(limit=40).rstrip(".")
    assert " ".join(short.split()) in " ".join(result.stdout.split())
    assert "-h, --help" in result.stdout


def test_version_names_the_evidence_base_and_its_hash(shipped, monkeypatch) -> None:
    monkeypatch.delenv("HLHBAYES_DATA", raising=False)
    monkeypatch.delenv("HLHBAYES_MODELS", raising=False)
    monkeypatch.chdir(DATA.parents[3])  # the checkout, a workspace over the shipped folders
    result = ok("--version")
    assert result.stdout.splitlines() == [
        f"hlhbayes {__version__}",
        f"evidence base: {DATA} (the workspace at {DATA.parents[3]})",
        f"content hash: {shipped.content_hash}",
        f"model specs: {DATA.parent / 'models'} (the workspace at {DATA.parents[3]})",
    ]
    assert __version__ == "0.1.0"


def test_no_command_shows_usage() -> None:
    result = run()
    assert result.exit_code in (0, 2)
    assert "Usage: hlhbayes [OPTIONS] COMMAND [ARGS]..." in result.output
    result = run("data", "nope")
    assert result.exit_code == 2
    assert "No such command 'nope'" in result.stderr
