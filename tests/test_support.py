"""What each estimate rests on: direct counts, contraction, borrowing, power-scaling, words.

Counts are checked by hand on constructed units (patients with one and two triggers, strata of
known, half and latent composition) and on the shipped base (strata after anakinra failure left
out); the variance measures on draws of known distributions, on a fit whose answer is known (a
trigger without data borrows everything) and against the quadrature posterior; power-scaling
against arviz-stats called directly.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SHORT, cli
from hlhbayes.models import get_model
from hlhbayes.models.units import MODEL_ETIOLOGIES, Filters, Units, build_units
from hlhbayes.support import estimate_support, words
from hlhbayes.support.contraction import borrowed_share, contraction
from hlhbayes.support.counts import cell_counts

ETIOLOGY_LINE = get_model("etiology-line")
OPTIONS = {"composition_concentration": 5.0}
K = len(MODEL_ETIOLOGIES)


def weights(**shares: float) -> list[float]:
    return [shares.get(e, 0.0) for e in MODEL_ETIOLOGIES]


def constructed() -> Units:
    """Four studies. S1: three patients (infection, first line; infection + malignancy, later;
    rheumatic, first). S2: 10 patients, 4 infection / 6 malignancy, 5 first / 5 later. S3: 3
    patients, 1.5 infection / 1.5 rheumatic (one patient with both triggers), all first line.
    S4: 8 patients, etiology and line not stated."""
    return Units(
        studies=("S1", "S2", "S3", "S4"),
        pat_ids=("S1#1", "S1#2", "S1#3"),
        pat_study=np.array([0, 0, 0]),
        pat_y=np.array([1, 1, 0]),
        pat_w=np.array(
            [weights(infection=1), weights(infection=0.5, malignancy=0.5), weights(rheumatic=1)]
        ),
        pat_later=np.array([0.0, 1.0, 0.0]),
        agg_ids=("S2/a", "S3/a", "S4/a"),
        agg_study=np.array([1, 2, 3]),
        agg_events=np.array([7, 2, 6]),
        agg_total=np.array([10, 3, 8]),
        agg_w=np.array(
            [
                weights(infection=0.4, malignancy=0.6),
                weights(infection=0.5, rheumatic=0.5),
                [np.nan] * K,
            ]
        ),
        agg_v=np.array([0.5, 0.0, np.nan]),
        agg_derived=np.zeros(3, dtype=bool),
    )


def test_direct_and_uncertain_counts_by_hand():
    counts = cell_counts(ETIOLOGY_LINE, constructed(), OPTIONS)
    # the latent prior's means, by hand: the pooled mix of the known units (patients plus
    # strata weighted by their totals) is infection 7, malignancy 6.5, rheumatic 2.5 of 16,
    # later line 6 of 16; concentration c = 5 and K = 5 etiologies
    mean_w = {e: (1 + 5 * n / 16) / (K + 5) for e, n in {"infection": 7, "malignancy": 6.5}.items()}
    mean_w["other"] = 1 / (K + 5)
    mean_later = (1 + 5 * 6 / 16) / (2 + 5)
    expected = {
        # cell: direct patients, direct studies, uncertain patients (S4 only)
        ("infection", "first"): (
            1 + 10 * 0.4 * 0.5 + 3 * 0.5,
            3,
            8 * mean_w["infection"] * (1 - mean_later),
        ),
        ("infection", "later"): (0.5 + 10 * 0.4 * 0.5, 2, 8 * mean_w["infection"] * mean_later),
        ("malignancy", "first"): (10 * 0.6 * 0.5, 1, 8 * mean_w["malignancy"] * (1 - mean_later)),
        ("malignancy", "later"): (0.5 + 10 * 0.6 * 0.5, 2, 8 * mean_w["malignancy"] * mean_later),
        ("rheumatic", "first"): (1 + 3 * 0.5, 2, None),
        ("rheumatic", "later"): (0.0, 0, None),
        ("other", "first"): (0.0, 0, 8 * mean_w["other"] * (1 - mean_later)),
    }
    for cell, (patients, studies, uncertain) in expected.items():
        count = counts[cell]
        assert count.direct_patients == pytest.approx(patients, abs=1e-12), cell
        assert count.direct_studies == studies, cell
        if uncertain is not None:
            assert count.uncertain_patients == pytest.approx(uncertain, abs=1e-12), cell
            assert count.uncertain_studies == 1
    # every patient is somewhere: direct plus uncertain over all cells is the total
    total = sum(c.direct_patients + c.uncertain_patients for c in counts.values())
    assert total == pytest.approx(3 + 10 + 3 + 8)


def test_the_latent_prior_of_the_counts_is_the_model_s():
    """The expected share uses the Dirichlet and Beta parameters the PyMC model is built with."""
    units = constructed()
    model = ETIOLOGY_LINE.build(units, ETIOLOGY_LINE.default_priors, OPTIONS)
    _rng, _size, alpha, _scale = model["mix_gamma"].owner.inputs  # Gamma(alpha, 1) per stratum
    _rng, _size, a, b = model["later_latent"].owner.inputs  # Beta(a, b)
    alpha = np.ravel(alpha.eval())
    a, b = float(np.ravel(a.eval())[0]), float(np.ravel(b.eval())[0])
    w, v = ETIOLOGY_LINE.borrowing.expected_composition(units, OPTIONS)
    np.testing.assert_allclose(w[2], alpha / alpha.sum(), rtol=1e-12)  # the Dirichlet's mean
    assert v[2] == pytest.approx(a / (a + b), rel=1e-12)  # the Beta's mean


@settings(max_examples=40, deadline=None)
@given(
    totals=st.lists(st.integers(1, 40), min_size=1, max_size=5),
    seed=st.integers(0, 2**32 - 1),
)
def test_every_patient_is_counted_once_over_the_cells(totals, seed):
    rng = np.random.default_rng(seed)
    n = len(totals)
    w = rng.dirichlet(np.ones(K), size=n)
    v = rng.uniform(size=n)
    w[rng.uniform(size=n) < 0.3] = np.nan
    v[rng.uniform(size=n) < 0.3] = np.nan
    units = Units(
        studies=tuple(f"S{i}" for i in range(n)),
        pat_ids=("S0#1",),
        pat_study=np.array([0]),
        pat_y=np.array([1]),
        pat_w=np.array([weights(infection=0.5, other=0.5)]),
        pat_later=np.array([1.0]),
        agg_ids=tuple(f"S{i}/a" for i in range(n)),
        agg_study=np.arange(n),
        agg_events=np.zeros(n, dtype=int),
        agg_total=np.array(totals),
        agg_w=w,
        agg_v=v,
        agg_derived=np.zeros(n, dtype=bool),
    )
    counts = cell_counts(ETIOLOGY_LINE, units, OPTIONS)
    assert sum(c.direct_patients + c.uncertain_patients for c in counts.values()) == (
        pytest.approx(1 + sum(totals))
    )
    assert all(c.direct_patients >= 0 and c.uncertain_patients >= 0 for c in counts.values())


def test_strata_after_anakinra_failure_count_nowhere_by_default(shipped):
    default = build_units(shipped, Filters())
    assert any("after anakinra had failed" in r for r in default.left_out.values()) or (
        "Monteagudo2020" in default.excluded
    )
    counts = cell_counts(ETIOLOGY_LINE, default, OPTIONS)
    total = sum(c.direct_patients + c.uncertain_patients for c in counts.values())
    assert total == pytest.approx(len(default.pat_ids) + default.agg_total.sum())
    included = build_units(shipped, Filters(include_after_anakinra_failure=True))
    after = [j for j, unit in enumerate(included.agg_ids) if unit.split("/")[0] == "Monteagudo2020"]
    assert after  # the five patients given intravenous anakinra after it failed
    counts_in = cell_counts(ETIOLOGY_LINE, included, OPTIONS)
    total_in = sum(c.direct_patients + c.uncertain_patients for c in counts_in.values())
    assert total_in - total == pytest.approx(included.agg_total[after].sum())
    # they enter as later line, with an unknown etiology mix: uncertain, never first line
    first = [c for (e, ln), c in counts_in.items() if ln == "first"]
    first_default = [c for (e, ln), c in counts.items() if ln == "first"]
    assert [c.direct_patients for c in first] == [c.direct_patients for c in first_default]


def test_one_cell_counts_every_patient_and_study(shipped):
    model = get_model("random-effects")
    units = model.units(shipped, Filters())
    (count,) = cell_counts(model, units, {}).values()
    assert (count.etiology, count.line) == (None, None)
    assert count.direct_patients == units.agg_total.sum()
    assert count.direct_studies == len(units.studies) and count.uncertain_patients == 0


# --- the variance measures on draws of known distributions -------------------------------------


def draws(values: np.ndarray) -> xr.DataArray:
    return xr.DataArray(values.reshape(4, -1), dims=("chain", "draw"))


def test_contraction_of_normal_draws_is_one_minus_the_variance_ratio():
    rng = np.random.default_rng(1)
    n = 40_000
    result = contraction(draws(rng.normal(0, 0.5, n)), draws(rng.normal(0, 1.5, n)))
    # 1 - 0.25 / 2.25; the variance ratio of 40000 draws each has a relative sd of 1 %
    assert result.value == pytest.approx(1 - 0.25 / 2.25, abs=4 * 0.01 * 0.25 / 2.25)
    assert result.reason is None


def test_no_variance_no_measure():
    rng = np.random.default_rng(2)
    heavy = draws(np.abs(rng.standard_cauchy(4000)))
    result = contraction(draws(rng.normal(size=4000)), heavy)
    assert result.value is None
    assert result.reason.startswith("the prior draws have no finite variance (Pareto k-hat")
    assert borrowed_share(draws(rng.normal(size=4000)), draws(rng.normal(size=4000))).value == (
        pytest.approx(1.0, abs=0.1)
    )


# --- words: thresholds and sentences -----------------------------------------------------------


def cell(**changes):
    base = {
        "etiology": "infection",
        "line": "first",
        "direct_patients": 12.0,
        "direct_studies": 1,
        "uncertain_patients": 0.0,
        "uncertain_studies": 0,
        "contraction": 0.8,
        "borrowed": 0.3,
    }
    return {**base, **changes}


@pytest.mark.parametrize(
    ("changes", "other_line", "flags", "sentence"),
    [
        ({}, 3.0, [], "direct data from 12 patients in 1 study"),
        (
            {"direct_patients": 0.0, "direct_studies": 0, "borrowed": 1.0},
            0.0,
            ["no direct data"],
            "no direct data: estimate borrowed from other triggers",
        ),
        (
            {"direct_patients": 0.0, "direct_studies": 0, "borrowed": 0.4},
            5.0,
            ["no direct data"],
            "no direct data: estimate borrowed from the other line",
        ),
        (
            {"direct_patients": 2.5, "direct_studies": 2, "borrowed": 0.7, "contraction": 0.4},
            1.0,
            ["mostly borrowed", "prior-dominated"],
            "direct data from 2.5 patients in 2 studies; estimate mostly borrowed from other "
            "triggers and lines; prior-dominated: the data remove less than half of the prior's "
            "variance",
        ),
        (
            {"direct_patients": 1.0, "uncertain_patients": 3.04, "contraction": -0.1},
            1.0,
            ["prior-dominated"],
            "direct data from 1 patient in 1 study; about 3 more may belong here (strata of "
            "unknown composition); prior-dominated: the posterior is wider than the prior",
        ),
    ],
)
def test_flags_and_sentences(changes, other_line, flags, sentence):
    c = cell(**changes)
    assert words.cell_flags(c) == flags
    assert words.cell_sentence(c, other_line) == sentence


def test_csv_rows_carry_each_record_s_own_support():
    """fit --format csv: a rate gets its cell's fields, a hyperparameter its own, others none."""
    from hlhbayes.support import SUPPORT_COLUMNS, with_support

    borrowed = {
        **cell(direct_patients=0.0, direct_studies=0, borrowed=1.0, line="later"),
        "flags": ["no direct data", "prior-dominated"],
        "words": "no direct data: estimate borrowed from other triggers",
    }
    gamma = {"quantity": "gamma", "contraction": 0.2, "psense_prior": 0.3, "words": "w"}
    support = {"cells": [borrowed], "hyperparameters": [gamma]}
    records = [
        {"quantity": "rate_new", "etiology": "infection", "line": "later"},
        {"quantity": "gamma", "etiology": None, "line": None},
        {"quantity": "rate_new", "etiology": "other", "line": "first"},
    ]
    rate, hyper, other = with_support(records, support)
    assert rate["flags"] == "no direct data, prior-dominated"
    assert rate["words"] == borrowed["words"] and rate["direct_patients"] == 0.0
    assert hyper["contraction"] == 0.2 and hyper["psense_prior"] == 0.3
    assert hyper["direct_patients"] is None
    assert all(other[k] is None for k in SUPPORT_COLUMNS)


def test_the_thresholds_sit_where_the_reasons_put_them():
    assert words.PRIOR_DOMINATED == 0.5 and words.MOSTLY_BORROWED == 0.5
    assert words.cell_flags(cell(contraction=0.499)) == ["prior-dominated"]
    assert words.cell_flags(cell(contraction=0.5)) == []
    assert words.cell_flags(cell(borrowed=0.501)) == ["mostly borrowed"]
    record = {"quantity": "gamma", "contraction": 0.3}
    assert words.hyperparameter_sentence(record, "first from later line") == (
        "the data cannot tell first from later line"
    )
    assert words.hyperparameter_sentence({**record, "contraction": 0.7}, "x") is None


# --- fits ----------------------------------------------------------------------------------------


@pytest.mark.sampling
def test_power_scaling_is_arviz_stats_on_the_run(short_run):
    """The run's psense values are psense_summary of its own fit.nc (log_prior group stored)."""
    import arviz_stats as azs

    from hlhbayes.runs import read_run

    run = read_run(short_run)
    tree = run.tree()
    assert "log_prior" in tree.children
    hyper = ETIOLOGY_LINE.hyperparameters
    direct = azs.psense_summary(tree, var_names=list(hyper))
    stored = {h["quantity"]: h for h in run.summary["support"]["hyperparameters"]}
    assert set(stored) == set(hyper)
    for name in hyper:
        assert stored[name]["psense_prior"] == float(direct.loc[name, "prior"])
        assert stored[name]["psense_likelihood"] == float(direct.loc[name, "likelihood"])
        assert stored[name]["psense_diagnosis"] == direct.loc[name, "diagnosis"]
    # the stored log prior is each hyperparameter's prior density at its draws
    spec = run.provenance["model_spec"]["priors"]
    from hlhbayes.priors import Prior

    for name in hyper:
        np.testing.assert_allclose(
            tree["log_prior"][name].values,
            Prior.from_dict(spec[name]).logpdf(tree["posterior"][name].values),
        )


def uneven_units() -> Units:
    """One study per etiology except 'other', none on it: 60 infection patients (40 first line,
    20 later), 6 malignancy, 6 rheumatic and 6 unknown (first line), all known compositions."""
    rows = [("infection", 0.0, 40, 34), ("infection", 1.0, 20, 15)]
    rows += [(e, 0.0, 6, 4) for e in ("malignancy", "rheumatic", "unknown")]
    n = len(rows)
    return Units(
        studies=tuple(f"S{i}" for i in range(n)),
        pat_ids=(),
        pat_study=np.zeros(0, dtype=int),
        pat_y=np.zeros(0, dtype=int),
        pat_w=np.zeros((0, K)),
        pat_later=np.zeros(0),
        agg_ids=tuple(f"S{i}/a" for i in range(n)),
        agg_study=np.arange(n),
        agg_events=np.array([r[3] for r in rows]),
        agg_total=np.array([r[2] for r in rows]),
        agg_w=np.array([weights(**{r[0]: 1.0}) for r in rows]),
        agg_v=np.array([r[1] for r in rows]),
        agg_derived=np.zeros(n, dtype=bool),
    )


@pytest.mark.sampling
def test_a_trigger_without_data_borrows_everything():
    """'other' has no unit at all: its z_e keeps its N(0, 1) prior, so its logit has exactly the
    posterior distribution of a trigger without data, and the borrowed share is 1 (within Monte
    Carlo error); infection, with 60 patients, rests mostly on its own data."""
    from hlhbayes.inference import sample_posterior
    from hlhbayes.models.spec import load_spec

    spec = load_spec("etiology-line", sampler_overrides={"draws": 1500, "tune": 500, "chains": 2})
    units = uneven_units()
    tree = sample_posterior(ETIOLOGY_LINE, units, spec, seed=7)
    block = estimate_support(ETIOLOGY_LINE, units, spec.options, spec.priors, tree, seed=7)
    cells = {(c["etiology"], c["line"]): c for c in block["cells"]}
    for line in ("first", "later"):
        other = cells[("other", line)]
        # two variances of ~1500 effective draws each: a ratio to about +-5 %
        assert other["borrowed"] > 0.85, other
        assert other["flags"][0] == "no direct data"
        assert other["words"].startswith("no direct data: estimate borrowed from other triggers")
    assert cells[("infection", "first")]["borrowed"] < words.MOSTLY_BORROWED
    assert cells[("infection", "first")]["direct_patients"] == 40
    assert (
        cells[("malignancy", "later")]["words"].startswith(
            "no direct data: estimate borrowed from the other line"
        )
        or "other triggers and the other line" in cells[("malignancy", "later")]["words"]
    )


@pytest.mark.sampling
def test_contraction_agrees_with_the_quadrature_posterior():
    """random-effects on RBesT's AS data with mu ~ N(0, 0.15): the cell's contraction from the
    draws against 1 - Var(mu | data) / 0.15^2 by quadrature, within Monte Carlo error."""
    from hlhbayes.exact import random_effects_exact
    from hlhbayes.inference import sample_posterior
    from hlhbayes.models.spec import load_spec
    from hlhbayes.models.table import _study_units
    from hlhbayes.priors import Prior

    events = np.array([23, 12, 19, 9, 39, 6, 9, 10])
    totals = np.array([107, 44, 51, 39, 139, 20, 78, 35])
    model = get_model("random-effects")
    mu_sd = 0.15
    spec = load_spec(
        "random-effects",
        prior_overrides={"mu": Prior("normal", {"mu": -1.0, "sigma": mu_sd})},
    )  # the spec's sampler settings, those of every fit
    units = _study_units([f"S{i}" for i in range(8)], events, totals)
    tree = sample_posterior(model, units, spec, seed=3)
    block = estimate_support(model, units, spec.options, spec.priors, tree, seed=3)
    exact = random_effects_exact(events, totals, mu_mean=-1.0, mu_sd=mu_sd, tau_scale=1.0)
    expected = 1 - exact.moments["mu"][1] ** 2 / mu_sd**2
    (c,) = block["cells"]
    # Monte Carlo error: the posterior variance from the fit's effective draws of mu (its ESS,
    # below), the prior's from 1000 independent ones (relative sd sqrt(2 / n) each, normal draws)
    import arviz_stats as azs

    ess = float(azs.ess(tree["posterior"]["mu"].to_dataset())["mu"])
    sd = (1 - expected) * math.sqrt(2 / ess + 2 / 1000)
    assert 0.2 < expected < 0.8  # a case where the prior matters
    assert abs(c["contraction"] - expected) < 4 * sd + 1e-3, (c["contraction"], expected, sd)
    assert c["borrowed"] is None and c["direct_patients"] == totals.sum()


@pytest.mark.sampling
def test_fit_says_a_cell_without_direct_data_is_borrowed(tmp_path):
    """Without the two studies with infection patients of known line, infection has no direct
    data: fit says so in its table and in summary.json."""
    out = tmp_path / "run"
    args = ["fit", "--etiology", "infection", "--exclude-study", "Baverez2022"]
    args += ["--exclude-study", "Bami2020", *SHORT, "--no-sensitivity"]
    result = cli(*args, "-q", "--out", out)
    assert result.exit_code in (0, 3), result.output
    table = result.stdout
    assert "infection, first line: no direct data: estimate borrowed from other triggers" in table
    assert any(ln.split()[:4] == ["infection", "first", "0", "0"] for ln in table.splitlines())
    summary = json.loads((out / "summary.json").read_text())
    cells = {(c["etiology"], c["line"]): c for c in summary["support"]["cells"]}
    for line in ("first", "later"):
        c = cells[("infection", line)]
        assert c["direct_patients"] == 0 and c["direct_studies"] == 0
        assert c["uncertain_patients"] > 0  # strata of unknown composition may hold some
        assert c["flags"][0] == "no direct data"
        assert c["words"].startswith("no direct data: estimate borrowed from other triggers")


def test_the_latent_prior_has_its_mode_not_its_mean_at_the_pooled_mix():
    """As the model's text says: Dirichlet(1 + c w) has mode w and mean (1 + c w) / (K + c)."""
    from hlhbayes.models.etiology_line import TEXT, latent_later_prior, latent_mix_prior

    units = constructed()
    mix = units.pooled_mix()
    alpha = latent_mix_prior(units, 5.0)
    np.testing.assert_allclose((alpha - 1) / (alpha.sum() - K), mix, rtol=1e-12)  # the mode
    np.testing.assert_allclose(alpha / alpha.sum(), (1 + 5 * mix) / (K + 5), rtol=1e-12)
    assert not np.allclose(alpha / alpha.sum(), mix)  # the mean is pulled toward uniform
    a, b = latent_later_prior(units, 5.0)
    assert (a - 1) / (a + b - 2) == pytest.approx(units.pooled_later())
    assert "The MODE of each" in TEXT.equations and "(1 + c·w̄_e)/(K + c)" in TEXT.equations


@pytest.mark.sampling
def test_the_report_context_carries_the_run_s_records(short_run):
    """The report reads the support records of summary.json as data, the focus cells in order."""
    from hlhbayes.reporting.loading import open_run
    from hlhbayes.reporting.support import support_context

    run = open_run(short_run)
    stored = run.summary["support"]
    cells = [("infection", "later"), ("other", "first")]
    context = support_context(run, cells)
    by_cell = {(c["etiology"], c["line"]): c for c in stored["cells"]}
    assert context["cells"] == [by_cell[c] for c in cells]
    assert context["hyperparameters"] == stored["hyperparameters"]
    assert context["thresholds"] == stored["thresholds"]
    assert len(context["tables"]["support"]["rows"]) == len(cells)
