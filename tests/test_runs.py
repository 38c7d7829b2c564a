"""A fit never loses an earlier run: the default folder's run moves to history, --out needs --force."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from hlhbayes.cli import main
from hlhbayes.errors import HlhBayesError
from hlhbayes.runs import plan_output

TABLE = "study,r,n\nA,23,107\nB,12,44\nC,19,51\nD,9,39\n"


def fit_exact(*extra: str):
    args = ["fit", "--model", "random-effects", "--data", "table.csv", "--method", "exact"]
    return CliRunner().invoke(main, [*args, "--format", "json", *extra], catch_exceptions=False)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "table.csv").write_text(TABLE)
    return tmp_path


def test_refit_into_the_default_folder_keeps_the_earlier_run_in_history(workdir):
    first = fit_exact("--prior-mu-sd", "2")
    assert first.exit_code == 0, first.output
    run = workdir / "runs" / "random-effects-response"
    before = snapshot(run)
    created = json.loads((run / "provenance.json").read_text())["created"]

    second = fit_exact("--prior-mu-sd", "1")
    assert second.exit_code == 0, second.output
    kept = list((workdir / "runs" / "history" / "random-effects-response").iterdir())
    assert len(kept) == 1
    assert snapshot(kept[0]) == before  # the earlier run, byte for byte
    stamp = datetime.fromisoformat(created).strftime("%Y%m%dT%H%M%SZ")
    assert kept[0].name.startswith(stamp)  # named by its own creation time
    assert f"kept in {kept[0].relative_to(workdir)}" in second.stderr
    assert snapshot(run) != before  # the new run took its place

    third = fit_exact("--prior-mu-sd", "3")
    assert third.exit_code == 0, third.output
    history = workdir / "runs" / "history" / "random-effects-response"
    assert len(list(history.iterdir())) == 2


def test_an_existing_out_folder_is_refused_without_force(workdir):
    out = workdir / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    before = snapshot(out)

    refused = fit_exact("--out", str(out))
    assert refused.exit_code == 1
    assert "exists and is not empty; use --force" in refused.stderr
    assert snapshot(out) == before

    dry = fit_exact("--out", str(out), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert snapshot(out) == before

    forced = fit_exact("--out", str(out), "--force")
    assert forced.exit_code == 0, forced.output
    assert (out / "summary.json").is_file() and not (out / "notes.txt").exists()
    assert not (workdir / "runs").exists()


def test_plan_output_accepts_an_empty_folder_and_rejects_a_file(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert plan_output(empty, tmp_path / "default", force=False) == (empty, None)
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(HlhBayesError, match="not a folder"):
        plan_output(a_file, tmp_path / "default", force=True)


def test_a_default_folder_that_is_not_a_run_is_not_archived_or_replaced(workdir):
    stray = workdir / "runs" / "random-effects-response"
    stray.mkdir(parents=True)
    (stray / "mine.txt").write_text("not a run")
    refused = fit_exact()
    assert refused.exit_code == 1
    assert "(not a run folder): exists and is not empty; use --force" in refused.stderr
    assert (stray / "mine.txt").read_text() == "not a run"
    assert not (workdir / "runs" / "history").exists()
