"""Priors as data: the short form, the spec-file form, printing, merging, and the PyMC variable."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from hlhbayes.errors import HlhBayesError
from hlhbayes.priors import FAMILIES, Prior, merge_priors, prior_data, prior_families, pymc_variable


@pytest.mark.parametrize(
    ("text", "family", "params", "shown"),
    [
        ("normal:0,1.5", "normal", {"mu": 0.0, "sigma": 1.5}, "Normal(0, 1.5)"),
        ("halfnormal:1", "halfnormal", {"sigma": 1.0}, "HalfNormal(1)"),
        ("Half-Cauchy:0.5", "halfcauchy", {"beta": 0.5}, "HalfCauchy(0.5)"),
        ("half_studentt:3,1", "halfstudentt", {"nu": 3.0, "sigma": 1.0}, "halfstudentt(3, 1)"),
        ("exponential:2", "exponential", {"lam": 2.0}, "exponential(2)"),
    ],
)
def test_short_form_spec_form_and_printing(text, family, params, shown):
    prior = Prior.parse(text)
    assert prior == Prior(family, params)
    assert str(prior) == shown
    assert prior.to_dict() == {"family": family, **params}
    assert Prior.from_dict(prior.to_dict()) == prior


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("gamma:1,1", "unknown prior family 'gamma' in 'gamma:1,1'; valid: exponential, "),
        ("normal:0", "prior 'normal:0': normal takes 2 parameter(s): mu, sigma"),
        ("halfnormal:x", "prior 'halfnormal:x': parameters must be numbers"),
        ("halfnormal:-1", "prior halfnormal: sigma must be > 0, got -1.0"),
        ("normal:0,0", "prior normal: sigma must be > 0, got 0.0"),
    ],
)
def test_bad_short_forms_say_what_is_wrong(text, message):
    with pytest.raises(HlhBayesError) as info:
        Prior.parse(text)
    assert str(info.value).startswith(message)


def test_bad_spec_forms_say_what_is_wrong():
    with pytest.raises(HlhBayesError, match="takes parameters sigma; got mu, sigma"):
        Prior.from_dict({"family": "halfnormal", "mu": 0, "sigma": 1})
    with pytest.raises(HlhBayesError, match="parameters must be numbers"):
        Prior.from_dict({"family": "halfnormal", "sigma": "wide"})
    with pytest.raises(HlhBayesError, match="unknown prior family ''"):
        Prior.from_dict({"sigma": 1})


def test_merge_order_is_defaults_then_spec_then_command_line():
    defaults = {"mu": Prior.parse("normal:0,1.5"), "tau": Prior.parse("halfnormal:1")}
    spec = {"tau": Prior.parse("halfnormal:0.5")}
    merged = merge_priors(defaults, spec)
    assert merged == {"mu": defaults["mu"], "tau": spec["tau"]}
    line = {"tau": Prior.parse("halfcauchy:1"), "mu": Prior.parse("normal:1,2")}
    assert merge_priors(defaults, spec, line) == line
    assert defaults["tau"] == Prior.parse("halfnormal:1")  # the defaults are not changed


def test_merge_refuses_unknown_names_and_the_wrong_support():
    defaults = {"mu": Prior.parse("normal:0,1.5"), "tau": Prior.parse("halfnormal:1")}
    with pytest.raises(
        HlhBayesError, match=r"unknown prior 'sigma' \(model spec\); this model has: mu, tau"
    ):
        merge_priors(defaults, {"sigma": Prior.parse("halfnormal:1")})
    with pytest.raises(HlhBayesError, match=r"prior 'tau' \(command line\) must use a positive"):
        merge_priors(defaults, None, {"tau": Prior.parse("normal:0,1")})
    with pytest.raises(
        HlhBayesError, match=r"prior 'mu' \(model spec\) must use a family on the real"
    ):
        merge_priors(defaults, {"mu": Prior.parse("exponential:1")})


@pytest.mark.parametrize(
    ("text", "reference"),
    [
        ("normal:0.5,1.5", stats.norm(0.5, 1.5)),
        ("halfnormal:2", stats.halfnorm(scale=2)),
        ("halfcauchy:0.5", stats.halfcauchy(scale=0.5)),
        ("halfstudentt:3,1", stats.t(df=3, scale=1)),
        ("exponential:2", stats.expon(scale=0.5)),  # lam is the rate
    ],
)
def test_the_pymc_variable_has_the_stated_density(text, reference):
    import pymc as pm

    with pm.Model() as model:
        Prior.parse(text).to_pymc("x")
    x = np.array([0.3, 1.7])
    logp = pm.logp(model["x"], x).eval(mode="FAST_COMPILE")  # a density, not a sampler
    expected = reference.logpdf(x)
    if text.startswith("halfstudentt"):
        expected = expected + np.log(2.0)  # the half t is the t folded at 0
    np.testing.assert_allclose(logp, expected, rtol=1e-6)
    assert set(FAMILIES) == {"normal", "halfnormal", "halfcauchy", "halfstudentt", "exponential"}


def _half_t(nu: float, sigma: float):
    """The half Student-t log density: a t folded at 0 (scipy has no half t)."""
    folded = stats.t(df=nu, scale=sigma)
    return lambda x: np.where(x >= 0, folded.logpdf(x) + np.log(2.0), -np.inf)


SCIPY_LOGPDF = {
    "normal:0.5,1.5": stats.norm(0.5, 1.5).logpdf,
    "halfnormal:2": stats.halfnorm(scale=2).logpdf,
    "halfcauchy:0.5": stats.halfcauchy(scale=0.5).logpdf,
    "halfstudentt:3,1": _half_t(3, 1),
    "halfstudentt:4.5,0.7": _half_t(4.5, 0.7),
    "exponential:2": stats.expon(scale=0.5).logpdf,  # lam is the rate
}


@pytest.mark.parametrize("text", SCIPY_LOGPDF)
def test_logpdf_equals_scipy_and_pymc(text):
    import pymc as pm

    prior = Prior.parse(text)
    x = np.array([0.01, 0.3, 1.7, 12.0]) if prior.family != "normal" else np.array([-4, 0.3, 9])
    np.testing.assert_allclose(prior.logpdf(x), SCIPY_LOGPDF[text](x), rtol=1e-12)
    with pm.Model() as model:
        prior.to_pymc("x")
    logp = pm.logp(model["x"], x).eval(mode="FAST_COMPILE")
    # PyMC's log-gamma of a non-integer nu agrees to ~4e-8 (its graph's own arithmetic)
    np.testing.assert_allclose(prior.logpdf(x), logp, rtol=1e-6, atol=1e-7)
    if prior.family != "normal":  # outside the support: -inf, as scipy and PyMC
        assert prior.logpdf(np.array([-0.5])).tolist() == [-np.inf]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("normal:0.5,1.5", stats.norm(0.5, 1.5).var()),
        ("halfnormal:2", stats.halfnorm(scale=2).var()),
        ("halfcauchy:0.5", np.inf),
        ("halfstudentt:2,1", np.inf),  # nu <= 2: no finite variance
        ("exponential:2", 0.25),
    ],
)
def test_variance_equals_scipy(text, expected):
    assert Prior.parse(text).variance() == pytest.approx(expected, rel=1e-12)


def test_half_t_variance_by_quadrature():
    from scipy import integrate

    prior = Prior.parse("halfstudentt:4.5,0.7")
    density = lambda x: np.exp(prior.logpdf(x))  # noqa: E731
    mass = integrate.quad(density, 0, np.inf)[0]
    mean = integrate.quad(lambda x: x * density(x), 0, np.inf)[0]
    second = integrate.quad(lambda x: x * x * density(x), 0, np.inf)[0]
    assert mass == pytest.approx(1.0, abs=1e-9)
    assert prior.variance() == pytest.approx(second - mean**2, rel=1e-8)


@pytest.mark.parametrize(
    ("text", "reference"),
    [
        ("normal:0.5,1.5", stats.norm(0.5, 1.5)),
        ("halfnormal:2", stats.halfnorm(scale=2)),
        ("halfcauchy:0.5", stats.halfcauchy(scale=0.5)),
        ("halfstudentt:3,1", None),  # the t folded at 0: its q quantile is the t's (1 + q) / 2
        ("exponential:2", stats.expon(scale=0.5)),
    ],
)
def test_quantiles_equal_scipy(text, reference):
    prior = Prior.parse(text)
    for q in (0.025, 0.5, 0.975):
        expected = (
            stats.t(df=3, scale=1).ppf((1 + q) / 2) if reference is None else reference.ppf(q)
        )
        assert prior.quantile(q) == pytest.approx(expected, rel=1e-10)
    for q in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError, match=r"q must lie in \(0, 1\)"):
            prior.quantile(q)


def test_a_prior_as_a_compiled_model_sees_it():
    priors = {"alpha": Prior.parse("normal:0.5,1.5"), "tau": Prior.parse("halfstudentt:3,1")}
    data = prior_data(priors)
    assert data == {
        "prior_alpha_mu": 0.5,
        "prior_alpha_sigma": 1.5,
        "prior_tau_nu": 3.0,
        "prior_tau_sigma": 1.0,
    }
    assert all(isinstance(v, np.float64) for v in data.values())
    assert prior_families(priors) == {"alpha": "normal", "tau": "halfstudentt"}


def test_the_pymc_variable_takes_tensors_as_parameters():
    import pymc as pm

    with pm.Model() as model:
        scale = pm.Data("scale", 2.0)
        pymc_variable("x", "halfnormal", {"sigma": scale})
    point = np.array([0.7])
    logp = pm.logp(model["x"], point).eval(mode="FAST_COMPILE")
    np.testing.assert_allclose(logp, stats.halfnorm(scale=2).logpdf(point), rtol=1e-10)
    model.set_data("scale", 0.5)
    logp = pm.logp(model["x"], point).eval(mode="FAST_COMPILE")
    np.testing.assert_allclose(logp, stats.halfnorm(scale=0.5).logpdf(point), rtol=1e-10)


def test_the_short_forms_in_words_name_every_family_and_parameter_in_order():
    from hlhbayes.priors import short_forms

    forms = dict(form.split(":") for form in short_forms().split("; "))
    assert list(forms) == list(FAMILIES)
    assert forms["normal"] == "mean,sd" and forms["halfstudentt"] == "df,scale"
    for family, words in forms.items():  # as many words as the short form takes numbers
        numbers = ",".join(str(i + 1) for i in range(len(words.split(","))))
        assert Prior.parse(f"{family}:{numbers}").family == family
