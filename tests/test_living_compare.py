"""``hlhbayes compare`` and the run history, on instant (quadrature) fits: no MCMC."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from conftest import snapshot
from hlhbayes.cli import main
from hlhbayes.living.compare import COLUMNS, compare_records
from hlhbayes.runs import history_dir, latest_run
from table_text import read_table, records

AS_CSV = "study,r,n\nS1,23,107\nS2,12,44\nS3,19,51\nS4,9,39\nS5,39,139\n"
MORE = AS_CSV + "S6,6,20\nS7,30,78\n"
PNG = b"\x89PNG\r\n\x1a\n"


def run(*args: str | Path):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, Path]:
    """Two exact random-effects runs: five studies (A), then seven (B)."""
    root = tmp_path_factory.mktemp("runs")
    out = []
    for name, text in (("a", AS_CSV), ("b", MORE)):
        table = root / f"{name}.csv"
        table.write_text(text)
        folder = root / f"run-{name}"
        args = ["--model", "random-effects", "--data", table, "--method", "exact"]
        result = run("fit", *args, "--out", folder, "--quiet")
        assert result.exit_code == 0, result.output
        out.append(folder)
    return out[0], out[1]


def _records(folder: Path) -> dict[str, dict]:
    summary = json.loads((folder / "summary.json").read_text())
    return {r["quantity"]: r for r in summary["summary"]}


def test_table_has_before_after_shift_and_width(runs, tmp_path):
    a, b = runs
    figure = tmp_path / "fig.png"
    result = run("compare", a, b, "--plot", figure)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "random-effects, outcome response"
    assert lines[1].startswith(f"A: {a} (data ") and lines[1].endswith(", converged)")
    assert lines[2].startswith(f"B: {b} (data ")
    header, rows = read_table(result.stdout)
    assert header == [
        "quantity", "etiology", "line", "before (A)", "after (B)", "shift (SD)", "width change",
        "relative",
    ]  # fmt: skip
    assert [r[0] for r in rows] == ["mu", "tau", "rate_typical", "rate_new"]
    ra, rb = _records(a)["rate_typical"], _records(b)["rate_typical"]
    shift = (rb["mean"] - ra["mean"]) / ra["sd"]
    width_a, width_b = ra["q97.5"] - ra["q2.5"], rb["q97.5"] - rb["q2.5"]
    assert rows[2] == [
        "rate_typical",
        "-",
        "-",
        f"{ra['mean']:.3f} [{ra['q2.5']:.3f}, {ra['q97.5']:.3f}]",
        f"{rb['mean']:.3f} [{rb['q2.5']:.3f}, {rb['q97.5']:.3f}]",
        f"{shift:+.2f}",
        f"{width_b - width_a:+.3f}",
        f"{width_b / width_a - 1:+.0%}",
    ]
    assert lines[-1].startswith("moved most: ")  # after the table
    assert result.stderr == f"figure: {figure}\n"
    assert figure.read_bytes().startswith(PNG)


def test_json_and_csv_carry_the_same_numbers(runs, tmp_path):
    a, b = runs
    js = run("compare", a, b, "--format", "json", "--no-plot")
    assert js.exit_code == 0
    payload = json.loads(js.stdout)
    assert set(payload) == {"run_a", "run_b", "records", "notes", "figure"}
    assert payload["figure"] is None
    assert payload["run_a"]["path"] == str(a) and payload["run_b"]["model"] == "random-effects"
    records = {r["quantity"]: r for r in payload["records"]}
    assert list(records["tau"]) == COLUMNS
    ra, rb = _records(a)["tau"], _records(b)["tau"]
    assert records["tau"]["shift_sd"] == pytest.approx((rb["mean"] - ra["mean"]) / ra["sd"])
    assert records["tau"]["width_change_rel"] == pytest.approx(
        (rb["q97.5"] - rb["q2.5"]) / (ra["q97.5"] - ra["q2.5"]) - 1
    )
    assert records["tau"]["etiology"] is None
    csv = run("compare", a, b, "--format", "csv", "--no-plot")
    frame = pd.read_csv(pd.io.common.StringIO(csv.stdout))
    assert list(frame.columns) == COLUMNS
    assert frame["shift_sd"].tolist() == pytest.approx([r["shift_sd"] for r in payload["records"]])
    assert not list(tmp_path.iterdir())  # --no-plot: nothing written


def test_default_figure_goes_beside_run_b(runs):
    a, b = runs
    result = run("compare", a, b, "--format", "csv")
    expected = b.resolve().parent / f"compare-{a.name}-vs-{b.name}.png"
    assert result.stderr == f"figure: {expected}\n"
    assert expected.read_bytes().startswith(PNG)
    expected.unlink()


def test_same_base_is_noted(runs):
    a, _ = runs
    result = run("compare", a, a, "--no-plot")
    assert "note: both runs used the same evidence base (same data hash)" in result.stdout
    assert {r["shift (SD)"] for r in records(result.stdout)} == {"+0.00"}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("model", "etiology-line", "is random-effects/response, {b} is etiology-line/response"),
        ("outcome", "death", "is random-effects/response, {b} is random-effects/death"),
    ],
)
def test_different_analyses_are_refused(runs, tmp_path, field, value, message):
    a, b = runs
    other = tmp_path / "other"
    shutil.copytree(b, other)
    summary = json.loads((other / "summary.json").read_text())
    summary[field] = value
    (other / "summary.json").write_text(json.dumps(summary))
    before = snapshot(tmp_path)
    result = run("compare", a, other)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"error: cannot compare runs of different analyses: {a} " + message.format(b=other) + "\n"
    )
    assert snapshot(tmp_path) == before  # no figure either


def test_not_a_run_folder(tmp_path, runs):
    result = run("compare", tmp_path, runs[0])
    assert result.exit_code == 1
    assert result.stderr == f"error: {tmp_path}: not a run folder (no summary.json)\n"


def test_records_missing_on_one_side_are_kept():
    a = [
        {
            "quantity": "mu",
            "etiology": None,
            "line": None,
            "mean": 1,
            "sd": 0.5,
            "q2.5": 0,
            "q97.5": 2,
        }
    ]
    b = [
        {
            "quantity": "tau",
            "etiology": None,
            "line": None,
            "mean": 1,
            "sd": 0.5,
            "q2.5": 0,
            "q97.5": 2,
        }
    ]
    frame = compare_records(a, b)
    assert frame["quantity"].tolist() == ["mu", "tau"]
    assert frame["shift_sd"].isna().all()


# --------------------------------------------------------------------------------------------
# history: which run is the latest


def _fake_run(folder: Path, created: str, model: str = "random-effects") -> Path:
    folder.mkdir(parents=True)
    summary = {"model": model, "outcome": "response", "data_hash": "x" * 64, "summary": []}
    (folder / "summary.json").write_text(json.dumps(summary))
    (folder / "provenance.json").write_text(json.dumps({"created": created}))
    return folder


def test_latest_is_the_newer_of_fit_folder_and_history(tmp_path):
    assert latest_run(tmp_path, "random-effects", "response") is None
    fitted = _fake_run(tmp_path / "random-effects-response", "2026-01-02T00:00:00+00:00")
    assert latest_run(tmp_path, "random-effects", "response").path == fitted
    folder = history_dir(tmp_path, "random-effects", "response")
    old = _fake_run(folder / "20260101T000000Z-aaaa", "2026-01-01T00:00:00+00:00")
    (folder / "LATEST").write_text(old.name + "\n")
    assert latest_run(tmp_path, "random-effects", "response").path == fitted
    new = _fake_run(folder / "20260103T000000Z-bbbb", "2026-01-03T00:00:00+00:00")
    (folder / "LATEST").write_text(new.name + "\n")
    assert latest_run(tmp_path, "random-effects", "response").path == new
    assert latest_run(tmp_path, "etiology-line", "response") is None
