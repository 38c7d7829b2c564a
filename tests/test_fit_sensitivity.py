"""The sensitivity table with every fit: fit makes it, the run folder keeps it, report shows it.

One real batched fit for the whole module (``batched``: random-effects on the shipped base,
the suite's short settings, every scenario in one batch through the compiled engine). Everything
else replaces the batch by fixed scenario rows (``fake_scenarios``): what is under test there
is what the table becomes, not the sampling.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import io
import json
import re
import shutil
from pathlib import Path

import pytest

from conftest import SHORT, cli
from hlhbayes import runs
from hlhbayes.errors import HlhBayesError
from hlhbayes.living import reviewer
from hlhbayes.living.sensitivity import SensitivityResult
from hlhbayes.models.spec import Spec, load_spec
from hlhbayes.reporting import ReportOptions, build_context, open_run
from hlhbayes.reporting.render import render_html
from hlhbayes.reporting.sensitivity import sentence
from test_reporting_findings import MODEL_WORDS, visible

RE_SCENARIOS = [
    "baseline",
    "tau-halfnormal-0.5",
    "tau-halfnormal-2",
    "tau-halfcauchy-1",
    "no-small-series",
    "downweight-small-extreme",
]
"""The table's scenarios for random-effects on the shipped base (tau ~ HalfNormal(1))."""
EL_SCENARIOS = [
    "baseline",
    "tau-halfnormal-0.5",
    "tau-halfnormal-2",
    "tau-halfcauchy-1",
    "sigma_eta-halfnormal-0.5",
    "sigma_eta-halfnormal-2",
    "sigma_eta-halfcauchy-1",
    "no-small-series",
    "downweight-small-extreme",
]
"""The same for etiology-line (sigma_eta ~ HalfNormal(1) too)."""


@pytest.fixture(scope="module")
def batched(tmp_path_factory) -> tuple[dict, Path]:
    """``hlhbayes fit --model random-effects`` (short) with its table, as JSON and a run folder.

    Re-runs of the scenarios that fail their gate (all do, this short) are switched off: they
    are the engine's, tested with it, and would compile two more programs here.
    """
    from hlhbayes import engine
    from hlhbayes.engine.retry import RetryPolicy

    out = tmp_path_factory.mktemp("batched") / "run"
    once = functools.partial(engine.sample_batch_with_retry, policy=RetryPolicy(steps=()))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "sample_batch_with_retry", once)
        result = cli(
            "fit", "--model", "random-effects", *SHORT, "-q", "--format", "json", "--out", out
        )
    assert result.exit_code in (0, 3), result.output
    return json.loads(result.stdout), out


@pytest.mark.sampling
def test_fit_makes_the_table_of_every_scenario_in_one_batch(batched):
    payload, out = batched
    record = payload["sensitivity"]
    rows = record["rows"]
    assert record["columns"] == list(reviewer.COLUMNS)
    assert all(list(r) == list(reviewer.COLUMNS) for r in rows)
    assert [(r["scenario"], r["quantity"]) for r in rows] == [
        (s, q) for s in RE_SCENARIOS for q in ("rate_typical", "rate_new")
    ]
    assert [s["name"] for s in record["scenarios"]] == RE_SCENARIOS
    assert record["cells"] == [[None, None]]
    # the baseline is the fit itself, and every move is measured against it
    own = {r["quantity"]: r for r in payload["summary"]}
    for r in rows:
        assert r["status"] in reviewer.STATUSES
        base = own[r["quantity"]]
        if r["scenario"] == "baseline":
            assert (r["mean"], r["lower"], r["upper"]) == (
                base["mean"],
                base["q2.5"],
                base["q97.5"],
            )
        if r["status"] in ("ok", "not converged"):
            assert 0 < r["lower"] < r["mean"] < r["upper"] < 1
            assert r["lower_vs_baseline"] == pytest.approx(r["lower"] - base["q2.5"])
    # too short to pass the gate: marked, with the numbers, never dropped
    assert payload["diagnostics"]["converged"] is False
    assert {r["status"] for r in rows if r["scenario"] == "baseline"} == {"not converged"}
    assert {r["status"] for r in rows} <= {"ok", "not converged"}
    # one batch, with the fit's seed and sampler settings
    provenance = json.loads((out / "provenance.json").read_text())
    assert record["seed"] == provenance["seed"]
    assert record["sampler"] == provenance["model_spec"]["sampler"]
    assert record["units_hash"] == provenance["units_hash"]
    no_small = next(r for r in rows if r["scenario"] == "no-small-series")
    assert no_small["mean"] != own["rate_typical"]["mean"]  # fitted, not copied


@pytest.mark.sampling
def test_the_run_folder_keeps_the_table_and_reads_it_back(batched):
    payload, out = batched
    record = payload["sensitivity"]
    assert json.loads((out / "sensitivity.json").read_text()) == record
    with (out / "sensitivity.csv").open(newline="") as handle:
        table = list(csv.DictReader(handle))
    assert list(table[0]) == list(reviewer.COLUMNS)
    assert [r["scenario"] for r in table] == [r["scenario"] for r in record["rows"]]
    assert runs.read_run(out).sensitivity == record
    # the summary.json contract is unchanged
    summary = json.loads((out / "summary.json").read_text())
    assert "sensitivity" not in summary


@pytest.mark.sampling
def test_the_report_of_the_run_shows_the_table(batched, tmp_path):
    _, out = batched
    result = cli("report", out, "--out-dir", tmp_path, "--name", "r", "--format", "md", "-q")
    assert result.exit_code == 0, result.output
    text = (tmp_path / "r" / "report.md").read_text()
    rows = table_rows(section(text))
    assert len(rows) == len(RE_SCENARIOS)  # one row per scenario (one cell), none hidden
    assert rows[0].startswith("| **This analysis, as fitted** |")  # flagged: not converged
    assert rows[0].endswith("| NOT CONVERGED: do not use |")
    assert all(ln.endswith(("| NOT CONVERGED: do not use |", "| ok |")) for ln in rows)
    record = runs.read_run(out).sensitivity
    if any(r["status"] == "not converged" for r in record["rows"][2:]):
        assert "did not converge: their rows are flagged" in section(text)
    assert text.index("## 3. Estimates") < text.index("## 4. How sensitive")


# --- the rest: the scenario fits replaced by fixed rows --------------------------------------


def fake_rows(cells, statuses=None):
    """Rows as ``run_sensitivity`` gives them: each scenario lowers both rates a little more."""
    statuses = statuses or {}
    out = []
    for k, name in enumerate(EL_SCENARIOS[1:], start=1):
        status = statuses.get(name, "ok")
        for etiology, line in cells:
            for quantity in ("rate_typical", "rate_new"):
                shown = status in ("ok", "not converged")
                out.append(
                    {
                        "scenario": name,
                        "group": "group",
                        "description": f"{name} as the spec says it",
                        "etiology": etiology,
                        "line": line,
                        "quantity": quantity,
                        "mean": 0.8 - 0.01 * k if shown else None,
                        "q2.5": 0.6 - 0.05 * k if shown else None,
                        "q97.5": 0.95 if shown else None,
                        "status": status,
                        "reason": None if status == "ok" else f"{name}: why",
                    }
                )
    return out


@pytest.fixture
def fake_scenarios(monkeypatch):
    """Replace the batch of scenario fits; the calls made are recorded in the list returned."""
    calls = []

    def fake(baseline, scenarios, cells, log):
        calls.append([s.name for s in scenarios])
        statuses = {"tau-halfnormal-2": "not converged", "sigma_eta-halfcauchy-1": "not run"}
        rows = [
            r for r in fake_rows(cells, statuses) if r["scenario"] in {s.name for s in scenarios}
        ]
        return SensitivityResult(baseline.request.spec.model, "response", rows, {})

    monkeypatch.setattr(reviewer, "run_sensitivity", fake)
    return calls


FIT = ("fit", "--model", "random-effects", *SHORT)


@pytest.mark.sampling
def test_the_table_format_prints_a_compact_table_after_the_fit(fake_scenarios, tmp_path):
    result = cli(*FIT, "--out", tmp_path / "run")
    assert result.exit_code in (0, 3), result.output
    assert fake_scenarios == [RE_SCENARIOS[1:]]  # one batch, the fit itself not again
    lines = result.stdout.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("how sensitive is this answer"))
    assert lines[start - 1] == ""
    assert lines[start + 1].split() == [
        "scenario",
        "typical",
        "typical",
        "95%",
        "new",
        "new",
        "95%",
        "new",
        "lower",
        "vs",
        "fit",
        "status",
    ]  # fmt: skip  (a model without cells: no etiology or line column)
    body = [ln.split()[0] for ln in lines[start + 3 : start + 3 + len(RE_SCENARIOS)]]
    assert body == RE_SCENARIOS
    converged = lines[start + 3 + RE_SCENARIOS.index("tau-halfnormal-2")]
    assert converged.endswith("not converged")
    assert "tau-halfnormal-2: not converged (tau-halfnormal-2: why)" in lines
    # the largest usable move: downweight-small-extreme (its lower bound 0.6 - 0.05 x 8)
    top = reviewer.largest_shift(runs.read_run(tmp_path / "run").sensitivity["rows"])
    base = top["lower"] - top["lower_vs_baseline"]
    assert [ln for ln in lines if ln.startswith("moves most")] == [
        f"moves most: downweight-small-extreme ({top['change']}) takes the lower bound of the "
        f"new-study rate from {base:.3f} to 0.200 ({top['lower_vs_baseline']:+.3f})"
    ]
    assert "WARNING: 1 sensitivity scenario(s) did NOT converge (tau-halfnormal-2)" in (
        result.stderr
    )
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [
        "fit.nc",
        "probabilities.json",
        "provenance.json",
        "sensitivity.csv",
        "sensitivity.json",
        "summary.csv",
        "summary.json",
    ]


@pytest.mark.sampling
def test_csv_stays_one_table_and_names_the_sensitivity_file(fake_scenarios, tmp_path):
    out = tmp_path / "run"
    result = cli(*FIT, "--format", "csv", "--out", out)
    assert result.exit_code in (0, 3), result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows and {r["quantity"] for r in rows} >= {"rate_typical", "rate_new", "mu", "tau"}
    assert f"sensitivity table: {out / 'sensitivity.csv'}" in result.stderr
    quiet = cli(*FIT, "--format", "csv", "--out", tmp_path / "q", "-q")
    assert "sensitivity table:" not in quiet.stderr
    assert (tmp_path / "q" / "sensitivity.csv").is_file()


@pytest.mark.sampling
def test_no_sensitivity_makes_none(fake_scenarios, tmp_path):
    out = tmp_path / "run"
    result = cli(*FIT, "--no-sensitivity", "--format", "json", "--out", out)
    assert result.exit_code in (0, 3), result.output
    assert fake_scenarios == []
    assert "sensitivity" not in json.loads(result.stdout)
    assert not (out / "sensitivity.json").exists() and not (out / "sensitivity.csv").exists()
    assert runs.read_run(out).sensitivity is None


def test_sensitivity_is_refused_with_the_exact_method_and_skipped_by_default(tmp_path):
    args = ("fit", "--model", "random-effects", "--method", "exact")
    refused = cli(*args, "--sensitivity", "--out", tmp_path / "a")
    assert refused.exit_code == 1
    assert refused.stderr.startswith("error: --sensitivity: the sensitivity table refits by MCMC")
    assert not (tmp_path / "a").exists()
    exact = cli(*args, "--out", tmp_path / "b")
    assert exact.exit_code == 0, exact.output
    assert "how sensitive is this answer" not in exact.stdout
    assert "sensitivity table" not in exact.stderr
    assert not (tmp_path / "b" / "sensitivity.json").exists()


def test_a_spec_is_rebuilt_from_the_provenance_it_recorded():
    spec = load_spec("etiology-line", sampler_overrides={"draws": 50})
    assert Spec.from_dict(spec.to_dict()) == spec
    assert Spec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


# --- the report ------------------------------------------------------------------------------


@pytest.fixture
def run_copy(short_run, tmp_path) -> Path:
    """The session's short fit (without a sensitivity table) copied, to be changed."""
    target = tmp_path / "short"
    shutil.copytree(short_run, target)
    return target


def section(markdown: str) -> str:
    return markdown[markdown.index("## 4. How sensitive") : markdown.index("<details>")]


def table_rows(markdown: str) -> list[str]:
    """The body rows of the Markdown tables of ``markdown`` (headers and rules left out)."""
    lines = [ln for ln in markdown.splitlines() if ln.startswith("|")]
    return [ln for ln in lines[2:] if not ln.startswith("|---")]


@pytest.mark.sampling
def test_report_sensitivity_fits_the_table_once_and_keeps_it(
    run_copy, fake_scenarios, tmp_path, monkeypatch
):
    from hlhbayes.reporting.sensitivity import ensure_sensitivity

    monkeypatch.chdir(run_copy.parent)
    args = ("report", "short", "--format", "md", "--out-dir", tmp_path, "--etiology", "infection")
    # without the table and without --sensitivity: the report says how to get it
    result = cli(*args, "--name", "without", "-q")
    assert result.exit_code == 0, result.output
    text = section((tmp_path / "without" / "report.md").read_text())
    assert "The sensitivity analyses were not run for this fit" in text
    assert "`hlhbayes report short --sensitivity`" in text
    assert "|" not in text and fake_scenarios == []  # no table, nothing fitted
    # with --sensitivity: fitted once, kept in the run folder, shown
    result = cli(*args, "--sensitivity", "--name", "with", "-q")
    assert result.exit_code == 0, result.output
    assert fake_scenarios == [EL_SCENARIOS[1:]]
    record = runs.read_run(run_copy).sensitivity
    assert record["cells"] == [["infection", "first"], ["infection", "later"]]
    assert record["command"][0] == "hlhbayes"  # the command that made it (here: pytest's argv)
    provenance = runs.read_run(run_copy).provenance
    assert (record["seed"], record["units_hash"]) == (provenance["seed"], provenance["units_hash"])
    text = (tmp_path / "with" / "report.md").read_text()
    rows = table_rows(section(text))
    assert len(rows) == 2 * len(EL_SCENARIOS)  # two cells, each with its scenarios together
    first, later = rows[0], rows[len(EL_SCENARIOS)]
    assert first.startswith("| **Infection-triggered sHLH, anakinra as the first treatment** |")
    assert rows[1].startswith("|  | Studies assumed more alike")  # the cell named once
    assert "anakinra after another treatment failed** | This analysis, as fitted |" in later
    # the table is kept: asking again for those cells fits nothing
    ensure_sensitivity(open_run(run_copy), [("infection", "first")])
    assert len(fake_scenarios) == 1
    # a cell the table lacks is fitted with those it has
    ensure_sensitivity(open_run(run_copy), [("rheumatic", "first")])
    assert len(fake_scenarios) == 2
    assert runs.read_run(run_copy).sensitivity["cells"] == [
        ["infection", "first"],
        ["infection", "later"],
        ["rheumatic", "first"],
    ]


@pytest.mark.sampling
def test_the_report_table_in_patients_of_100_with_one_plain_sentence(run_copy, fake_scenarios):
    from hlhbayes.reporting.sensitivity import ensure_sensitivity

    opened = open_run(run_copy)
    ensure_sensitivity(opened, [("infection", "first")])
    record = runs.read_run(run_copy).sensitivity
    own = {(r["quantity"], r["etiology"], r["line"]): r for r in opened.summary["summary"]}
    context = build_context(open_run(run_copy), ReportOptions(etiologies=("infection",)))
    block = context["sensitivity"]
    assert block["shown"] and block["missing"].startswith("Not in the sensitivity table")
    assert "anakinra after another treatment failed" in block["missing"]
    table = block["table"]
    assert table["columns"][0] == "What changes"  # one cell shown: no cell column
    cells = [r["cells"] for r in table["rows"]]
    assert len(cells) == len(EL_SCENARIOS)
    base = own[("rate_new", "infection", "first")]
    assert cells[0][2] == (
        f"{100 * base['mean']:.0f} ({100 * base['q2.5']:.0f} to {100 * base['q97.5']:.0f})"
    )
    assert cells[0][3] == "0"
    flagged = [r for r in table["rows"] if r["cls"] == "flag"]  # the short fit itself, and one
    assert [r["cells"][0] for r in flagged] == [
        "This analysis, as fitted",
        "Studies allowed to differ more (the prior on how much the studies differ twice as wide)",
    ]
    assert flagged[1]["cells"][-1] == "NOT CONVERGED: do not use"
    not_run = table["rows"][EL_SCENARIOS.index("sigma_eta-halfcauchy-1")]
    assert not_run["cells"][1:4] == ["", "", ""]
    assert not_run["cells"][4] == "not run: sigma_eta-halfcauchy-1: why"
    # the sentence: the largest usable move of the new-centre lower end
    top = reviewer.largest_shift([r for r in record["rows"] if r["line"] == "first"])
    assert top["scenario"] == "downweight-small-extreme"
    moved = round(100 * abs(top["lower_vs_baseline"]))
    assert block["sentence"].startswith(
        "The scenario that moves the answer most is “series of fewer than 10 patients in which "
        "every patient responded counted as half their size"
    )
    assert re.search(
        rf"”: for infection-triggered sHLH, anakinra as the first treatment, the lower end of the "
        rf"range expected in a new centre goes from \d+ to 20 responders of 100 \({moved} fewer\)"
        rf"\. 1 of the 8 scenarios did not converge",
        block["sentence"],
    ), block["sentence"]
    # and it speaks no model vocabulary (the section comes before the appendices)
    html = render_html(context)
    words = visible(html[html.index('<section id="sensitivity"') : html.index("<details")])
    for word in MODEL_WORDS:
        assert not re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", words), word


def test_the_sentence_when_nothing_moves_or_nothing_is_usable():
    rows = [
        {
            "scenario": name,
            "in_words": "X",
            "etiology": None,
            "line": None,
            "quantity": "rate_new",
            "lower": 0.5,
            "lower_vs_baseline": shift,
            "status": status,
        }
        for name, shift, status in (
            ("baseline", 0.0, "ok"),
            ("a", 0.004, "ok"),
            ("b", -0.3, "not converged"),
        )
    ]
    assert sentence(rows, 1.0, "response") == (
        "No scenario moves the lower end of the range expected in a new centre by more than its "
        "Monte Carlo error (about 1 of 100). 1 of the 2 scenarios did not converge: their rows "
        "are flagged and their numbers are not to be used."
    )
    rows[1]["status"] = "not run"
    assert sentence(rows, 1.0, "response").startswith("No scenario gave usable numbers")


def test_a_table_is_added_only_to_a_run_folder(tmp_path):
    record = {"columns": list(reviewer.COLUMNS), "rows": []}
    with pytest.raises(HlhBayesError, match="not a run folder"):
        runs.add_sensitivity(tmp_path, record)
    assert list(tmp_path.iterdir()) == []


# --- the Python API --------------------------------------------------------------------------


@pytest.mark.sampling
def test_fit_sensitivity_in_the_api_is_made_once_and_saved(short_fit, fake_scenarios, tmp_path):
    import hlhbayes

    fit = hlhbayes.Fit(dataclasses.replace(short_fit.result), prepared=short_fit.prepared)
    frame = fit.sensitivity()
    assert list(frame.columns) == list(reviewer.COLUMNS)
    assert frame["scenario"].drop_duplicates().tolist() == EL_SCENARIOS
    assert frame.attrs["record"]["cells"] == [
        [e, ln]
        for e in ("infection", "malignancy", "rheumatic", "other", "unknown")
        for ln in ("first", "later")
    ]
    fit.sensitivity()
    assert len(fake_scenarios) == 1  # made once
    assert short_fit.result.sensitivity is None  # the session's fit is untouched
    saved = fit.save(tmp_path / "run")
    assert runs.read_run(saved).sensitivity == frame.attrs["record"]
    # a Fit made without its preparation prepares again from the provenance
    bare = hlhbayes.Fit(dataclasses.replace(short_fit.result))
    assert bare.sensitivity()["scenario"].drop_duplicates().tolist() == EL_SCENARIOS
