"""Workspaces: what `init` makes, how commands find the evidence base, specs and runs folder.

Precedence (README "Workspaces", hlhbayes/workspace.py): --data, then $HLHBAYES_DATA, then the
nearest hlhbayes.toml from the current folder upwards, then the shipped base (read-only).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import DATA, MODELS, REPO, records, snapshot
from hlhbayes import __version__
from hlhbayes.cli import main
from hlhbayes.errors import HlhBayesError
from hlhbayes.workspace import (
    MARKER,
    evidence_source,
    find_workspace,
    models_source,
    runs_folder,
    shipped_data_dir,
    shipped_models_dir,
    writable_evidence,
)

FIXTURES = Path(__file__).parent / "fixtures"
STUDY, PATIENTS = FIXTURES / "example_study.yaml", FIXTURES / "example_patients.csv"


def run(*args: str | Path):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(autouse=True)
def no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HLHBAYES_DATA", raising=False)
    monkeypatch.delenv("HLHBAYES_MODELS", raising=False)


@pytest.fixture
def outside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty folder outside any workspace, made the current folder."""
    folder = tmp_path / "outside"
    folder.mkdir()
    monkeypatch.chdir(folder)
    assert find_workspace() is None
    return folder


@pytest.fixture
def workspace(outside: Path) -> Path:
    """A workspace made by `hlhbayes init ws` (the current folder stays outside it)."""
    result = run("init", "ws")
    assert result.exit_code == 0, result.output
    return outside / "ws"


# --- init ----------------------------------------------------------------------------------


def test_init_copies_the_shipped_base_and_specs_and_marks_the_folder(workspace, shipped):
    assert sorted(p.name for p in workspace.iterdir()) == ["data", MARKER, "models", "runs"]
    assert snapshot(workspace / "data") == records(DATA)
    assert snapshot(workspace / "models") == snapshot(MODELS)
    assert list((workspace / "runs").iterdir()) == []
    marker = tomllib.loads((workspace / MARKER).read_text(encoding="utf-8"))
    assert marker == {
        "format": 1,
        "data": "data",
        "models": "models",
        "runs": "runs",
        "copied-from": {
            "package": f"hlhbayes {__version__}",
            "content-hash": shipped.content_hash,
        },
    }


def test_init_says_what_it_made_and_what_to_do_next(outside, shipped):
    result = run("init", "review")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "made a workspace in review"
    made = [line.split()[0] for line in lines[1:5]]
    assert made == ["review/data/", "review/models/", "review/runs/", f"review/{MARKER}"]
    assert f"content hash {shipped.content_hash[:12]}" in lines[1]
    assert "etiology-line.yaml, random-effects.yaml" in lines[2]
    assert lines[5:8] == ["next:", "  cd review", "  hlhbayes data validate"]


def test_init_makes_the_current_folder_a_workspace(outside):
    result = run("init")
    assert result.exit_code == 0, result.output
    assert (outside / MARKER).is_file()
    assert "cd " not in result.stdout
    assert find_workspace().root == outside


def test_init_refuses_a_folder_that_is_not_empty(outside):
    (outside / "notes.txt").write_text("mine")
    before = snapshot(outside)
    result = run("init", ".")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: .: not empty; choose an empty or new folder, or use --force to make the "
        f"workspace here (its data/, models/ and {MARKER} are then replaced)\n"
    )
    assert snapshot(outside) == before
    assert sorted(p.name for p in outside.iterdir()) == ["notes.txt"]  # no staging left


def test_init_force_replaces_data_models_and_marker_and_keeps_runs(workspace):
    assert run("data", "add", STUDY, "--data", workspace / "data").exit_code == 0
    (workspace / "runs" / "kept.txt").write_text("a run")
    (workspace / "notes.txt").write_text("mine")
    assert run("init", workspace).exit_code == 1
    result = run("init", workspace, "--force")
    assert result.exit_code == 0, result.output
    assert f"replaced (--force): data, models, {MARKER}" in result.stdout
    assert snapshot(workspace / "data") == records(DATA)  # the added study is gone
    assert (workspace / "runs" / "kept.txt").read_text() == "a run"
    assert (workspace / "notes.txt").read_text() == "mine"
    assert not [p for p in workspace.iterdir() if p.name.startswith(".")]


def test_init_refuses_a_file(outside):
    (outside / "file").write_text("x")
    result = run("init", "file")
    assert result.exit_code == 2  # click: a folder is expected
    assert (outside / "file").read_text() == "x"
    (outside / "runs").write_text("x")
    result = run("init", ".", "--force")
    assert result.exit_code == 1
    assert result.stderr == "error: runs: exists and is not a folder\n"
    assert sorted(p.name for p in outside.iterdir()) == ["file", "runs"]


# --- finding the workspace and the precedence ----------------------------------------------


def test_the_workspace_is_found_from_a_subfolder(workspace, monkeypatch):
    deep = workspace / "notes" / "2026"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    found = find_workspace()
    assert found is not None
    assert found.root == workspace
    assert evidence_source().path == workspace / "data"
    assert models_source().path == workspace / "models"
    assert runs_folder() == workspace / "runs"  # outside the current folder: as it is
    monkeypatch.chdir(workspace)
    assert runs_folder() == Path("runs")  # inside it: relative, as messages show it


def test_the_nearest_marker_wins(workspace, monkeypatch):
    monkeypatch.chdir(workspace)
    assert run("init", "inner").exit_code == 0
    monkeypatch.chdir(workspace / "inner" / "data")
    assert find_workspace().root == workspace / "inner"


def test_precedence_data_then_environment_then_workspace_then_shipped(
    workspace, outside, monkeypatch, tmp_path
):
    assert evidence_source().origin == "shipped"
    assert evidence_source().path == shipped_data_dir()
    assert models_source().path == shipped_models_dir()
    assert runs_folder() == Path("runs")
    monkeypatch.chdir(workspace)
    assert evidence_source().path == workspace / "data"
    monkeypatch.setenv("HLHBAYES_DATA", str(tmp_path / "env"))
    monkeypatch.setenv("HLHBAYES_MODELS", str(tmp_path / "specs"))
    assert evidence_source().path == tmp_path / "env"
    assert models_source().path == tmp_path / "specs"
    assert evidence_source(tmp_path / "given").path == tmp_path / "given"
    assert runs_folder() == Path("runs")  # runs stay with the workspace


def test_the_checkout_is_a_workspace_over_the_shipped_folders(monkeypatch):
    monkeypatch.chdir(REPO / "tests")
    found = find_workspace()
    assert found is not None
    assert (found.root, found.data, found.models, found.runs) == (
        REPO,
        DATA,
        MODELS,
        REPO / "runs",
    )
    assert shipped_data_dir() == DATA  # an editable install reads the checkout's files
    assert writable_evidence() == DATA  # the checkout extends the shipped base


def test_commands_use_the_workspace_and_write_runs_into_it(workspace, monkeypatch):
    sub = workspace / "analysis"
    sub.mkdir()
    monkeypatch.chdir(sub)
    added = run("data", "add", STUDY, "--patients", PATIENTS)
    assert added.exit_code == 0, added.output
    assert (workspace / "data" / "studies" / "Example2024.yaml").is_file()
    listed = run("data", "list", "--format", "csv")
    assert "Example2024" in listed.stdout
    fitted = run("fit", "--model", "random-effects", "--method", "exact", "-q")
    assert fitted.exit_code == 0, fitted.output
    assert (workspace / "runs" / "random-effects-response" / "summary.json").is_file()
    assert not (sub / "runs").exists()
    assert not (DATA / "studies" / "Example2024.yaml").exists()


def test_data_add_into_the_shipped_base_is_refused(outside):
    before = records(DATA)
    message = (
        f"error: the shipped evidence base ({shipped_data_dir()}) is read-only: run "
        "`hlhbayes init DIR` to make a workspace with a copy of it, then work there "
        "(or pass --data PATH)\n"
    )
    for extra in ([], ["--dry-run"], ["--data", shipped_data_dir()]):
        result = run("data", "add", STUDY, "--patients", PATIENTS, *extra)
        assert result.exit_code == 1
        assert result.stderr == message
    assert records(DATA) == before
    with pytest.raises(HlhBayesError, match="hlhbayes init"):
        writable_evidence()


def test_read_only_commands_use_the_shipped_base_outside_a_workspace(outside, shipped):
    result = run("data", "validate")
    assert result.exit_code == 0, result.output
    assert f"in {shipped_data_dir()}" in result.stdout
    assert f"content hash: {shipped.content_hash}" in result.stdout


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("format = [", "not a valid workspace marker"),
        ("format = 1\ndta = 'data'\n", "unknown key 'dta'"),
        ("format = 2\n", "format 2 is newer than this hlhbayes reads (1); upgrade hlhbayes"),
        ("data = 'data'\n", "format: a whole number"),
        ("format = 1\ndata = 3\n", "data: a folder path"),
    ],
)
def test_a_bad_marker_is_one_located_line(outside, text, message):
    (outside / MARKER).write_text(text, encoding="utf-8")
    result = run("data", "list")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {outside / MARKER}: ")
    assert message in result.stderr
    assert len(result.stderr.splitlines()) == 1


# --- --version -------------------------------------------------------------------------------


def test_version_outside_and_inside_a_workspace(workspace, outside, monkeypatch, shipped):
    lines = run("--version").stdout.splitlines()
    assert lines == [
        f"hlhbayes {__version__}",
        f"evidence base: {shipped_data_dir()} (shipped with the package, read-only)",
        f"content hash: {shipped.content_hash}",
        f"model specs: {shipped_models_dir()} (shipped with the package, read-only)",
    ]
    monkeypatch.chdir(workspace)
    assert run("data", "add", STUDY).exit_code == 0
    lines = run("--version").stdout.splitlines()
    assert lines[1] == f"evidence base: {workspace / 'data'} (the workspace at {workspace})"
    assert lines[2] != f"content hash: {shipped.content_hash}"
    assert lines[2] == run("data", "validate").stdout.splitlines()[1]
    monkeypatch.setenv("HLHBAYES_DATA", str(DATA))
    lines = run("--version").stdout.splitlines()
    assert lines[1:3] == [
        f"evidence base: {DATA} (from the environment)",
        f"content hash: {shipped.content_hash}",
    ]


def test_version_of_a_broken_base_still_prints(outside, tmp_path, monkeypatch):
    broken = tmp_path / "broken"
    (broken / "studies").mkdir(parents=True)
    (broken / "studies" / "Bad.yaml").write_text("study: {}\n", encoding="utf-8")
    monkeypatch.setenv("HLHBAYES_DATA", str(broken))
    result = run("--version")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[2].startswith("content hash: none: ")
    assert "hlhbayes data validate" in result.stdout
