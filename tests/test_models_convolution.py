"""The calibration benchmark's exact-likelihood simulator, and the benchmark run end to end.

:mod:`hlhbayes.models.convolution` gives a stratum's patients their probabilities and the count
its exact pmf. The pmf is checked against pmfs computed independently here (convolutions of
binomial pmfs with ``np.convolve``, mixtures over the unknown line split), and the drawn counts
with a chi-square goodness-of-fit test on 5,000 seeded draws: they must fit the exact pmf
(p > 0.001) and, where the compositions are stated, reject the model's mean-probability
binomial (p < 1e-6; the total variation distance is 0.12 in the first case). Where the
composition is unknown and drawn from its mix, the exact distribution is the model's binomial,
and with the same uniform numbers the same counts. ``benchmarks/sbc.py`` itself runs with 2
simulations of short chains (seconds once the compiled program is cached), both simulators,
and resumes from its folder.
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

from conftest import SHORT
from hlhbayes.models.convolution import (
    count_pmf,
    etiology_rows,
    patient_probabilities,
    quantile,
    simulate_strata,
)

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
DRAWS = 5_000
FITS = 1e-3  # a seeded sample from the right pmf: chi-square p above this
REJECTS = 1e-6  # ... from a pmf 0.1 away in total variation: p far below this
ETA = logit(np.array([0.9, 0.3, 0.6, 0.5, 0.7]))  # infection, malignancy, rheumatic, ...


def sample_counts(total, mix, later, gamma, seed, **known) -> np.ndarray:
    """Counts of 0..total events in DRAWS draws of a stratum (study effect 0)."""
    rng = np.random.default_rng(seed)
    counts = np.zeros(total + 1, dtype=int)
    for _ in range(DRAWS):
        p = patient_probabilities(total, np.asarray(mix), later, ETA, gamma, 0.0, rng, **known)
        counts[quantile(count_pmf(p), rng.random())] += 1
    return counts


def fit_p(counts: np.ndarray, pmf: np.ndarray) -> float:
    """Chi-square goodness of fit, cells below 5 expected pooled into their nearest kept one."""
    expected = pmf * counts.sum()
    observed = counts.astype(float).copy()
    keep = np.flatnonzero(expected >= 5)
    for k in np.flatnonzero(expected < 5):
        nearest = keep[np.argmin(np.abs(keep - k))]
        expected[nearest] += expected[k]
        observed[nearest] += observed[k]
    return float(stats.chisquare(observed[keep], expected[keep]).pvalue)


def binomials(*pairs: tuple[int, float]) -> np.ndarray:
    pmf = np.ones(1)
    for n, p in pairs:
        pmf = np.convolve(pmf, stats.binom.pmf(np.arange(n + 1), n, p))
    return pmf


def test_stated_counts_give_the_convolution_not_the_mean_probability():
    # 3 infection (p 0.9) and 4 malignancy (p 0.3), all first line
    mix = np.array([3 / 7, 4 / 7, 0, 0, 0])
    exact = binomials((3, 0.9), (4, 0.3))
    p = patient_probabilities(7, mix, 0.0, ETA, 0.0, 0.0, np.random.default_rng(0))
    assert count_pmf(p) == pytest.approx(exact, abs=1e-12)
    mean_probability = stats.binom.pmf(np.arange(8), 7, (3 * 0.9 + 4 * 0.3) / 7)
    assert 0.5 * np.abs(exact - mean_probability).sum() > 0.12
    counts = sample_counts(7, mix, 0.0, 0.0, seed=1)
    assert fit_p(counts, exact) > FITS
    assert fit_p(counts, mean_probability) < REJECTS


def test_a_stated_line_split_falls_on_a_random_patient():
    # 2 infection, 2 malignancy, one of the four in the later line (gamma = -1)
    gamma = -1.0
    counts = sample_counts(4, [0.5, 0.5, 0, 0, 0], 0.25, gamma, seed=2)
    p_inf, p_mal = 0.9, 0.3
    inf_later, mal_later = expit(logit(p_inf) + gamma), expit(logit(p_mal) + gamma)
    exact = 0.5 * binomials((1, inf_later), (1, p_inf), (2, p_mal)) + 0.5 * binomials(
        (2, p_inf), (1, mal_later), (1, p_mal)
    )
    assert fit_p(counts, exact) > FITS


def test_an_unknown_mix_drawn_per_patient_is_the_models_binomial():
    mix, later, gamma = np.array([0.5, 0.2, 0.1, 0.1, 0.1]), 0.4, -0.8
    known = {"mix_known": False, "later_known": False}
    q = (1 - later) * expit(ETA) + later * expit(ETA + gamma)
    binomial = stats.binom.pmf(np.arange(7), 6, float(mix @ q))
    p = patient_probabilities(6, mix, later, ETA, gamma, 0.0, np.random.default_rng(0), **known)
    assert count_pmf(p) == pytest.approx(binomial, abs=1e-12)
    assert fit_p(sample_counts(6, mix, later, gamma, seed=3, **known), binomial) > FITS


def test_halves_pair_into_a_patient_with_two_triggers():
    rows = etiology_rows(4, np.array([0.25, 0.125, 0.25, 0.125, 0.25]))
    assert rows.tolist() == [
        [1, 0, 0, 0, 0],
        [0, 0, 1, 0, 0],
        [0, 0, 0, 0, 1],
        [0, 0.5, 0, 0.5, 0],
    ]


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
        patient_probabilities(4, np.array(mix), later, ETA, 0.0, 0.0, np.random.default_rng(0))


def test_the_shipped_strata_follow_the_models_parameters(shipped):
    """Same parameters, same slots as the model's ``unit_probabilities``.

    A stratum without a two-trigger patient has the model's mean count ``n * mean p`` (fixed
    parameters repeated 1,000 times, within 4.5 standard errors); one whose compositions are
    both unknown has exactly the model's binomial, so the same counts at the same uniforms.
    """
    from hlhbayes.models.etiology_line import MODEL as etiology_line
    from hlhbayes.models.spec import load_spec

    units = etiology_line.units(shipped, load_spec("etiology-line").filters)
    rng = np.random.default_rng(7)
    k, studies = len(ETA), len(units.studies)
    unknown_w, unknown_v = np.isnan(units.agg_w).any(axis=1), np.isnan(units.agg_v)
    draw = {
        "eta": ETA,
        "gamma": np.array(-0.7),
        "u": rng.normal(0, 0.5, studies),
        "mix_latent": rng.dirichlet(np.ones(k), unknown_w.sum()),
        "later_latent": rng.uniform(0.2, 0.8, unknown_v.sum()),
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
    uniforms = rng.random((repeats, len(units.agg_ids)))
    events = simulate_strata(
        units,
        np.tile(draw["eta"], (repeats, 1)),
        np.full(repeats, float(draw["gamma"])),
        np.tile(draw["u"], (repeats, 1)),
        rng,
        mix_latent=np.tile(draw["mix_latent"], (repeats, 1, 1)),
        later_latent=np.tile(draw["later_latent"], (repeats, 1)),
        uniforms=uniforms,
    )
    assert events.shape == (repeats, len(units.agg_ids))
    counts = np.nan_to_num(units.agg_w) * units.agg_total[:, None]
    whole = np.all(np.abs(counts - np.round(counts)) < 1e-9, axis=1)
    assert whole.sum() >= 5
    expected = units.agg_total * mean_p
    se = np.sqrt(units.agg_total * mean_p * (1 - mean_p) / repeats)
    assert np.all(np.abs(events.mean(axis=0) - expected)[whole] < 4.5 * se[whole])
    both = unknown_w & unknown_v
    assert both.sum() == 2
    binomial = stats.binom.ppf(uniforms, units.agg_total, mean_p)
    assert (events[:, both] == binomial[:, both]).all()
    assert (events[:, ~both] != binomial[:, ~both]).any()


@pytest.fixture
def sbc_script(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    module = importlib.import_module("sbc")
    yield module
    sys.modules.pop("sbc", None)
    sys.modules.pop("sbc_results", None)


@pytest.mark.sampling
def test_the_benchmark_runs_both_simulators_and_resumes(sbc_script, tmp_path, capsys):
    """Seed 36: of the 2 simulations, the second's strata differ between the simulators."""
    out = tmp_path / "sbc"
    args = ["--out", str(out), "--sims", "2", "--seed", "36", "--batch", "1", *SHORT, "--no-rerun"]
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
    assert first["data_differ"]["simulations"] == 1
    # the identical data set is fitted once; the one that differs under each simulator
    batches = sorted(p.name for p in (out / "batches").iterdir())
    assert batches == ["convolution-0001.json", "model-0001.json", "model-0002.json"]
    rows = (out / "ranks.csv").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 1 + 2 * 2 * 24
    assert (out / "rank_histograms.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    def record(name: str) -> dict:
        return json.loads((out / "batches" / name).read_text(encoding="utf-8"))["records"][0]

    model, convolution = record("model-0002.json"), record("convolution-0001.json")
    assert model["sim"] == convolution["sim"] == 2
    assert all(
        model["quantities"][n]["truth"] == convolution["quantities"][n]["truth"] for n in names
    )
    assert model["data"]["pat_y"] == convolution["data"]["pat_y"]
    assert model["data"]["agg_events"] != convolution["data"]["agg_events"]

    capsys.readouterr()
    assert sbc_script.main(args) in (0, 1)  # everything is done: summarised again, not refitted
    assert "resuming: 3 of 3 batches already done" in capsys.readouterr().err
    again = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert again["modes"] == first["modes"]

    with pytest.raises(SystemExit, match="other settings \\(seed differ\\)"):
        sbc_script.main([*args, "--seed", "5"])
    # a batch fitted to other data (other code or versions simulate otherwise) is refused
    path = out / "batches" / "model-0001.json"
    held = json.loads(path.read_text(encoding="utf-8"))
    held["records"][0]["data"]["agg_events"][0] += 1
    path.write_text(json.dumps(held), encoding="utf-8")
    with pytest.raises(SystemExit, match="simulation 1 was fitted to other data"):
        sbc_script.main(args)
