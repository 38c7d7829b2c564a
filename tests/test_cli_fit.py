"""``hlhbayes fit`` end to end through Click's CliRunner."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import arviz as az
import pytest
from click.testing import CliRunner

from conftest import SHORT, SHORT_SAMPLER
from hlhbayes.cli import main
from hlhbayes.datatree import observed_log_likelihood
from hlhbayes.evidence import load_evidence
from hlhbayes.exact import random_effects_exact
from hlhbayes.models.units import Filters, build_units
from table_text import read_table, records

AS_CSV = """study,r,n
Study 1,23,107
Study 2,12,44
Study 3,19,51
Study 4,9,39
Study 5,39,139
Study 6,6,20
Study 7,9,78
Study 8,10,35
"""
SUMMARY_KEYS = {"model", "outcome", "data_hash", "seed", "summary", "diagnostics"}
ADDITIVE_KEYS = {"support", "notes"}  # later additions; the contract's keys are unchanged
RECORD_KEYS = [
    "quantity",
    "etiology",
    "line",
    "mean",
    "sd",
    "q2.5",
    "q50",
    "q97.5",
    "mcse_mean",
    "ess_bulk",
    "r_hat",
]
DIAGNOSTIC_KEYS = {"max_r_hat", "min_ess_bulk", "divergences", "converged"}


@pytest.fixture
def as_csv(tmp_path: Path) -> Path:
    path = tmp_path / "as.csv"
    path.write_text(AS_CSV)
    return path


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_exact_random_effects_on_a_user_table(as_csv, tmp_path):
    out = tmp_path / "run"
    result = run(
        "fit",
        "--model",
        "random-effects",
        "--data",
        str(as_csv),
        "--method",
        "exact",
        "--prior-mu-sd",
        "2",
        "--threshold",
        "0.2",
        "--threshold",
        "0.3",
        "--out",
        str(out),
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    summary = json.loads((out / "summary.json").read_text())
    assert SUMMARY_KEYS <= set(summary) <= SUMMARY_KEYS | ADDITIVE_KEYS
    assert summary["model"] == "random-effects"
    assert summary["diagnostics"]["converged"] is True
    assert [r["quantity"] for r in summary["summary"]] == ["mu", "tau", "rate_typical", "rate_new"]
    for record in summary["summary"]:
        assert list(record) == RECORD_KEYS
        assert record["etiology"] is None and record["line"] is None
    reference = {
        r["quantity"]: r
        for r in random_effects_exact(
            [23, 12, 19, 9, 39, 6, 9, 10], [107, 44, 51, 39, 139, 20, 78, 35], mu_sd=2.0
        ).summary()
    }
    for record in summary["summary"]:
        assert record["mean"] == pytest.approx(reference[record["quantity"]]["mean"])
        assert record["q97.5"] == pytest.approx(reference[record["quantity"]]["q97.5"])
    probs = {(p["quantity"], p["threshold"]): p["probability"] for p in payload["probabilities"]}
    assert set(probs) == {(q, t) for q in ("rate_typical", "rate_new") for t in (0.2, 0.3)}
    assert probs[("rate_new", 0.2)] > probs[("rate_new", 0.3)]
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["method"] == "exact"
    assert provenance["model_spec"]["priors"]["mu"] == {"family": "normal", "mu": 0.0, "sigma": 2.0}


def test_table_output_lists_both_rates(as_csv, tmp_path):
    result = run(
        "fit",
        "--model",
        "random-effects",
        "--data",
        str(as_csv),
        "--method",
        "exact",
        "--out",
        str(tmp_path / "r"),
    )
    assert result.exit_code == 0, result.output
    header, rows = read_table(result.stdout)
    assert header == ["etiology", "line", "quantity", "mean", "median", "95% interval", "P(>0.5)"]
    assert [r[:3] for r in rows] == [["-", "-", "rate_typical"], ["-", "-", "rate_new"]]
    summary = {
        r["quantity"]: r
        for r in json.loads((tmp_path / "r" / "summary.json").read_text())["summary"]
    }
    new = summary["rate_new"]
    assert rows[1][3:6] == [
        f"{new['mean']:.3f}",
        f"{new['q50']:.3f}",
        f"[{new['q2.5']:.3f}, {new['q97.5']:.3f}]",
    ]
    assert re.fullmatch(r"[<>]?[01]\.\d{3}", rows[1][6])  # a probability, rounded as one
    lines = result.stdout.splitlines()
    assert lines[4].startswith("hyperparameters: mu ")


def test_bad_table_is_one_line_per_problem_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("study,events,total\nA,3,10\nB,12,10\nC,x,5\n")
    out = tmp_path / "run"
    result = run(
        "fit",
        "--model",
        "random-effects",
        "--data",
        str(bad),
        "--method",
        "exact",
        "--out",
        str(out),
    )
    assert result.exit_code == 1
    assert f"{bad}: row 3: events: events 12 > total 10" in result.stderr
    assert f"{bad}: row 4: events: must be a whole number from 0 to 1000000, got 'x'" in (
        result.stderr
    )
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--prior", "nope=normal:0,1"], "unknown prior 'nope'"),
        (["--prior", "tau=gamma:1,1"], "unknown prior family 'gamma'"),
        (
            ["--prior", "tau=normal:0,1"],
            "prior 'tau' (command line) must use a positive (half-) family",
        ),
        (["--prior-tau", "halfnormal:-1"], "sigma must be > 0"),
        (["--threshold", "1"], "--threshold must lie strictly between 0 and 1"),
        (
            ["--exclude-study", "Nobody2020"],
            "--exclude-study 'Nobody2020' is not in the evidence base",
        ),
        (["--method", "exact"], "--method exact is available for --model random-effects only"),
    ],
)
def test_bad_options_fail_before_sampling(args, message, tmp_path):
    result = run("fit", "--out", str(tmp_path / "r"), *args)
    assert result.exit_code == 1
    assert message in result.stderr
    assert not (tmp_path / "r").exists()


def test_a_missing_nutpie_is_one_clear_line_before_sampling(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "nutpie" else real(name, *a)
    )
    result = run("fit", "--sampler", "nutpie", "--out", str(tmp_path / "r"))
    assert result.exit_code == 1
    assert result.stderr.startswith("error: --sampler nutpie: nutpie is not installed;")
    assert len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_random_effects_has_no_etiology(tmp_path):
    result = run(
        "fit", "--model", "random-effects", "--etiology", "infection", "--out", str(tmp_path / "r")
    )
    assert result.exit_code == 1
    assert "random-effects has no etiology or line" in result.stderr


def test_dry_run_prints_model_and_samples_nothing(tmp_path):
    out = tmp_path / "r"
    result = run("fit", "--etiology", "infection", "--dry-run", "--out", str(out))
    assert result.exit_code == 0, result.output
    text = result.stdout
    u = build_units(load_evidence(), Filters()).describe()  # the default units of the base
    assert (
        f"dry run: etiology-line, outcome response: {u['studies']} studies, {u['events']} events "
        f"in {u['total']} patients ({u['patients']} reported one by one, "
        f"{u['total'] - u['patients']} in {u['strata']} aggregate strata); data "
    ) in text
    priors = {r["parameter"]: r["prior"] for r in records(text, "priors:")}
    assert priors == {
        "alpha": "Normal(0, 1.5)",
        "sigma_eta": "HalfNormal(1)",
        "tau": "HalfNormal(1)",
        "gamma": "Normal(0, 1)",
    }
    assert f"dims: study {u['studies']}, patient {u['patients']}, stratum {u['strata']}" in text
    predictive = {r["quantity"]: r for r in records(text, "prior predictive:")}
    assert list(predictive) == ["alpha", "sigma_eta", "tau", "gamma", "rate_typical", "rate_new"]
    assert predictive["rate_new"][""] == "range over cells" and predictive["tau"][""] == ""
    assert 0 < float(predictive["tau"]["2.5%"]) < float(predictive["tau"]["97.5%"])
    assert f"observed events {u['events']}" in text
    # the sensitivity table the fit would make after it: its refitted scenarios, by name
    refits = next(ln for ln in text.splitlines() if ln.startswith("sensitivity table: "))
    named = refits[refits.index("(") + 1 : refits.rindex(")")].split(", ")
    assert named[:3] == ["tau-halfnormal-0.5", "tau-halfnormal-2", "tau-halfcauchy-1"]
    assert f"after the fit, {len(named)} scenarios refitted" in refits
    assert refits.endswith("--no-sensitivity skips it")
    as_json = json.loads(
        run("fit", "--etiology", "infection", "--dry-run", "--format", "json").stdout
    )
    assert as_json["sensitivity"] == {"refitted_scenarios": named}
    without = run(
        "fit", "--etiology", "infection", "--dry-run", "--no-sensitivity", "--format", "json"
    )
    assert json.loads(without.stdout)["sensitivity"] is None
    assert not out.exists()


def test_a_death_fit_says_when_its_deaths_were_counted_in_patients():
    from hlhbayes.evidence.schema import TIMEFRAME_WORDS

    result = run("fit", "--outcome", "death", "--dry-run")
    assert result.exit_code == 0, result.output
    u = build_units(load_evidence(), Filters(outcome="death")).describe()
    frames = u["death_timeframes"]
    assert sum(frames.values()) == u["total"]  # every patient once, in one timeframe
    said = ", ".join(f"{TIMEFRAME_WORDS[k]} ({n} patients)" for k, n in frames.items())
    assert f"; deaths counted {said}; data " in result.stdout


@pytest.mark.sampling
def test_failed_gate_exits_3_and_still_writes_results(tmp_path):
    out = tmp_path / "r"
    args = ["fit", *SHORT, "--quiet", "--no-sensitivity"]
    result = run(*args, "--out", str(out))
    assert result.exit_code == 3
    assert "WARNING: the fit did NOT converge" in result.stderr
    assert "run more --draws" in result.stderr
    # the table on stdout says so itself, not only stderr
    assert result.stdout.splitlines()[-1].startswith("NOT CONVERGED (max R-hat ")
    assert result.stdout.splitlines()[-1].endswith("do not use these estimates")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["diagnostics"]["converged"] is False
    assert set(summary["diagnostics"]) == DIAGNOSTIC_KEYS
    cells = {(r["quantity"], r["etiology"], r["line"]) for r in summary["summary"]}
    cell_later_new = ("rate_new", "infection", "later")
    assert cell_later_new in cells
    tree = az.from_netcdf(out / "fit.nc")
    for group in (
        "posterior",
        "sample_stats",
        "prior",
        "prior_predictive",
        "posterior_predictive",
        "log_likelihood",
        "observed_data",
    ):
        assert group in tree.children, group
    log_likelihood = tree["log_likelihood"].to_dataset()
    assert list(log_likelihood.data_vars) == ["y"]  # one variable: az.loo needs no var_name
    chains, draws = SHORT_SAMPLER["chains"], SHORT_SAMPLER["draws"]
    assert observed_log_likelihood(log_likelihood, "y_patient").shape == (chains, draws, 21)
    # same inputs and seed: identical numbers
    again = tmp_path / "again"
    as_csv = run(*args, "--out", str(again), "--format", "csv")
    assert (again / "summary.json").read_text() == (out / "summary.json").read_text()
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))  # so does every CSV row
    assert rows and {r["converged"] for r in rows} == {"False"}
    # the run folder's summary.csv: every record, each with what its estimate rests on
    saved = list(csv.DictReader(io.StringIO((again / "summary.csv").read_text())))
    assert [r["quantity"] for r in saved] == [r["quantity"] for r in summary["summary"]]
    later = next(r for r in saved if (r["quantity"], r["etiology"], r["line"]) == cell_later_new)
    (support,) = [
        c for c in summary["support"]["cells"] if (c["etiology"], c["line"]) == cell_later_new[1:]
    ]
    assert later["words"] == support["words"] and later["words"]
    assert later["flags"] == ", ".join(support["flags"])
    assert float(later["direct_patients"]) == support["direct_patients"]
    assert float(later["borrowed"]) == support["borrowed"]
    printed = {(r["quantity"], r["etiology"], r["line"]): r for r in rows}
    for row in saved:  # the same row as fit --format csv prints, without its converged column
        key = (row["quantity"], row["etiology"], row["line"])
        assert {**row, "converged": "False"} == printed.get(key, {**row, "converged": "False"})
    assert sum((r["quantity"], r["etiology"], r["line"]) in printed for r in saved) == len(rows)


@pytest.mark.slow
def test_default_fit_converges_and_reports_both_lines(default_fit):
    result, out = default_fit  # hlhbayes fit --etiology infection --out OUT --quiet
    assert result.exit_code == 0, result.stderr
    _, rows = read_table(result.stdout)
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("infection", "first", "rate_typical"),
        ("infection", "first", "rate_new"),
        ("infection", "later", "rate_typical"),
        ("infection", "later", "rate_new"),
    ]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["diagnostics"]["converged"] is True
    assert summary["diagnostics"]["divergences"] == 0
    for r in summary["summary"]:
        assert r["q2.5"] <= r["q50"] <= r["q97.5"]


def test_exact_never_prints_a_moment_it_cannot_compute(tmp_path):
    """All events zero under a half-Cauchy prior: tau has no mean, and says so everywhere."""
    table = tmp_path / "zeros.csv"
    table.write_text("study,events,total\nA,0,10\nB,0,12\nC,0,8\n")
    args = ["fit", "--model", "random-effects", "--data", str(table), "--method", "exact"]
    args += ["--prior-tau", "halfcauchy:1"]
    result = run(*args, "--out", str(tmp_path / "t"))
    assert result.exit_code == 0, result.output
    hyper = next(ln for ln in result.stdout.splitlines() if ln.startswith("hyperparameters: "))
    assert "tau not finite [" in hyper
    assert "note: tau: mean and sd not finite: its posterior density decays like tau^-2" in (
        result.stdout
    )
    result = run(*args, "--out", str(tmp_path / "j"), "--format", "json")
    payload = json.loads(result.stdout)
    tau = next(r for r in payload["summary"] if r["quantity"] == "tau")
    assert tau["mean"] is None and tau["sd"] is None
    assert 0 < tau["q2.5"] < tau["q50"] < tau["q97.5"]
    assert payload["notes"][0].startswith("tau: mean and sd not finite")
    summary = json.loads((tmp_path / "j" / "summary.json").read_text())
    assert summary["notes"] == payload["notes"]
    csv_out = run(*args, "--out", str(tmp_path / "c"), "--format", "csv").stdout
    assert csv_out.splitlines()[2].startswith("tau,,,,,")  # empty mean and sd
    compared = run("compare", str(tmp_path / "t"), str(tmp_path / "j"), "--no-plot")
    assert compared.exit_code == 0, compared.output


WARM_FIT = """
import atexit, sys
heavy = ("pymc", "pytensor", "numba", "numpyro", "arviz", "arviz_stats", "arviz_base",
         "scipy.special", "scipy.stats")
atexit.register(lambda: print("loaded:", *sorted(m for m in heavy if m in sys.modules)))
from hlhbayes.cli.main import main
sys.argv = ["hlhbayes", "fit", "--etiology", "infection", "--no-sensitivity", "-q", "--out", sys.argv[1]]
main()
"""


@pytest.mark.slow
def test_a_warm_fit_is_the_compiled_engine_without_pymc(default_fit, tmp_path):
    """The default fit in a new process, its program cached (by ``default_fit``): the hot path
    loads the program and runs it with JAX alone (no PyMC, PyTensor, Numba or numpyro), computes
    what each estimate rests on without ArviZ, and imports no ``scipy.special`` or
    ``scipy.stats``; it gives the same numbers."""
    _, first = default_fit
    out = tmp_path / "warm"
    done = subprocess.run(
        [sys.executable, "-c", WARM_FIT, str(out)], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "loaded:"
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["model_spec"]["sampler"]["sampler"] == "compiled"
    assert (out / "summary.json").read_text() == (first / "summary.json").read_text()
