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
from hlhbayes.design.mixture import BetaMixture, read_prior_file

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
    assert set(payload["ess"]) == {"elir", "moment", "morita"}
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
        "--out",
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
    args = ["map", el_run, "--etiology", "infection", "--line", "later", "--no-plot", "-q"]
    lines = ok(*args).stdout.splitlines()
    assert lines[1] == (
        "what infection, later line rests on: no direct data: estimate borrowed from other "
        "triggers (contraction 0.42, borrowed 0.97)"
    )
    assert json.loads(ok(*args, "--format", "json").stdout)["support"] == cell
    # a cell the block has no record of (as in a run written before it existed): no line, null
    other = ["map", el_run, "--etiology", "infection", "--line", "first", "--no-plot", "-q"]
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
    assert "between 0 and 1" in fails("map", re_run, "--robust", "1.5")


# ---------------------------------------------------------------------- ess / robustify
def test_ess_json_contract_and_table(as_prior: Path):
    payload = json.loads(ok("ess", "--prior", as_prior, "--format", "json").stdout)
    assert list(payload) == ["elir", "moment", "morita"]
    assert [round(payload[k]) for k in payload] == [37, 26, 63]
    table = ok("ess", "--prior", as_prior).stdout
    assert table == (
        "prior: 2-component beta mixture, mean 0.2586, sd 0.0842\n"
        "elir    36.82\nmoment  26.02\nmorita  62.67\n"
    )


def test_ess_of_an_inline_prior_with_undefined_methods():
    result = ok("ess", "--prior", "beta:0.5,1", "--format", "json")
    assert json.loads(result.stdout) == {"elir": None, "moment": pytest.approx(1.5), "morita": None}
    assert "note: ELIR ESS is undefined" in result.stderr


def test_robustify_writes_the_rbest_robust_prior(as_prior: Path, tmp_path: Path):
    out = tmp_path / "robust.json"
    result = ok(
        "robustify", "--prior", as_prior, "--weight", "0.2", "--out", out, "--format", "json"
    )
    payload = json.loads(result.stdout)
    assert [round(c["w"], 6) for c in payload["mixture"]] == [0.493397, 0.306603, 0.2]
    assert round(payload["ess"]["elir"]) == 26
    assert read_prior_file(out).components() == payload["mixture"]


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
    ok("robustify", "--prior", as_prior, "--weight", "0.2", "--out", robust)
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
    assert result.stdout.splitlines()[-1] == "P(p_t - p_c > 0 | data) = 0.9913233 > 0.95: success"
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
    assert table.endswith(" 0.200  0.1287\n 0.300  0.5685\n 0.400  0.9060\n")
    assert fig.stat().st_size > 1000
    csv = ok(
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
        "0.3",
        "--format",
        "csv",
    ).stdout
    assert csv.splitlines()[0] == "rate,probability_success"
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
    assert "  b:    10  11  12  13  15  17  19\n" in table
    assert table.endswith("  0.259   0.259     0.000  0.0239\n  0.559   0.259     0.300  0.8056\n")
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
