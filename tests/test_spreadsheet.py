"""CSV exports neutralise spreadsheet formulas in text cells and leave numbers alone."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from hlhbayes.cli import main
from hlhbayes.spreadsheet import inert_cell, inert_frame

FIXTURES = Path(__file__).resolve().parent / "fixtures"

FORMULAS = [
    '=HYPERLINK("https://example.org","x")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "-",
]


@pytest.mark.parametrize("text", FORMULAS)
def test_formula_text_gets_a_leading_quote(text: str) -> None:
    assert inert_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["-3", "+0.5", "-1e-3", "1-2", "text", "a=b", "", 5, -2.5, None])
def test_numbers_and_plain_text_are_left_alone(value: object) -> None:
    assert inert_cell(value) == value


def test_a_frame_keeps_its_numeric_columns() -> None:
    frame = pd.DataFrame(
        {"x": [-1.5, 2.0], "n": pd.array([-3, None], dtype="Int64"), "t": ["=1+1", "-4"]}
    )
    out = inert_frame(frame)
    assert out["x"].tolist() == [-1.5, 2.0]
    assert out["n"].dtype == "Int64" and out["n"].tolist()[0] == -3
    assert out["t"].tolist() == ["'=1+1", "-4"]
    assert frame["t"].tolist() == ["=1+1", "-4"]  # the input is not changed


def test_patient_and_study_exports_are_inert(data_copy: Path, tmp_path: Path) -> None:
    patients = (FIXTURES / "example_patients.csv").read_text(encoding="utf-8")
    patients = patients.replace("EBV infection", '"=HYPERLINK(""https://example.org"",""x"")"')
    patients = patients.replace("Fever settled within two days.", "+cmd|' /C calc'!A0")
    patients = patients.replace('"Table 2, patient 1",', '"Table 2, patient 1",@SUM(1+1)')
    (tmp_path / "p.csv").write_text(patients, encoding="utf-8")
    study = (FIXTURES / "example_study.yaml").read_text(encoding="utf-8")
    study = study.replace("  overlap_group: null\n", '  overlap_group: "-2+3"\n')
    (tmp_path / "s.yaml").write_text(study, encoding="utf-8")
    runner = CliRunner()
    added = runner.invoke(
        main,
        [
            "data",
            "add",
            str(tmp_path / "s.yaml"),
            "--patients",
            str(tmp_path / "p.csv"),
            "--data",
            str(data_copy),
        ],
    )
    assert added.exit_code == 0, added.output

    result = runner.invoke(
        main, ["data", "patients", "Example2024", "--format", "csv", "--data", str(data_copy)]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows[0]["factors"] == '\'=HYPERLINK("https://example.org","x")'
    assert rows[0]["outcome_summary"] == "'+cmd|' /C calc'!A0"
    assert rows[0]["judgement"] == "'@SUM(1+1)"
    assert rows[0]["age"] == "52" and rows[0]["patient"] == "1"  # numbers stay numbers

    listed = runner.invoke(main, ["data", "list", "--format", "csv", "--data", str(data_copy)])
    assert listed.exit_code == 0
    mine = [r for r in csv.DictReader(io.StringIO(listed.stdout)) if r["study"] == "Example2024"]
    assert mine[0]["overlap_group"] == "'-2+3"
