"""``hlhbayes update``: the README's worked example, later updates, and refusals that change nothing.

The README's example runs once, at the default settings (its numbers are the README's), and the
tests of its files, output and later updates read that one run. Later updates sample at the
suite's short settings (``conftest.SHORT``): the numbers are not checked, the structure, the files
and the safety properties are. Fits may fail the convergence gate at these settings (exit 3, results
still written), which the tests accept.
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

from conftest import SHORT, copy_base, snapshot
from hlhbayes.cli import main
from hlhbayes.runs import history_dir

FIXTURES = Path(__file__).resolve().parent / "fixtures"
AGGREGATE = FIXTURES / "example_aggregate_study.yaml"
README = Path(__file__).resolve().parents[1] / "README.md"
TINY = [*SHORT, "--quiet"]


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
    """The README example run in scratch folders at the default settings: two series added,
    then one update (four analyses, each a baseline and an update fit)."""
    root = tmp_path_factory.mktemp("living")
    data, runs = root / "data", root / "runs"
    copy_base(data)
    results = []
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(FIXTURES)
        for args in readme_commands():
            results.append(run(*with_folders(args, data, runs, sampler=("--quiet",))))
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
    # the death outcome too: Example2025's deaths (at last follow-up) are new; Example2024's
    # (30-day) are not among the default timeframes, and the update says why
    for model in ("etiology-line", "random-effects"):
        folder = history_dir(runs, model, "death")
        name = (folder / "LATEST").read_text().strip()
        assert f"== {model}/death: baseline+update ==" in out
        assert f"baseline: {folder / name}-baseline (without Example2025)" in out
        assert f"note: Example2024 is not part of {model}/death: deaths counted 30_day" in out
        changes = json.loads((folder / name / "changes.json").read_text())
        assert changes["outcome"] == "death" and changes["new_studies"] == ["Example2025"]
        assert changes["changes"] and changes["conflict"][0]["study"] == "Example2025"
    assert out.count("new studies: Example2025\n") == 2
    assert re.search(r"Example2025 +stratum deaths-overall +5 +11 +\d", out)
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
    assert re.search(r"Example2025 +stratum response-overall +4 +11 +\d", out)
    assert "prior-data conflict of the new studies with the previous fit's predictive" in out
    assert re.search(r"^rate_typical +infection +first +0\.\d{3} \[", out, flags=re.MULTILINE)
    assert re.search(r"^moved most: ", out, flags=re.MULTILINE)


@pytest.mark.sampling
def test_up_to_date_then_a_later_series_is_compared_with_the_latest_run(example, tmp_path):
    data, runs = example["data"], example["runs"]
    before = snapshot(runs)
    again = run("update", "--data", data, "--runs", runs, *TINY)
    assert again.exit_code == 0, again.output
    assert again.stdout.count("up to date ==") == 4
    assert again.stdout.count("note: nothing to update: no new or changed study since ") == 4
    assert again.stdout.endswith(
        "nothing to update: no new or changed study since the previous runs\n"
    )
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
    assert "== random-effects/death: update ==" in result.stdout  # its deaths are new too
    assert f"previous: {previous} (data " in result.stdout
    assert "new studies: Example2026" in result.stdout
    assert re.search(r"Example2026 +study total +4 +11 ", result.stdout)
    after = snapshot(runs)
    # earlier runs untouched; only the pointers to the newest run may change
    assert all(after[k] == v for k, v in before.items() if not k.endswith("LATEST"))
    assert (folder / "LATEST").read_text().strip() != previous.name


@pytest.mark.sampling
def test_a_series_an_analysis_leaves_out_refits_nothing_there(example, tmp_path):
    """A series with response counts only changes the evidence base, not the death analyses'
    evidence: they have nothing to update (no fit, no file), the response analysis is refitted."""
    data, runs = example["data"], example["runs"]
    text = AGGREGATE.read_text().replace("Example2025", "Example2027")
    text = text.replace("https://example.org/hlhbayes/example2027", "https://example.org/y")
    text = text[: text.index("  - id: deaths-overall")]  # its response stratum only
    series = tmp_path / "Example2027.yaml"
    series.write_text(text)
    assert run("data", "add", series, "--data", data).exit_code == 0
    death = history_dir(runs, "random-effects", "death")
    before = snapshot(death)
    only_death = ["update", "--model", "random-effects", "--outcome", "death"]
    result = run(*only_death, "--data", data, "--runs", runs, *TINY)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    latest = death / (death / "LATEST").read_text().strip()
    assert lines[0] == "== random-effects/death: up to date =="
    assert lines[1].startswith(f"note: nothing to update: no new or changed study since {latest}")
    assert lines[1].endswith("now), but not the evidence this analysis fits)")
    assert lines[2:] == ["", "nothing to update: no new or changed study since the previous runs"]
    assert snapshot(death) == before
    both = run("update", "--model", "random-effects", "--data", data, "--runs", runs, *TINY)
    assert both.exit_code in (0, 3), both.output
    assert "== random-effects/death: up to date ==" in both.stdout
    assert "== random-effects/response: update ==" in both.stdout
    assert "new studies: Example2027" in both.stdout
    assert snapshot(death) == before
    # a correction to a study already fitted: no new study, but a changed one, named
    series.write_text(text.replace("events: 4\n", "events: 5\n"))
    assert run("data", "add", series, "--replace", "--data", data).exit_code == 0
    only_response = ["update", "--model", "random-effects", "--outcome", "response"]
    corrected = run(*only_response, "--data", data, "--runs", runs, *TINY)
    assert corrected.exit_code in (0, 3), corrected.output
    assert "new studies: none\nchanged studies: Example2027\n" in corrected.stdout


def test_an_analysis_without_evidence_is_planned_but_not_fitted(tmp_path):
    from hlhbayes.living import update as up
    from hlhbayes.models.spec import load_spec

    spec = load_spec(
        "random-effects", filter_overrides={"outcome": "death", "death_timeframes": ["90_day"]}
    )
    (plan,) = up.plan_update([spec], tmp_path / "runs")
    assert plan.status == "no evidence" and plan.prepared is None
    assert plan.notes == [
        "random-effects/death: no evidence is left for outcome 'death' after filtering "
        "(death timeframes 90_day)"
    ]
    (done,) = up.run_update([plan], tmp_path / "runs")
    assert done.result is None and up.nothing_to_update([done])
    assert up.update_payload(done)["status"] == "no evidence"


@pytest.mark.slow
def test_readme_example_at_default_settings(example):
    """The README's numbers: default settings converge and flag Example2025's 4/11."""
    results = example["results"]
    assert [r.exit_code for r in results] == [0, 0, 0], results[-1].output
    out = results[-1].stdout
    assert out.count("diagnostics: ") == 4 and "NOT CONVERGED" not in out
    assert re.search(
        r"Example2025 +stratum response-overall +4 +11 .* CONFLICT \(fewer than predicted\)", out
    )
    assert re.search(r"Example2024 +patient rows \(3\) +2 +3 .* -$", out, flags=re.MULTILINE)


# --------------------------------------------------------------------------------------------
# refusals and failures change nothing


@pytest.fixture
def scratch(tmp_path) -> tuple[Path, Path]:
    data, runs = tmp_path / "data", tmp_path / "runs"
    copy_base(data)
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
    assert "dry run: etiology-line/death: baseline" in lines
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
