"""The calibration benchmark's exact-likelihood simulator, and the benchmark run end to end.

:mod:`hlhbayes.models.convolution` draws a stratum's events patient by patient. Its count
distribution is checked against pmfs computed independently here (convolutions of binomial
pmfs with ``np.convolve``, mixtures over the unknown line split), with a chi-square
goodness-of-fit test on 5,000 seeded draws: it must fit the exact pmf (p > 0.001) and, where
the compositions are stated, reject the model's mean-probability binomial (p < 1e-6; the total
variation distance is 0.12 in the first case). Where the composition is unknown and drawn from
its mix, the exact distribution is the model's binomial, and that is checked too.
``benchmarks/sbc.py`` itself runs with 2 simulations of short chains (seconds once the
compiled program is cached), both simulators, and resumes from its folder.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from scipy import stats
from scipy.special import expit, logit

from hlhbayes.models.convolution import simulate_strata, stratum_events, stratum_patients

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
DRAWS = 5_000
FITS = 1e-3  # a seeded sample from the right pmf: chi-square p above this
REJECTS = 1e-6  # ... from a pmf 0.1 away in total variation: p far below this


def sample_counts(total, mix, later, eta, gamma, seed, **known) -> np.ndarray:
    rng = np.random.default_rng(seed)
    counts = np.zeros(total + 1, dtype=int)
    for _ in range(DRAWS):
        weights, flags = stratum_patients(total, np.asarray(mix), later, rng, **known)
        counts[stratum_events(weights, flags, np.asarray(eta), gamma, 0.0, rng)] += 1
    return counts


def fit_p(counts: np.ndarray, pmf: np.ndarray) -> float:
    """Chi-square goodness of fit, counts below 5 expected pooled into their neighbour."""
    expected = pmf * counts.sum()
    observed = counts.astype(float).copy()
    keep = expected >= 5
    # pool each small cell into the nearest kept one, so that the totals stay equal
    for k in np.flatnonzero(~keep):
        nearest = np.flatnonzero(keep)[np.argmin(np.abs(np.flatnonzero(keep) - k))]
        expected[nearest] += expected[k]
        observed[nearest] += observed[k]
    return float(stats.chisquare(observed[keep], expected[keep]).pvalue)


def binomials(*pairs: tuple[int, float]) -> np.ndarray:
    pmf = np.ones(1)
    for n, p in pairs:
        pmf = np.convolve(pmf, stats.binom.pmf(np.arange(n + 1), n, p))
    return pmf


ETA = logit(np.array([0.9, 0.3, 0.6, 0.5, 0.7]))  # infection, malignancy, rheumatic, ...


def test_stated_counts_give_the_convolution_not_the_mean_probability():
    # 3 infection (p 0.9) and 4 malignancy (p 0.3), all first line
    counts = sample_counts(7, [3 / 7, 4 / 7, 0, 0, 0], 0.0, ETA, 0.0, seed=1)
    exact = binomials((3, 0.9), (4, 0.3))
    mean_probability = stats.binom.pmf(np.arange(8), 7, (3 * 0.9 + 4 * 0.3) / 7)
    assert 0.5 * np.abs(exact - mean_probability).sum() > 0.12
    assert fit_p(counts, exact) > FITS
    assert fit_p(counts, mean_probability) < REJECTS


def test_a_stated_line_split_falls_on_a_random_patient():
    # 2 infection, 2 malignancy, one of the four in the later line (gamma = -1)
    gamma = -1.0
    counts = sample_counts(4, [0.5, 0.5, 0, 0, 0], 0.25, ETA, gamma, seed=2)
    p_inf, p_mal = 0.9, 0.3
    inf_later, mal_later = expit(logit(p_inf) + gamma), expit(logit(p_mal) + gamma)
    exact = 0.5 * binomials((1, inf_later), (1, p_inf), (2, p_mal)) + 0.5 * binomials(
        (2, p_inf), (1, mal_later), (1, p_mal)
    )
    assert fit_p(counts, exact) > FITS


def test_an_unknown_mix_drawn_per_patient_is_the_models_binomial():
    mix, later, gamma = np.array([0.5, 0.2, 0.1, 0.1, 0.1]), 0.4, -0.8
    counts = sample_counts(6, mix, later, ETA, gamma, seed=3, mix_known=False, later_known=False)
    q = (1 - later) * expit(ETA) + later * expit(ETA + gamma)
    assert fit_p(counts, stats.binom.pmf(np.arange(7), 6, float(mix @ q))) > FITS


def test_halves_pair_into_a_patient_with_two_triggers():
    weights, later = stratum_patients(
        4, np.array([0.25, 0.125, 0.25, 0.125, 0.25]), 0.0, np.random.default_rng(0)
    )
    assert weights.tolist() == [
        [1, 0, 0, 0, 0],
        [0, 0, 1, 0, 0],
        [0, 0, 0, 0, 1],
        [0, 0.5, 0, 0.5, 0],
    ]
    assert not later.any()


@pytest.mark.parametrize(
    ("mix", "later", "message"),
    [
        ([0.125, 0.75, 0, 0, 0], 0.0, "unpaired half"),
        ([0.25, 0.25, 0, 0, 0], 0.0, "make 2 patients, not 4"),
        ([0.1, 0.9, 0, 0, 0], 0.0, "not whole numbers or halves"),
        ([0.5, 0.5, 0, 0, 0], 0.3, "later-line count"),
    ],
)
def test_counts_that_make_no_patients_are_refused(mix, later, message):
    with pytest.raises(ValueError, match=message):
        stratum_patients(4, np.array(mix), later, np.random.default_rng(0))


def test_the_shipped_strata_have_the_models_mean(shipped):
    """Same parameters, same slots: the simulator's mean count is the model's n * mean p.

    Strata without a two-trigger patient (whose logit-mean probability differs from the
    model's probability mean), fixed parameters repeated 1,000 times, within 4.5 standard
    errors.
    """
    from hlhbayes.models.etiology_line import MODEL as etiology_line
    from hlhbayes.models.spec import load_spec

    units = etiology_line.units(shipped, load_spec("etiology-line").filters)
    rng = np.random.default_rng(7)
    k, studies = len(ETA), len(units.studies)
    n_mix, n_line = int(np.isnan(units.agg_w).any(axis=1).sum()), int(np.isnan(units.agg_v).sum())
    draw = {
        "eta": ETA,
        "gamma": np.array(-0.7),
        "u": rng.normal(0, 0.5, studies),
        "mix_latent": rng.dirichlet(np.ones(k), n_mix),
        "later_latent": rng.uniform(0.2, 0.8, n_line),
    }
    dims = {
        "eta": ["etiology"],
        "gamma": [],
        "u": ["study"],
        "mix_latent": ["stratum_unknown_mix", "etiology"],
        "later_latent": ["stratum_unknown_line"],
    }
    posterior = xr.Dataset(
        {n: (["chain", "draw", *dims[n]], np.asarray(v)[None, None]) for n, v in draw.items()}
    )
    mean_p = etiology_line.unit_probabilities(posterior, units)["y_stratum"][0, 0]
    repeats = 1000
    events = simulate_strata(
        units,
        np.tile(draw["eta"], (repeats, 1)),
        np.full(repeats, float(draw["gamma"])),
        np.tile(draw["u"], (repeats, 1)),
        rng,
        mix_latent=np.tile(draw["mix_latent"], (repeats, 1, 1)),
        later_latent=np.tile(draw["later_latent"], (repeats, 1)),
    )
    assert events.shape == (repeats, len(units.agg_ids))
    assert (events >= 0).all() and (events <= units.agg_total).all()
    counts = np.nan_to_num(units.agg_w) * units.agg_total[:, None]
    whole = np.all(np.abs(counts - np.round(counts)) < 1e-9, axis=1)
    assert whole.sum() >= 5
    expected = units.agg_total * mean_p
    se = np.sqrt(units.agg_total * mean_p * (1 - mean_p) / repeats)
    assert np.all(np.abs(events.mean(axis=0) - expected)[whole] < 4.5 * se[whole])


@pytest.fixture
def sbc_script(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    module = importlib.import_module("sbc")
    yield module
    sys.modules.pop("sbc", None)
    sys.modules.pop("sbc_results", None)


@pytest.mark.sampling
def test_the_benchmark_runs_both_simulators_and_resumes(sbc_script, tmp_path, capsys):
    out = tmp_path / "sbc"
    args = ["--out", str(out), "--sims", "2", "--batch", "1", "--chains", "2"]
    args += ["--draws", "100", "--tune", "100", "--no-rerun"]
    assert sbc_script.main(args) in (0, 1)
    first = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert first["complete"] is True
    assert set(first["modes"]) == {"model", "convolution"}
    names = sbc_script.quantity_names()
    assert len(names) == 24
    for mode in first["modes"].values():
        assert mode["simulations"] == 2
        failed = mode["failed_gate_after_reruns"]
        assert mode["converged"] + len(failed) == 2
        assert mode["share_failed_gate_after_reruns"] == len(failed) / 2
        assert set(mode["rank_tests_all_fits"]) == set(names)
        assert sum(mode["rank_tests_all_fits"]["alpha"]["counts"]) == 2
    batches = sorted(p.name for p in (out / "batches").iterdir())
    assert batches[0] == "convolution-0001-0001.json" and len(batches) == 4
    rows = (out / "ranks.csv").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 1 + 2 * 2 * 24
    assert (out / "rank_histograms.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the two simulators share truths and patient rows, and differ in the strata
    records = {
        mode: [
            r
            for name in batches
            if name.startswith(mode)
            for r in json.loads((out / "batches" / name).read_text(encoding="utf-8"))["records"]
        ]
        for mode in ("model", "convolution")
    }
    pairs = list(zip(records["model"], records["convolution"], strict=True))
    assert all(m["sim"] == c["sim"] for m, c in pairs)
    assert all(
        m["quantities"][n]["truth"] == c["quantities"][n]["truth"] for m, c in pairs for n in names
    )
    assert all(m["data"]["pat_y"] == c["data"]["pat_y"] for m, c in pairs)
    assert any(m["data"]["agg_events"] != c["data"]["agg_events"] for m, c in pairs)

    capsys.readouterr()
    assert sbc_script.main(args) in (0, 1)  # everything is done: summarised again, not refitted
    assert "resuming: 4 of 4 batches already done" in capsys.readouterr().err
    again = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert again["modes"] == first["modes"]

    with pytest.raises(SystemExit, match="other settings \\(seed differ\\)"):
        sbc_script.main([*args, "--seed", "5"])
