"""``data template``: blank study files that cover the schema and become valid once filled in."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import yaml
from click.testing import CliRunner

from conftest import copy_base
from hlhbayes.cli import main
from hlhbayes.evidence import default_data_dir
from hlhbayes.evidence.schema import Patient, Reported, Stratum, Study


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_template_lists_every_schema_field(tmp_path):
    result = invoke("data", "template", "New2026", "--patients", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    doc = yaml.safe_load((tmp_path / "New2026.yaml").read_text())
    assert list(doc["study"]) == list(Study.model_fields)
    assert doc["study"]["id"] == "New2026"
    assert list(doc["reported"][0]) == list(Reported.model_fields)
    for stratum in doc["strata"]:
        assert list(stratum) == list(Stratum.model_fields)
    header = next(csv.reader(io.StringIO((tmp_path / "New2026.csv").read_text())))
    assert header == list(Patient.model_fields)


def test_blank_template_is_refused_naming_each_field_then_accepted_when_filled(tmp_path):
    base = tmp_path / "base"
    copy_base(base, default_data_dir())
    before = {p: p.read_bytes() for p in base.rglob("*") if p.is_file()}
    assert invoke("data", "template", "New2026", "--out", str(tmp_path)).exit_code == 0
    path = tmp_path / "New2026.yaml"

    blank = invoke("data", "add", str(path), "--data", str(base))
    assert blank.exit_code == 1
    # year and population may stay null (when no source states them)
    for field in ("study: citation", "strata[0]: total", "strata[1]: total"):
        assert f"New2026.yaml: {field}:" in blank.stderr
    assert {p: p.read_bytes() for p in base.rglob("*") if p.is_file()} == before

    doc = yaml.safe_load(path.read_text())
    doc["study"].update(
        citation="Made-up test study",
        year=2026,
        url="https://example.org/new2026",
        design="case series",
        population="adult",
        condition="classic_shlh",
    )
    doc["reported"][0].update(value=9, location="abstract")
    response, deaths = doc["strata"]
    response.update(events=5, total=9, definition="clinician_judged", location="abstract")
    deaths.update(events=2, total=9, location="abstract", timeframe="in_hospital")
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    filled = invoke("data", "add", str(path), "--data", str(base))
    assert filled.exit_code == 0, filled.output
    assert (base / "studies" / "New2026.yaml").is_file()


def test_template_refuses_a_bad_id_and_existing_files(tmp_path):
    bad = invoke("data", "template", "2026-study", "--out", str(tmp_path))
    assert bad.exit_code == 1 and "letters, digits and underscores" in bad.stderr
    assert not list(tmp_path.iterdir())
    assert invoke("data", "template", "New2026", "--out", str(tmp_path)).exit_code == 0
    path: Path = tmp_path / "New2026.yaml"
    path.write_text("# my edits\n")
    again = invoke("data", "template", "New2026", "--out", str(tmp_path))
    assert again.exit_code == 1 and "use --force" in again.stderr
    assert path.read_text() == "# my edits\n"
    assert invoke("data", "template", "New2026", "--out", str(tmp_path), "--force").exit_code == 0
    assert "citation: null" in path.read_text()


def test_template_refuses_an_id_with_a_trailing_newline(tmp_path):
    for bad in ("x\n", "New2026\n", "New 2026", "New2026\r"):
        result = invoke("data", "template", bad, "--out", str(tmp_path))
        assert result.exit_code == 1, bad
        assert "letters, digits and underscores" in result.stderr
        assert len(result.stderr.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_template_refuses_a_folder_inside_the_evidence_base(tmp_path, monkeypatch):
    base = tmp_path / "base"
    copy_base(base, default_data_dir())
    before = {p: p.read_bytes() for p in base.rglob("*") if p.is_file()}
    monkeypatch.setenv("HLHBAYES_DATA", str(base))
    for folder in (base, base / "studies", base / "patients", base / "studies" / "new"):
        result = invoke("data", "template", "New2026", "--patients", "--out", str(folder))
        assert result.exit_code == 1, folder
        assert result.stderr == (
            f"error: --out {folder}: inside an evidence base; write the template elsewhere, "
            "fill it in, then add it with hlhbayes data add\n"
        )
    # the studies/ folder of another evidence base is refused too
    other = tmp_path / "other"
    copy_base(other, default_data_dir())
    result = invoke("data", "template", "New2026", "--out", str(other / "studies"))
    assert result.exit_code == 1
    assert {p: p.read_bytes() for p in base.rglob("*") if p.is_file()} == before
    assert not (other / "studies" / "New2026.yaml").exists()
    assert not (base / "studies" / "new").exists()
