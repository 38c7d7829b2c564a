"""``hlhbayes design`` through click's test runner: outputs, files, exit codes, one-line errors.

Run folders are built here (a ``fit.nc`` DataTree with known beta draws and a ``summary.json``)
so that no sampling is needed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner, Result

from hlhbayes.cli import main
from hlhbayes.design.decision import prob_difference
from hlhbayes.design.mixture import BetaMixture, read_prior_file
from table_text import read_table

AS_JSON = [
    {"w": 0.6167463, "a": 19.1916387, "b": 57.7779318},
    {"w": 0.3832537, "a": 3.5278745, "b": 9.373598},
]


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(main, ["design", *map(str, args)], prog_name="hlhbayes")


def ok(*args: str | Path) -> Result:
    result = run(*args)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


def fails(*args: str | Path) -> str:
    result = run(*args)
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    return result.stderr


@pytest.fixture
def as_prior(tmp_path: Path) -> Path:
    path = tmp_path / "as.json"
    path.write_text(json.dumps(AS_JSON))
    return path


def _write_run(folder: Path, rate_new: xr.DataArray, model: str, converged: bool = True) -> Path:
    folder.mkdir()
    tree = xr.DataTree.from_dict({"posterior": xr.Dataset({"rate_new": rate_new})})
    tree.to_netcdf(folder / "fit.nc")
    summary = {
        "model": model,
        "outcome": "response",
        "diagnostics": {"converged": converged},
        "summary": [],
    }
    (folder / "summary.json").write_text(json.dumps(summary))
    return folder


@pytest.fixture
def el_run(tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)
    values = rng.beta(8.0, 2.0, size=(2, 500, 2, 2))
    values[:, :, 0, 0] = (
        BetaMixture.from_components([(0.7, 40, 10), (0.3, 6, 6)])
        .sample(1000, rng=2)
        .reshape(2, 500)
    )
    da = xr.DataArray(
        values,
        dims=("chain", "draw", "etiology", "line"),
        coords={"etiology": ["infection", "malignancy"], "line": ["first", "later"]},
    )
    return _write_run(tmp_path / "run_el", da, "etiology-line")


@pytest.fixture
def re_run(tmp_path: Path) -> Path:
    rng = np.random.default_rng(3)
    da = xr.DataArray(rng.beta(20.0, 60.0, size=(2, 500)), dims=("chain", "draw"))
    return _write_run(tmp_path / "run_re", da, "random-effects", converged=False)


# ---------------------------------------------------------------------- map
def test_map_writes_prior_and_figure_with_json_summary(el_run: Path):
    result = ok(
        "map", el_run, "--etiology", "infection", "--line", "first", "--format", "json", "-q"
    )
    payload = json.loads(result.stdout)
    prior_file = el_run / "map-infection-first.json"
    assert payload["prior_file"] == str(prior_file) and prior_file.exists()
    assert payload["plot"] == str(el_run / "map-infection-first.png")
    assert (el_run / "map-infection-first.png").stat().st_size > 1000
    assert payload["quantity"] == "rate_new[infection, first]" and payload["draws"] == 1000
    assert set(payload["ess"]) == {"elir", "moment", "morita", "elir_logit"}
    assert payload["ess_notes"] == [] and payload["at_bounds"] == [] and payload["fit_notes"] == []
    assert payload["constrained"] is True
    assert payload["robust"] is None and payload["saved"] == "map"
    saved = read_prior_file(prior_file)
    assert saved.components() == payload["mixture"]
    chosen = [f for f in payload["selection"]["fits"] if f["chosen"]]
    assert len(chosen) == 1 and chosen[0]["components"] == saved.n_components
    assert result.stderr == ""


def test_map_robust_with_fixed_components_saves_the_robust_prior(el_run: Path, tmp_path: Path):
    out = tmp_path / "priors" / "map.json"
    result = ok(
        "map",
        el_run,
        "--etiology",
        "malignancy",
        "--line",
        "later",
        "--components",
        "1",
        "--robust",
        "0.2",
        "--output",
        out,
        "--no-plot",
    )
    saved = read_prior_file(out)
    assert saved.n_components == 2
    assert saved.weights[-1] == pytest.approx(0.2) and (saved.a[-1], saved.b[-1]) == (1.0, 1.0)
    assert not out.with_suffix(".png").exists()
    assert "robust mixture (weight 0.2 on Beta(1, 1))" in result.stdout
    assert result.stdout.startswith("MAP prior rate_new[malignancy, later] from ")
    assert f"wrote prior {out}\n" in result.stderr


def test_map_says_what_the_cell_rests_on(el_run: Path):
    """The cell's record of the run's support block, in the table (one line) and the JSON."""
    summary_path = el_run / "summary.json"
    summary = json.loads(summary_path.read_text())
    cell = {
        "etiology": "infection",
        "line": "later",
        "direct_patients": 0.0,
        "direct_studies": 0,
        "uncertain_patients": 1.5,
        "uncertain_studies": 1,
        "contraction": 0.42,
        "borrowed": 0.97,
        "flags": ["no direct data", "prior-dominated"],
        "words": "no direct data: estimate borrowed from other triggers",
        "notes": [],
    }
    summary["support"] = {"cells": [cell], "hyperparameters": []}
    summary_path.write_text(json.dumps(summary))
    one = ["--components", "1", "--no-plot", "-q"]  # the mixture is not under test: one EM fit
    args = ["map", el_run, "--etiology", "infection", "--line", "later", *one]
    lines = ok(*args).stdout.splitlines()
    assert lines[1] == (
        "what infection, later line rests on: no direct data: estimate borrowed from other "
        "triggers (contraction 0.42, borrowed 0.97)"
    )
    assert json.loads(ok(*args, "--format", "json").stdout)["support"] == cell
    # a cell the block has no record of (as in a run written before it existed): no line, null
    other = ["map", el_run, "--etiology", "infection", "--line", "first", *one]
    assert not ok(*other).stdout.splitlines()[1].startswith("what ")
    assert json.loads(ok(*other, "--format", "json").stdout)["support"] is None


def test_map_of_a_single_cell_run_warns_when_not_converged(re_run: Path):
    result = ok("map", re_run, "--components", "1", "--no-plot", "--format", "json")
    payload = json.loads(result.stdout)
    assert payload["quantity"] == "rate_new" and payload["etiology"] is None
    assert (re_run / "map-all.json").exists()
    assert "did not pass its convergence checks" in result.stderr
    mix = read_prior_file(re_run / "map-all.json")
    assert mix.a[0] == pytest.approx(20, rel=0.15) and mix.b[0] == pytest.approx(60, rel=0.15)


def test_map_errors(el_run: Path, re_run: Path, tmp_path: Path):
    assert fails("map", el_run, "--line", "first") == (
        f"error: {el_run}: give --etiology (one of infection, malignancy)\n"
    )
    assert fails("map", el_run, "--etiology", "rheumatic", "--line", "first") == (
        "error: --etiology rheumatic: not in this run (one of infection, malignancy)\n"
    )
    assert "drop --etiology and --line" in fails("map", re_run, "--etiology", "infection")
    assert fails("map", tmp_path / "nope") == f"error: {tmp_path / 'nope'}: no such run folder\n"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no fit.nc" in fails("map", empty)
    assert (
        fails("map", re_run, "--robust-mean", "0.3")
        == "error: --robust-mean needs --robust WEIGHT\n"
    )
    refused = run("map", re_run, "--robust", "1.5")
    assert refused.exit_code == 2  # a usage error: the option's value, before anything is read
    assert "Invalid value for '--robust': 1.5 is not between 0 and 1." in refused.stderr
    percent = run("map", re_run, "--robust", "20")
    assert "20 is not between 0 and 1; a percentage? did you mean 0.20?" in percent.stderr


# ---------------------------------------------------------------------- ess / robustify
def test_ess_json_contract_and_table(as_prior: Path):
    payload = json.loads(ok("ess", "--prior", as_prior, "--format", "json").stdout)
    assert list(payload) == ["elir", "moment", "morita", "elir_logit", "notes"]
    assert [round(payload[k]) for k in ("elir", "moment", "morita")] == [37, 26, 63]
    assert payload["elir_logit"] == payload["elir"] and payload["notes"] == []
    table = ok("ess", "--prior", as_prior).stdout
    assert table == (
        "prior: 2-component beta mixture, mean 0.259, sd 0.0842\n"
        "method         ESS\n"
        "───────────── ────\n"
        "ELIR          36.8\n"
        "moment        26.0\n"
        "Morita        62.7\n"
        "ELIR (logit)  36.8\n"
    )


def test_ess_of_an_inline_prior_with_undefined_methods():
    result = ok("ess", "--prior", "beta:0.5,1", "--format", "json")
    payload = json.loads(result.stdout)
    assert payload["elir"] is None and payload["morita"] is None
    assert payload["moment"] == pytest.approx(1.5) and payload["elir_logit"] == pytest.approx(1.5)
    assert [n[:24] for n in payload["notes"]] == [
        "ELIR is undefined here: ",
        "Morita's ESS is undefine",
    ]
    assert result.stderr == ""


def test_ess_at_a_shape_of_one_prints_the_reason():
    assert ok("ess", "--prior", "beta:12,1").stdout == (
        "prior: Beta(12, 1), mean 0.923, sd 0.0712\n"
        "method         ESS\n"
        "───────────── ────\n"
        "ELIR          1.00\n"
        "moment        13.0\n"
        "Morita           -\n"
        "ELIR (logit)  13.0\n"
        "note: ELIR is degenerate here: it averages the curvature of the prior's log density over "
        "the prior,\n"
        "      in units of the information one patient's outcome carries, and a beta with a shape "
        "equal to 1\n"
        "      has no curvature on that side, so ELIR credits component 1 (Beta(12, 1)) with 1 "
        "patient\n"
        "      instead of a + b = 13, jumping at 1 (a shape just above 1 counts in full). Quote "
        "the ELIR on\n"
        "      the logit scale, 13.0, which counts every Beta(a, b) as a + b and equals the ELIR "
        "when all\n"
        "      shapes exceed 1 (or the moment ESS, 13.0, conservative).\n"
        "note: Morita's ESS is undefined: the prior's density is highest at p = 1, and Morita's "
        "method takes\n"
        "      the prior's curvature at its highest point, which is not finite at an edge.\n"
    )


def test_a_negative_elir_never_goes_without_a_note(tmp_path: Path):
    prior = "mix:0.2,45.5,1+0.8,1,1"
    payload = json.loads(ok("ess", "--prior", prior, "--format", "json").stdout)
    assert payload["elir"] < 0 < payload["elir_logit"]
    assert payload["notes"][0].startswith("ELIR is negative (-3.30), which no sample size can be")
    for command in (
        ["ess", "--prior", prior],
        ["robustify", "--prior", prior, "--weight", "0.1", "--output", tmp_path / "r.json"],
        ["oc", "--prior", prior, "--n", "10", "--p0", "0.5", "--prob", "0.9", "--rates", "0.5"],
        ["posterior", "--prior", prior, "--responders", "3", "--n", "10"],
    ):
        out = ok(*command).stdout
        assert "note: ELIR is negative" in out, command


def test_robustify_writes_the_rbest_robust_prior(as_prior: Path, tmp_path: Path):
    out = tmp_path / "robust.json"
    result = ok(
        "robustify", "--prior", as_prior, "--weight", "0.2", "--output", out, "--format", "json"
    )
    payload = json.loads(result.stdout)
    assert [round(c["w"], 6) for c in payload["mixture"]] == [0.493397, 0.306603, 0.2]
    assert round(payload["ess"]["elir"]) == 26
    assert read_prior_file(out).components() == payload["mixture"]


def test_robustify_table_of_components(tmp_path: Path):
    """Beta(10, 20) with 0.2 on Beta(0.4 x 5, 0.6 x 5): the mixture's mean is 0.8/3 + 0.08."""
    out = tmp_path / "robust.json"
    args = ["--weight", "0.2", "--mean", "0.4", "--n", "4", "--output", out]
    lines = ok("robustify", "--prior", "beta:10,20", *args).stdout.splitlines()
    assert lines[:5] == [
        "robust prior: 2-component beta mixture, mean 0.347, sd 0.120",
        "comp      w     a     b   mean",
        "───── ────── ───── ───── ─────",
        "   1  0.800  10.0  20.0  0.333",
        "   2  0.200  2.00  3.00  0.400",
    ]
    assert lines[5].startswith("ESS: ELIR ")


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        ('[{"w": 1, "a": -1, "b": 2}]', "entry 1: field 'a': must be > 0 (got -1)"),
        ('[{"w": 0.5, "a": 1, "b": 2}, {"w": 0.5, "a": 1}]', "entry 2: field 'b' is missing"),
        ("not json", "not valid JSON (line 1, column 1: Expecting value)"),
    ],
)
def test_bad_prior_file_is_a_one_line_error(tmp_path: Path, content: str, detail: str):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    for command in (
        ["ess", "--prior", bad],
        ["oc", "--prior", bad, "--n", "10", "--p0", "0.3", "--prob", "0.9"],
        [
            "oc2",
            "--prior-treat",
            "beta:1,1",
            "--prior-control",
            bad,
            "--n-treat",
            "5",
            "--n-control",
            "5",
            "--prob",
            "0.9",
        ],
    ):
        assert fails(*command) == f"error: {bad}: {detail}\n"
    assert fails("ess", "--prior", tmp_path / "none.json").startswith(
        f"error: {tmp_path / 'none.json'}: no such prior file"
    )


# ---------------------------------------------------------------------- decide
def test_decide_reproduces_the_vignette_probability(as_prior: Path, tmp_path: Path):
    robust = tmp_path / "robust.json"
    ok("robustify", "--prior", as_prior, "--weight", "0.2", "--output", robust)
    result = ok(
        "decide",
        "--prior-treat",
        "beta:0.5,1",
        "--prior-control",
        robust,
        "--responders-treat",
        "14",
        "--n-treat",
        "24",
        "--responders-control",
        "1",
        "--n-control",
        "6",
        "--prob",
        "0.95",
    )
    assert result.stdout.splitlines()[-1] == "P(p_t - p_c > 0 | data) = 0.991 > 0.95: success"
    single = ok(
        "decide",
        "--prior",
        as_prior,
        "--responders",
        "12",
        "--n",
        "30",
        "--p0",
        "0.3",
        "--prob",
        "0.8",
        "--format",
        "json",
    )
    payload = json.loads(single.stdout)
    assert payload["rule"] == "P(p > 0.3 | data) > 0.8" and payload["success"] is False
    assert "give either single-arm options (--prior) or two-arm options (--n-treat)" in fails(
        "decide", "--prior", as_prior, "--n-treat", "3", "--prob", "0.9"
    )
    assert fails("decide", "--prior", as_prior, "--prob", "0.9") == (
        "error: single arm: missing --responders, --n, --p0\n"
    )


# ---------------------------------------------------------------------- oc / sample size
def test_oc_json_contract(as_prior: Path):
    payload = json.loads(
        ok(
            "oc",
            "--prior",
            as_prior,
            "--n",
            "30",
            "--p0",
            "0.2",
            "--prob",
            "0.9",
            "--format",
            "json",
        ).stdout
    )
    assert payload["boundary"] == 9
    assert len(payload["oc"]) == 101
    assert set(payload["oc"][0]) == {"rate", "probability_success"}
    lower = json.loads(
        ok(
            "oc",
            "--prior",
            as_prior,
            "--n",
            "30",
            "--p0",
            "0.3",
            "--prob",
            "0.9",
            "--lower-tail",
            "--rates",
            "0.1,0.3",
            "--format",
            "json",
        ).stdout
    )
    assert lower["boundary"] == 6 and [r["rate"] for r in lower["oc"]] == [0.1, 0.3]
    assert lower["type_i_error"] == pytest.approx(lower["oc"][1]["probability_success"])


def test_oc_table_csv_plot_and_target_power(as_prior: Path, tmp_path: Path):
    fig = tmp_path / "oc.png"
    table = ok(
        "oc",
        "--prior",
        as_prior,
        "--n",
        "30",
        "--p0",
        "0.2",
        "--prob",
        "0.9",
        "--rates",
        "0.2:0.4:0.1",
        "--plot",
        fig,
    ).stdout
    assert "boundary: 9; success with at least 9 responders of 30\n" in table
    assert "type I error (P(success) at p = 0.2): 0.129\n" in table
    assert table.endswith(
        " rate  P(success)\n"
        "────── ──────────\n"
        "0.200       0.129\n"
        "0.300       0.568\n"
        "0.400       0.906\n"
    )
    assert fig.stat().st_size > 1000
    at_03 = ["oc", "--prior", as_prior, "--n", "30", "--p0", "0.2", "--prob", "0.9", "--rates"]
    csv = ok(*at_03, "0.3", "--format", "csv").stdout
    assert csv.splitlines()[0] == "rate,probability_success"
    as_json = json.loads(ok(*at_03, "0.3", "--format", "json").stdout)
    rate, value = csv.splitlines()[1].split(",")
    assert float(rate) == 0.3
    assert float(value) == as_json["oc"][0]["probability_success"]  # full precision in CSV
    searched = json.loads(
        ok(
            "oc",
            "--prior",
            as_prior,
            "--p0",
            "0.2",
            "--prob",
            "0.9",
            "--target-power",
            "0.8",
            "--rate",
            "0.4",
            "--rates",
            "0.4",
            "--format",
            "json",
        ).stdout
    )
    assert searched["n"] == searched["sample_size"]["n"] == 16
    assert searched["oc"][0]["probability_success"] >= 0.8
    assert fails("oc", "--prior", as_prior, "--p0", "0.2", "--prob", "0.9") == (
        "error: give --n, or --target-power with --rate to search it\n"
    )


def test_sample_size_single_and_two_arms(as_prior: Path):
    one = json.loads(
        ok(
            "sample-size",
            "--prior",
            as_prior,
            "--p0",
            "0.2",
            "--prob",
            "0.9",
            "--rate",
            "0.4",
            "--target-power",
            "0.8",
            "--n-max",
            "40",
            "--format",
            "json",
        ).stdout
    )
    assert one["arms"] == 1 and one["n"] == 16 and one["n_stable"] == 22
    two_arms = [
        "sample-size",
        "--prior-treat",
        "beta:0.5,1",
        "--prior-control",
        as_prior,
        "--rate-treat",
        "0.6",
        "--rate-control",
        "0.26",
        "--prob",
        "0.95",
        "--target-power",
        "0.8",
        "--n-control",
        "6",
    ]
    two = ok(*two_arms).stdout
    assert two.splitlines()[-1].endswith(": n_treat = 17, n_control = 6")
    scanned = json.loads(ok(*two_arms, "--n-max", "40", "--scan-all", "--format", "json").stdout)
    assert (scanned["n_treatment"], scanned["n_control"]) == (17, 6)  # the first, not the last
    assert len(scanned["scan"]) == 40 and scanned["n_stable"] >= 17
    assert all(row["power"] >= 0.8 for row in scanned["scan"][scanned["n_stable"] - 1 :])
    assert "give --ratio or --n-control, not both" in fails(
        "sample-size",
        "--prior-treat",
        "beta:1,1",
        "--prior-control",
        "beta:1,1",
        "--rate-treat",
        "0.6",
        "--rate-control",
        "0.3",
        "--prob",
        "0.9",
        "--target-power",
        "0.8",
        "--ratio",
        "2",
        "--n-control",
        "5",
    )


# ---------------------------------------------------------------------- oc2 / pos
def test_oc2_reproduces_the_vignette_differences(as_prior: Path, tmp_path: Path):
    fig = tmp_path / "oc2.png"
    payload = json.loads(
        ok(
            "oc2",
            "--prior-treat",
            "beta:1,1",
            "--prior-control",
            "beta:1,1",
            "--n-treat",
            "24",
            "--n-control",
            "6,24",
            "--prob",
            "0.95",
            "--rate-control",
            "0.25857963",
            "--target-power",
            "0.8",
            "--plot",
            fig,
            "--format",
            "json",
        ).stdout
    )
    deltas = [round(d["delta_for_target"][0]["delta"], 3) for d in payload["designs"]]
    assert deltas == [0.529, 0.341]
    assert fig.stat().st_size > 1000
    table = ok(
        "oc2",
        "--prior-treat",
        "beta:0.5,1",
        "--prior-control",
        as_prior,
        "--n-treat",
        "24",
        "--n-control",
        "6",
        "--prob",
        "0.95",
        "--differences",
        "0,0.3",
    ).stdout
    boundary = "boundary (success with at least b treatment responders; 25 = never):"
    assert read_table(table, boundary) == (
        ["control responders", "b"],
        [[str(y), str(b)] for y, b in enumerate([10, 11, 12, 13, 15, 17, 19])],
    )
    assert table.endswith(
        "  p_t    p_c  p_t - p_c  P(success)\n"
        "────── ────── ────────── ──────────\n"
        "0.259  0.259      0.000       0.024\n"
        "0.559  0.259      0.300       0.806\n"
    )
    csv = ok(
        "oc2",
        "--prior-treat",
        "beta:1,1",
        "--prior-control",
        "beta:1,1",
        "--n-treat",
        "5",
        "--n-control",
        "5",
        "--prob",
        "0.9",
        "--rates-treat",
        "0.5",
        "--format",
        "csv",
    ).stdout
    assert (
        csv.splitlines()[0]
        == "n_treatment,n_control,rate_treatment,rate_control,probability_success"
    )
    assert len(csv.splitlines()) == 2


def test_pos_single_and_two_arms(as_prior: Path):
    one = json.loads(
        ok(
            "pos",
            "--prior",
            as_prior,
            "--n",
            "30",
            "--p0",
            "0.2",
            "--prob",
            "0.9",
            "--format",
            "json",
        ).stdout
    )
    assert one["boundary"] == 9 and 0.37 < one["probability_of_success"] < 0.38
    fixed = json.loads(
        ok(
            "pos",
            "--prior",
            as_prior,
            "--n",
            "30",
            "--p0",
            "0.2",
            "--prob",
            "0.9",
            "--design-prior",
            "0.3",
            "--format",
            "json",
        ).stdout
    )
    assert fixed["probability_of_success"] == pytest.approx(0.5685, abs=1e-4)  # the power
    two = ok(
        "pos",
        "--prior-treat",
        "beta:0.5,1",
        "--prior-control",
        as_prior,
        "--n-treat",
        "24",
        "--n-control",
        "6",
        "--prob",
        "0.95",
        "--design-treat",
        "0.6",
        "--design-control",
        as_prior,
    ).stdout
    assert two.splitlines()[0] == "two arms 24:6: success if P(p_t - p_c > 0 | data) > 0.95"
    assert "a fixed rate must lie in [0, 1]" in fails(
        "pos",
        "--prior",
        as_prior,
        "--n",
        "3",
        "--p0",
        "0.2",
        "--prob",
        "0.9",
        "--design-prior",
        "2",
    )


# ---------------------------------------------------------------------- shapes at the bound
@pytest.fixture
def edge_run(tmp_path: Path) -> Path:
    """A run whose draws pile up at 1 (Beta(9, 0.7)): the constrained fit holds b at 1."""
    rng = np.random.default_rng(11)
    da = xr.DataArray(rng.beta(9.0, 0.7, size=(2, 1000)), dims=("chain", "draw"))
    return _write_run(tmp_path / "run_edge", da, "random-effects")


def test_map_says_when_a_shape_sits_at_the_bound(edge_run: Path):
    table = ok("map", edge_run, "--components", "1", "--no-plot").stdout
    assert "\nnote: component 1 has b = 1: the lower bound of the fit, which keeps every shape" in (
        table
    )
    assert "note: ELIR is degenerate here" in table
    payload = json.loads(
        ok("map", edge_run, "--components", "1", "--no-plot", "--format", "json").stdout
    )
    assert payload["at_bounds"] == [
        {"component": 1, "parameter": "b", "value": 1.0, "bound": "lower"}
    ]
    assert payload["fit_notes"][0].startswith("component 1 has b = 1: the lower bound")
    assert payload["mixture"][0]["b"] == 1.0
    free = json.loads(
        ok(
            "map", edge_run, "--components", "1", "--unconstrained", "--no-plot", "--format", "json"
        ).stdout
    )
    assert free["constrained"] is False and free["at_bounds"] == []
    assert free["mixture"][0]["b"] < 1 and free["ess"]["elir"] is None
    assert free["ess"]["elir_logit"] == pytest.approx(
        free["mixture"][0]["a"] + free["mixture"][0]["b"]
    )
    assert free["ess_notes"][0].startswith("ELIR is undefined here")


# ---------------------------------------------------------------------- posterior
def test_posterior_table(as_prior: Path):
    assert ok("posterior", "--prior", as_prior, "--responders", "12", "--n", "30").stdout == (
        "prior: 2-component beta mixture, mean 0.259, sd 0.0842\n"
        "data: 12 responders of 30\n"
        "\n"
        "posterior mixture (2 components):\n"
        "comp  prior w      w     a     b   mean\n"
        "───── ──────── ────── ───── ───── ─────\n"
        "   1    0.617  0.532  31.2  75.8  0.292\n"
        "   2    0.383  0.468  15.5  27.4  0.362\n"
        "\n"
        "            mean      sd   2.5%    50%  97.5%\n"
        "────────── ────── ─────── ────── ────── ─────\n"
        "prior      0.259  0.0842  0.108  0.250  0.470\n"
        "posterior  0.324  0.0686  0.215  0.315  0.482\n"
        "prior ESS: ELIR 36.8, moment 26.0, Morita 62.7\n"
        "posterior ESS: ELIR 56.1, moment 45.5, Morita 75.1\n"
    )


def test_posterior_json_and_prior_file(tmp_path: Path):
    out = tmp_path / "post.json"
    result = ok(
        "posterior",
        "--prior",
        "beta:1,1",
        "--responders",
        "4",
        "--n",
        "6",
        "--output",
        out,
        "--format",
        "json",
    )
    payload = json.loads(result.stdout)
    assert list(payload) == [
        "prior",
        "responders",
        "n",
        "posterior",
        "summary",
        "ess",
        "ess_notes",
        "prior_file",
    ]
    # RBesT's postmix example: the uniform prior and 4 responders of 6 give Beta(5, 3)
    assert payload["posterior"] == [{"w": 1.0, "a": 5.0, "b": 3.0}]
    assert payload["summary"]["posterior"]["mean"] == 0.625
    assert payload["ess"]["posterior"]["elir"] == pytest.approx(8.0)
    assert payload["prior_file"] == str(out) and read_prior_file(out) == BetaMixture.beta(5, 3)
    assert result.stderr == f"wrote prior {out}\n"


def test_posterior_files_reproduce_the_vignette_analysis(as_prior: Path, tmp_path: Path):
    """The AS vignette's trial analysis, through the command line: postmix of the robust MAP
    with 1/6 and of Beta(0.5, 1) with 14/24, then P(p_t - p_c > 0) = 0.9913233 (printed)."""
    robust = tmp_path / "robust.json"
    ok("robustify", "--prior", as_prior, "--weight", "0.2", "--output", robust)
    placebo, treat = tmp_path / "placebo.json", tmp_path / "treat.json"
    ok("posterior", "--prior", robust, "--responders", "1", "--n", "6", "--output", placebo)
    ok("posterior", "--prior", "beta:0.5,1", "--responders", "14", "--n", "24", "--output", treat)
    p = prob_difference(read_prior_file(treat), read_prior_file(placebo), 0.0)
    assert p == pytest.approx(0.9913233, abs=1e-6)


def test_posterior_errors(as_prior: Path):
    assert fails("posterior", "--prior", as_prior, "--responders", "7", "--n", "5") == (
        "error: --responders 7: more than --n 5\n"
    )
    assert run("posterior", "--prior", as_prior, "--n", "5").exit_code == 2  # click: missing


# ---------------------------------------------------------------------- predictive
def test_predictive_table_is_rbest_example_1():
    """R/preddist.R example 1: under the uniform prior each of 0..10 responders has 1/11."""
    lines = ok("predictive", "--prior", "beta:1,1", "--n", "10").stdout.splitlines()
    assert lines[:4] == [
        "prior: Beta(1, 1), mean 0.500, sd 0.289",
        "responders among 10 future patients: mean 5.00, sd 3.16; 2.5% 0, 50% 5, 97.5% 10",
        " y  P(Y = y)  P(Y <= y)",
        "─── ───────── ─────────",
    ]
    assert lines[4] == " 0     0.091      0.091" and lines[-1] == "10     0.091      1.000"
    assert len(lines) == 15


def test_predictive_json_csv_and_plot(as_prior: Path, tmp_path: Path):
    fig = tmp_path / "pred.png"
    payload = json.loads(
        ok("predictive", "--prior", as_prior, "--n", "20", "--plot", fig, "--format", "json").stdout
    )
    assert list(payload) == ["n", "summary", "distribution"] and payload["n"] == 20
    rows = payload["distribution"]
    assert [r["responders"] for r in rows] == list(range(21))
    assert sum(r["probability"] for r in rows) == pytest.approx(1.0, abs=1e-12)
    assert payload["summary"]["mean"] == pytest.approx(20 * 0.25857963, abs=1e-5)
    assert fig.stat().st_size > 1000
    csv = ok("predictive", "--prior", as_prior, "--n", "20", "--format", "csv").stdout.splitlines()
    assert csv[0] == "responders,probability,cumulative" and len(csv) == 22
    for line, row in zip(csv[1:], rows, strict=True):
        y, prob, cum = line.split(",")
        assert (int(y), float(prob), float(cum)) == (
            row["responders"],
            row["probability"],
            row["cumulative"],
        )


def test_predictive_chains_with_posterior(as_prior: Path, tmp_path: Path):
    post = tmp_path / "post.json"
    ok("posterior", "--prior", as_prior, "--responders", "12", "--n", "30", "--output", post)
    mean = json.loads(ok("predictive", "--prior", post, "--n", "10", "--format", "json").stdout)[
        "summary"
    ]["mean"]
    assert mean == pytest.approx(
        10
        * BetaMixture.from_components([(c["w"], c["a"], c["b"]) for c in AS_JSON])
        .posterior(12, 30)
        .mean()
    )
    assert run("predictive", "--prior", as_prior, "--n", "0").exit_code == 2
