"""``hlhbayes update``: the README's worked example, later updates, and refusals that change nothing.

Sampling uses tiny settings (2 chains x 150 draws): the numbers are not checked, the structure,
the files and the safety properties are. Fits may fail the convergence gate at these settings
(exit 3, results still written), which the tests accept.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from conftest import DATA, snapshot
from hlhbayes.cli import main
from hlhbayes.runs import history_dir

FIXTURES = Path(__file__).resolve().parent / "fixtures"
AGGREGATE = FIXTURES / "example_aggregate_study.yaml"
README = Path(__file__).resolve().parents[1] / "README.md"
TINY = ["--draws", "150", "--tune", "150", "--chains", "2", "--quiet"]


def run(*args: str | Path):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def readme_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## Living evidence\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def readme_commands() -> list[list[str]]:
    """The commands of the README's first ``sh`` block of the section (comments dropped)."""
    block = re.findall(r"```sh\n(.*?)```", readme_section(), flags=re.DOTALL)[0]
    out = []
    for line in block.splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("hlhbayes "):
            out.append(shlex.split(line)[1:])
    return out


def with_folders(args: list[str], data: Path, runs: Path, sampler=tuple(TINY)) -> list[str]:
    """The README command pointed at scratch folders, with tiny sampler settings."""
    if args[:2] == ["data", "add"]:
        return [*args, "--data", str(data)]
    if args[0] == "update":
        return [*args, "--data", str(data), "--runs", str(runs), *sampler]
    raise AssertionError(f"unexpected README command {args}")


def test_readme_section_shows_the_tested_files():
    section = readme_section()
    yaml_blocks = re.findall(r"```yaml\n(.*?)```", section, flags=re.DOTALL)
    assert yaml_blocks == [AGGREGATE.read_text(encoding="utf-8")]
    assert readme_commands() == [
        ["data", "add", "example_study.yaml", "--patients", "example_patients.csv"],
        ["data", "add", "example_aggregate_study.yaml"],
        ["update", "--new", "Example2024", "--new", "Example2025"],
    ]


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> dict:
    """The README example run in scratch folders: two series added, then one update."""
    root = tmp_path_factory.mktemp("living")
    data, runs = root / "data", root / "runs"
    shutil.copytree(DATA, data)
    results = []
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(FIXTURES)
        for args in readme_commands():
            results.append(run(*with_folders(args, data, runs)))
    return {"data": data, "runs": runs, "results": results}


@pytest.mark.sampling
def test_readme_example_adds_compares_and_checks_conflict(example):
    adds, update = example["results"][:2], example["results"][2]
    assert [r.exit_code for r in adds] == [0, 0]
    assert update.exit_code in (0, 3), update.output
    out = update.stdout
    runs = example["runs"]
    for model in ("etiology-line", "random-effects"):
        folder = history_dir(runs, model, "response")
        name = (folder / "LATEST").read_text().strip()
        assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{12}", name)
        assert f"== {model}/response: baseline+update ==" in out
        assert f"new run:  {folder / name} (data {name[-12:]})" in out
        assert f"baseline: {folder / name}-baseline (without Example2024, Example2025)" in out
        run_dir = folder / name
        files = {p.name for p in run_dir.iterdir()}
        assert files == {
            "fit.nc",
            "summary.json",
            "summary.csv",
            "probabilities.json",
            "provenance.json",
            "changes.json",
            "changes.csv",
            "conflict.csv",
            "changes.png",
        }
        changes = json.loads((run_dir / "changes.json").read_text())
        assert changes["previous_run"] == f"{folder / name}-baseline"
        assert changes["new_studies"] == ["Example2024", "Example2025"]
        summary = json.loads((run_dir / "summary.json").read_text())
        assert len(changes["changes"]) == len(summary["summary"])
        for record in changes["changes"]:
            assert record["shift_sd"] is not None and record["width_change"] is not None
        provenance = json.loads((run_dir / "provenance.json").read_text())
        assert provenance["update"]["new_studies"] == ["Example2024", "Example2025"]
    assert out.count("new studies: Example2024, Example2025") == 2
    # the etiology-line conflict table: patient rows and each stratum of the new studies
    conflict = pd.read_csv(
        history_dir(runs, "etiology-line", "response")
        / (history_dir(runs, "etiology-line", "response") / "LATEST").read_text().strip()
        / "conflict.csv"
    )
    assert conflict[["study", "unit", "observed", "total"]].values.tolist() == [
        ["Example2024", "patient rows (3)", 2, 3],
        ["Example2024", "response-others", 3, 5],
        ["Example2025", "response-overall", 4, 11],
    ]
    assert ((conflict["p_value"] > 0) & (conflict["p_value"] <= 1)).all()
    assert re.search(r"Example2025 +stratum response-overall +4/11 +\d", out)
    assert "prior-data conflict of the new studies with the previous fit's predictive" in out
    assert re.search(r"^rate_typical +infection +first +0\.\d{3} \[", out, flags=re.MULTILINE)
    assert re.search(r"^moved most: ", out, flags=re.MULTILINE)


@pytest.mark.sampling
def test_up_to_date_then_a_later_series_is_compared_with_the_latest_run(example, tmp_path):
    data, runs = example["data"], example["runs"]
    before = snapshot(runs)
    again = run("update", "--data", data, "--runs", runs, *TINY)
    assert again.exit_code == 0, again.output
    assert again.stdout.count("up to date ==") == 2
    assert snapshot(runs) == before  # nothing fitted, nothing written
    # a third series, added the usual way: the previous run is the latest in the history
    text = AGGREGATE.read_text().replace("Example2025", "Example2026")
    text = text.replace("https://example.org/hlhbayes/example2026", "https://example.org/x")
    new = tmp_path / "Example2026.yaml"
    new.write_text(text)
    assert run("data", "add", new, "--data", data).exit_code == 0
    folder = history_dir(runs, "random-effects", "response")
    previous = folder / (folder / "LATEST").read_text().strip()
    result = run("update", "--model", "random-effects", "--data", data, "--runs", runs, *TINY)
    assert result.exit_code in (0, 3), result.output
    assert "== random-effects/response: update ==" in result.stdout
    assert f"previous: {previous} (data " in result.stdout
    assert "new studies: Example2026" in result.stdout
    assert re.search(r"Example2026 +study total +4/11 ", result.stdout)
    after = snapshot(runs)
    # earlier runs untouched; only the pointers to the newest run may change
    assert all(after[k] == v for k, v in before.items() if not k.endswith("LATEST"))
    assert (folder / "LATEST").read_text().strip() != previous.name


@pytest.mark.slow
def test_readme_example_at_default_settings(tmp_path, monkeypatch):
    """The README's numbers: default settings converge and flag Example2025's 4/11."""
    data, runs = tmp_path / "data", tmp_path / "runs"
    shutil.copytree(DATA, data)
    monkeypatch.chdir(FIXTURES)
    results = []
    for args in readme_commands():
        results.append(run(*with_folders(args, data, runs, sampler=("--quiet",))))
    assert [r.exit_code for r in results] == [0, 0, 0], results[-1].output
    out = results[-1].stdout
    assert out.count("diagnostics: ") == 2 and "NOT CONVERGED" not in out
    assert re.search(
        r"Example2025 +stratum response-overall +4/11 .* CONFLICT \(fewer than predicted\)", out
    )
    assert re.search(r"Example2024 +patient rows \(3\) +2/3 .* -$", out, flags=re.MULTILINE)


# --------------------------------------------------------------------------------------------
# refusals and failures change nothing


@pytest.fixture
def scratch(tmp_path) -> tuple[Path, Path]:
    data, runs = tmp_path / "data", tmp_path / "runs"
    shutil.copytree(DATA, data)
    folder = runs / "random-effects-response"  # a previous run of fit
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(
        json.dumps({"model": "random-effects", "outcome": "response", "summary": []})
    )
    return data, runs


def _unchanged(data: Path, runs: Path):
    before = (snapshot(data), snapshot(runs), sorted(p for p in runs.rglob("*")))

    def check() -> None:
        assert (snapshot(data), snapshot(runs), sorted(p for p in runs.rglob("*"))) == before

    return check


def test_malformed_or_duplicate_series_is_refused(scratch, tmp_path):
    data, runs = scratch
    check = _unchanged(data, runs)
    bad = tmp_path / "bad.yaml"
    bad.write_text(AGGREGATE.read_text().replace("events: 4\n", "events: 14\n"))
    result = run("data", "add", bad, "--data", data)
    assert result.exit_code == 1
    assert "events (14) > total (11)" in result.stderr
    duplicate = tmp_path / "dup.yaml"
    duplicate.write_text(AGGREGATE.read_text().replace("Example2025", "Baverez2022"))
    result = run("data", "add", duplicate, "--data", data)
    assert result.exit_code == 1
    assert "study 'Baverez2022' exists; use --replace to replace it" in result.stderr
    check()


def test_update_on_a_broken_base_is_refused(scratch):
    data, runs = scratch
    (data / "studies" / "Broken2026.yaml").write_text("study: {id: Broken2026}\n")
    check = _unchanged(data, runs)
    result = run("update", "--data", data, "--runs", runs, *TINY)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert "Broken2026" in result.stderr
    check()


def test_unknown_new_study_is_refused(scratch):
    data, runs = scratch
    check = _unchanged(data, runs)
    result = run("update", "--new", "Nobody2030", "--data", data, "--runs", runs)
    assert result.exit_code == 1
    assert result.stderr == f"error: --new Nobody2030: not in the evidence base {data}\n"
    check()


def test_dry_run_plans_without_fitting(scratch):
    data, runs = scratch
    check = _unchanged(data, runs)
    result = run("update", "--dry-run", "--data", data, "--runs", runs)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "dry run: etiology-line/response: baseline"
    assert lines[1] == "  previous run: none"
    assert "dry run: random-effects/response: update" in lines
    assert f"  previous run: {runs / 'random-effects-response'}" in lines
    check()


@pytest.mark.sampling
def test_a_failure_part_way_writes_nothing(scratch, monkeypatch):
    import hlhbayes.runs

    data, runs = scratch
    shutil.rmtree(runs / "random-effects-response")
    check = _unchanged(data, runs)
    real = hlhbayes.runs.fill_run

    def broken(result, folder):
        real(result, folder)  # the run folder is half-way through staging ...
        raise OSError("disk full")  # ... when the disk fills up

    monkeypatch.setattr(hlhbayes.runs, "fill_run", broken)
    result = run("update", "--model", "random-effects", "--data", data, "--runs", runs, *TINY)
    assert result.exit_code == 1
    assert result.stderr == "error: disk full\n"  # one line, no traceback
    check()
    assert not (runs / "history").exists()
