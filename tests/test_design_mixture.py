"""Beta mixtures: densities, conjugate updates, robustification and prior files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from hlhbayes.design.mixture import (
    BetaMixture,
    PriorFileError,
    load_prior,
    parse_prior_records,
    read_prior_file,
)
from hlhbayes.errors import HlhBayesError

MIX = BetaMixture.from_components([(0.6, 19.2, 57.8), (0.3, 3.5, 9.4), (0.1, 1.0, 1.0)])


@st.composite
def mixtures(draw, max_components: int = 3, min_shape: float = 0.3):
    k = draw(st.integers(1, max_components))
    shapes = st.floats(min_shape, 300.0, allow_nan=False)
    w = np.array(draw(st.lists(st.floats(0.05, 1.0), min_size=k, max_size=k)))
    a = draw(st.lists(shapes, min_size=k, max_size=k))
    b = draw(st.lists(shapes, min_size=k, max_size=k))
    return BetaMixture(w / w.sum(), np.array(a), np.array(b))


def test_moments_match_numerical_integration():
    mean = integrate.quad(lambda x: x * MIX.pdf(x), 0, 1, points=[0.25])[0]
    second = integrate.quad(lambda x: x * x * MIX.pdf(x), 0, 1, points=[0.25])[0]
    assert MIX.mean() == pytest.approx(mean, abs=1e-10)
    assert MIX.var() == pytest.approx(second - mean**2, abs=1e-10)
    assert integrate.quad(MIX.pdf, 0, 1, points=[0.25])[0] == pytest.approx(1.0, abs=1e-10)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(mixtures(), st.floats(0.001, 0.999))
def test_ppf_inverts_cdf(mix, q):
    x = mix.ppf(q)
    assert float(mix.cdf(x)) == pytest.approx(q, abs=1e-10)
    assert float(mix.cdf(x) + mix.sf(x)) == pytest.approx(1.0, abs=1e-12)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(mixtures(), st.integers(1, 40), st.data())
def test_posterior_is_bayes_rule(mix, n, data):
    y = data.draw(st.integers(0, n))
    post = mix.posterior(y, n)
    assert post.weights.sum() == pytest.approx(1.0, abs=1e-12)
    # density ratio posterior / (prior x likelihood) is constant in p
    p = np.array([0.2, 0.45, 0.7])
    ratio = post.pdf(p) / (mix.pdf(p) * stats.binom.pmf(y, n, p))
    assert np.allclose(ratio, ratio[0], rtol=1e-7)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(mixtures(), st.integers(1, 30))
def test_predictive_is_the_averaged_binomial(mix, n):
    pmf = mix.predictive_pmf(n)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-12)
    y = np.arange(n + 1)
    assert np.all(pmf >= 0)
    expected = sum(
        w * stats.betabinom.pmf(y, n, a, b)
        for w, a, b in zip(mix.weights, mix.a, mix.b, strict=True)
    )
    assert np.allclose(pmf, expected, atol=1e-12)


def test_robustify_follows_rbest():
    rob = MIX.robustify(0.25, mean=0.3, n=4)
    assert np.allclose(rob.weights, [0.45, 0.225, 0.075, 0.25])
    assert (rob.a[-1], rob.b[-1]) == pytest.approx((0.3 * 5, 0.7 * 5))
    for bad in (
        {"weight": 0},
        {"weight": 1},
        {"weight": 0.2, "mean": 1.0},
        {"weight": 0.2, "n": 0},
    ):
        with pytest.raises(HlhBayesError):
            MIX.robustify(**bad)


def test_mode():
    assert BetaMixture.beta(3, 7).mode() == pytest.approx(2 / 8)
    assert BetaMixture.beta(0.5, 3).mode() == 0.0
    assert BetaMixture.beta(3, 0.5).mode() == 1.0
    two = BetaMixture.from_components([(0.7, 30, 70), (0.3, 70, 30)])
    assert two.mode() == pytest.approx(29 / 98, abs=1e-3)


def test_validation_of_the_object():
    with pytest.raises(HlhBayesError, match="sum to"):
        BetaMixture(np.array([0.5, 0.4]), np.array([1, 2]), np.array([1, 2]))
    with pytest.raises(HlhBayesError, match="> 0"):
        BetaMixture.beta(0, 1)
    with pytest.raises(HlhBayesError, match="responders"):
        MIX.posterior(5, 3)
    caller = np.array([2.0])
    BetaMixture(np.array([1.0]), caller, np.array([3.0]))
    caller[0] = 4.0  # the caller's array stays writable (the mixture keeps a copy)


def test_prior_file_round_trip(tmp_path):
    path = MIX.save(tmp_path / "sub" / "prior.json")
    records = json.loads(path.read_text())
    assert records == MIX.components()
    assert set(records[0]) == {"w", "a", "b"}
    assert read_prior_file(path) == MIX
    assert load_prior(str(path)) == MIX


def test_inline_priors():
    assert load_prior("beta:0.5,1") == BetaMixture.beta(0.5, 1)
    mix = load_prior("mix:0.25,2,3+0.75,4,5")
    assert np.allclose(mix.weights, [0.25, 0.75]) and np.allclose(mix.a, [2, 4])
    with pytest.raises(PriorFileError, match="beta:A,B"):
        load_prior("beta:1")
    with pytest.raises(PriorFileError, match="no such prior file"):
        load_prior("missing.json")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[]", "non-empty JSON list"),
        ('{"w": 1}', "non-empty JSON list"),
        ("[1, 2", "not valid JSON (line 1"),
        ('[{"w": 1, "a": -1, "b": 2}]', "entry 1: field 'a': must be > 0 (got -1)"),
        ('[{"w": 0.5, "a": 1, "b": 2}, {"w": 0.5, "a": 1}]', "entry 2: field 'b' is missing"),
        ('[{"w": 1, "a": true, "b": 2}]', "entry 1: field 'a': must be a number (got True)"),
        ('[{"w": 1, "a": 1, "b": 2, "c": 3}]', "entry 1: unknown field(s) 'c'"),
        ('[{"w": 0.5, "a": 1, "b": 2}, {"w": 0.4, "a": 1, "b": 2}]', "weights sum to 0.9, not 1"),
        ('[{"w": 1, "a": 1, "b": "x"}]', "field 'b': must be a number (got 'x')"),
        ("[3]", "entry 1: expected an object"),
    ],
)
def test_prior_file_errors_name_file_entry_and_field(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(PriorFileError) as info:
        read_prior_file(path)
    text = str(info.value)
    assert text.startswith(f"{path}: ")
    assert message in text
    assert "\n" not in text


def test_rounded_weights_are_accepted_and_rescaled():
    mix = parse_prior_records(
        [{"w": 0.333, "a": 1, "b": 2}, {"w": 0.333, "a": 2, "b": 2}, {"w": 0.333, "a": 3, "b": 2}],
        "x",
    )
    assert mix.weights.sum() == 1.0
