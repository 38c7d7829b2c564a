r"""Effective sample size (ESS) of a beta-mixture prior: ELIR, moment and Morita methods.

The ESS says how many patients a prior is worth. For one :math:`\operatorname{Beta}(a, b)`
every method gives :math:`a + b` (Morita up to a term of order :math:`1/s`, below); for mixtures
they differ, and RBesT's vignette reports all three (AS example: ELIR 37, moment 26, Morita 63).

Notation: :math:`\pi` the prior density, :math:`i(p) = -\frac{d^2}{dp^2} \log \pi(p)` its
local information, :math:`i_F(p) = 1 / (p (1 - p))` the Fisher information of one Bernoulli
observation. For a mixture, with responsibilities
:math:`r_k(p) = w_k \operatorname{Beta}(p \mid a_k, b_k) / \pi(p)`, scores
:math:`g_k(p) = \frac{a_k - 1}{p} - \frac{b_k - 1}{1 - p}` and component informations
:math:`i_k(p) = \frac{a_k - 1}{p^2} + \frac{b_k - 1}{(1 - p)^2}`,

.. math::

    i(p) = \sum_k r_k(p)\, i_k(p) - \operatorname{Var}_{r(p)}[g(p)],

the form RBesT's ``mixInfo`` evaluates.

**ELIR** (expected local-information ratio; Neuenschwander, Weber, Schmidli & O'Hagan 2020,
RBesT's default):

.. math::

    \mathrm{ESS}_\mathrm{ELIR} = E_\pi\!\left[\frac{i(p)}{i_F(p)}\right]
    = \sum_k w_k c_k - L, \qquad
    L = \int_0^1 \pi(p)\, p (1 - p) \operatorname{Var}_{r(p)}[g(p)]\, dp,

where :math:`c_k = E_k[p(1-p)\, i_k(p)] = b_k [a_k > 1] + a_k [b_k > 1]` (:math:`= a_k + b_k` when
both exceed 1; :func:`elir_credit`): the first term is exact, the second (:math:`L`, the
information lost by mixing) is integrated numerically (tanh-sinh,
:mod:`hlhbayes.design.quadrature`). Note the jump at a shape of exactly 1:
:math:`(b_k - 1) E_k[p / (1 - p)] = a_k` for every :math:`b_k > 1`, however close to 1, but the
term vanishes at :math:`b_k = 1`, where the component's log density has no curvature towards
:math:`p = 1`. So :math:`\operatorname{Beta}(12, 1)` is worth 1 patient by ELIR, and a mixture
with components at 1 can have a negative ELIR. Purely numerical integration (RBesT) cannot see
the vanishing sliver near :math:`p = 1` that carries the term and so behaves as if
:math:`b_k = 1` there; the EM fit (:mod:`hlhbayes.design.em`) therefore returns shapes at their
bound as exactly 1. Defined only when every :math:`a_k, b_k \ge 1` (otherwise :math:`c_k` is
:math:`-\infty`; RBesT refuses too).

**ELIR on the logit scale** (RBesT's remedy for a negative ELIR: ``ess(..., family = binomial)``
of a normal mixture fitted on the logit scale; here exact for the beta mixture). On
:math:`\theta = \operatorname{logit} p` the prior density is
:math:`\pi_\theta = \sum_k w_k B(a_k, b_k)^{-1} p^{a_k} (1 - p)^{b_k}`, one patient's information
is :math:`p (1 - p)`, component scores are :math:`a_k (1 - p) - b_k p` and component
informations :math:`(a_k + b_k)\, p (1 - p)`. The scores differ from :math:`p (1 - p)\, g_k(p)`
by a term common to all components, so the variance term is the same and

.. math::

    \mathrm{ESS}_\mathrm{ELIR,\,logit} = \sum_k w_k (a_k + b_k) - L,

equal to the ELIR when every shape exceeds 1, continuous at a shape of 1, and :math:`a + b` for
every single :math:`\operatorname{Beta}(a, b)`, :math:`a, b > 0`. It is predictively consistent
too (the binomial's information on the logit scale is :math:`n\, p (1 - p)` whatever the data).
:math:`L` diverges only when, at one edge, two components have different shapes of which the
larger is at most 1 (near :math:`p = 0`, the integrand of the pair :math:`a_j < a_k` behaves
like :math:`p^{a_k - 2}`).

**Moment**: the beta with the mixture's mean :math:`m` and variance :math:`v`,
:math:`\mathrm{ESS} = m (1 - m) / v - 1`.

**Morita** (Morita, Thall & Müller 2008, in the closed form of Neuenschwander et al. and
RBesT): at the mode :math:`\hat p` of the prior (not the mean: a mixture's mean can sit in a
valley),

.. math::

    \mathrm{ESS}_\mathrm{Morita} = \frac{i(\hat p) - i_0(\hat p)}
        {E_{y \sim m_1}\!\left[\frac{y}{\hat p^2} + \frac{1 - y}{(1 - \hat p)^2}\right]},
    \qquad i_0 = \text{information of } \operatorname{Beta}(\hat p / s, (1 - \hat p)/s),

with :math:`m_1` the prior predictive of one observation (:math:`P(y = 1) = m`) and the
flattened prior's scale :math:`s = 100`. Undefined when the mode is at 0 or 1.
"""

from __future__ import annotations

import math

import numpy as np

from hlhbayes.design.mixture import BetaMixture, FloatArray
from hlhbayes.design.quadrature import integrate
from hlhbayes.errors import HlhBayesError

MORITA_S = 100.0
"""RBesT's default scale of the flattened prior in the Morita method."""

METHODS = ("elir", "moment", "morita", "elir_logit")


def _scores(mix: BetaMixture, p: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Responsibilities, component scores and component informations at ``p`` (shape (..., K))."""
    p = np.asarray(p, dtype=float)[..., None]
    log_comp = mix._log_components(p[..., 0])
    resp = np.exp(log_comp - np.logaddexp.reduce(log_comp, axis=-1, keepdims=True))
    g = (mix.a - 1.0) / p - (mix.b - 1.0) / (1.0 - p)
    info = (mix.a - 1.0) / p**2 + (mix.b - 1.0) / (1.0 - p) ** 2
    return resp, g, info


def information(mix: BetaMixture, p: float | FloatArray) -> FloatArray:
    r"""The local information :math:`i(p) = -\frac{d^2}{dp^2} \log \pi(p)` of the mixture."""
    eps = np.finfo(float).eps
    p = np.clip(np.asarray(p, dtype=float), eps, 1.0 - eps)  # as RBesT: stay off the edges
    resp, g, info = _scores(mix, p)
    mean_g = np.sum(resp * g, axis=-1)
    var_g = np.sum(resp * (g - mean_g[..., None]) ** 2, axis=-1)
    return np.sum(resp * info, axis=-1) - var_g


def ess_moment(mix: BetaMixture) -> float:
    r""":math:`m (1 - m) / v - 1` for the mixture's mean :math:`m` and variance :math:`v`."""
    m, v = mix.mean(), mix.var()
    return m * (1.0 - m) / v - 1.0


def elir_credit(mix: BetaMixture) -> FloatArray:
    r"""What the ELIR credits each component with: :math:`c_k = b_k [a_k > 1] + a_k [b_k > 1]`.

    :math:`E_k[p (1 - p)\, i_k(p)]`, i.e. :math:`a_k + b_k` when both shapes exceed 1, but
    :math:`1` for :math:`\operatorname{Beta}(a, 1)` or :math:`\operatorname{Beta}(1, b)` and
    :math:`0` for :math:`\operatorname{Beta}(1, 1)` (module docstring). Meaningful for shapes
    :math:`\ge 1`.
    """
    return np.where(mix.a > 1, mix.b, 0.0) + np.where(mix.b > 1, mix.a, 0.0)


def mixing_loss(mix: BetaMixture) -> float:
    r""":math:`L = \int_0^1 \pi(p)\, p (1 - p) \operatorname{Var}_{r(p)}[g(p)]\, dp` (0 for one component).

    The variance is summed over pairs, :math:`\frac12 \sum_{jk} r_j r_k (g_j - g_k)^2` with
    :math:`g_j - g_k = (a_j - a_k)/p - (b_j - b_k)/(1 - p)` formed from the shapes: near an edge
    the scores grow like :math:`1/p` while components with the same shape there differ by a
    bounded amount, which a variance about the mean would lose to cancellation.
    """
    if mix.n_components == 1:
        return 0.0
    da = (mix.a[:, None] - mix.a[None, :])[None]
    db = (mix.b[:, None] - mix.b[None, :])[None]

    def loss(p: FloatArray) -> FloatArray:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            resp = _scores(mix, p)[0]
            diff = da / p[:, None, None] - db / (1.0 - p)[:, None, None]
            pairs = resp[:, :, None] * resp[:, None, :] * diff * diff
            out = mix.pdf(p) * p * (1.0 - p) * 0.5 * np.sum(pairs, axis=(1, 2))
        return np.where(np.isfinite(out), out, 0.0)

    # pieces split where the mass sits, so each bump is resolved; tanh-sinh on each piece is
    # indifferent to the algebraic singularities at 0 and 1 (a component with b = 1 next to
    # one with b > 1 makes the integrand grow like (1 - p)^(b - 2) at 1)
    probs = np.array([1e-6, 0.001, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 0.999, 1 - 1e-6])
    inner = np.unique(mix.ppf(probs))
    edges = np.concatenate([[0.0], inner[(inner > 0) & (inner < 1)], [1.0]])
    return integrate(loss, edges)


def ess_elir(mix: BetaMixture) -> float:
    r"""The expected local-information ratio :math:`E_\pi[i(p) / i_F(p)]` (module docstring).

    Raises
    ------
    HlhBayesError
        If a component has :math:`a < 1` or :math:`b < 1` (the ELIR integral diverges).
    """
    used = mix.weights > 0
    if np.any(used & ((mix.a < 1) | (mix.b < 1))):
        raise HlhBayesError(
            "ELIR ESS is undefined: a component has a < 1 or b < 1 (the defining integral diverges)"
        )
    return float(np.sum(mix.weights * elir_credit(mix))) - mixing_loss(mix)


def _logit_divergence(mix: BetaMixture) -> str | None:
    """Why the mixing loss diverges (two components with different shapes <= 1 at one edge)."""
    used = mix.weights > 0
    for name, shapes in (("a", mix.a), ("b", mix.b)):
        low = shapes[used]
        smallest = low.min()
        above = (low > smallest) & (low <= 1)
        if above.any():
            ks = [str(k) for k in np.flatnonzero(used)[(low == smallest) | above] + 1]
            where = "p = 0" if name == "a" else "p = 1"
            return (
                f"the ELIR on the logit scale is undefined too: components "
                f"{', '.join(ks[:-1])} and {ks[-1]} have different values of {name} of at most 1, so the "
                f"curvature of the log density grows without limit near {where}"
            )
    return None


def ess_elir_logit(mix: BetaMixture) -> float:
    r"""The ELIR on the logit scale, :math:`\sum_k w_k (a_k + b_k) - L` (module docstring).

    Raises
    ------
    HlhBayesError
        If the mixing loss :math:`L` diverges (two components with different shapes of at
        most 1 at the same edge).
    """
    reason = _logit_divergence(mix)
    if reason is not None:
        raise HlhBayesError(reason[0].upper() + reason[1:])
    return float(np.sum(mix.weights * (mix.a + mix.b))) - mixing_loss(mix)


def ess_morita(mix: BetaMixture, s: float = MORITA_S) -> float:
    r"""Morita's ESS evaluated at the prior mode, as in RBesT (module docstring).

    Raises
    ------
    HlhBayesError
        If the mode is at 0 or 1 (the prior's information there is infinite or undefined).
    """
    mode = mix.mode()
    if not 0.0 < mode < 1.0:
        raise HlhBayesError(
            f"Morita's ESS is undefined: the prior's density is highest at p = {mode:g}, and "
            "Morita's method takes the prior's curvature at its highest point, which is not "
            "finite at an edge"
        )
    prior_info = float(information(mix, mode))
    a0, b0 = mode / s, (1.0 - mode) / s
    flat_info = (a0 - 1.0) / mode**2 + (b0 - 1.0) / (1.0 - mode) ** 2
    m = mix.mean()
    expected_fisher = m / mode**2 + (1.0 - m) / (1.0 - mode) ** 2
    return float((prior_info - flat_info) / expected_fisher)


def ess(mix: BetaMixture) -> dict[str, float | None]:
    """ESS by every method: ``{"elir", "moment", "morita", "elir_logit"}``.

    A method that is undefined for this prior (ELIR with a shape below 1, Morita with the mode
    at an edge, the logit ELIR when its integral diverges) gives ``None``;
    :func:`hlhbayes.design.text.ess_notes` says why, in plain words.
    """
    out: dict[str, float | None] = {"moment": ess_moment(mix)}
    for name, fn in (("elir", ess_elir), ("morita", ess_morita), ("elir_logit", ess_elir_logit)):
        try:
            value = fn(mix)
        except HlhBayesError:
            value = None
        out[name] = value if value is None or math.isfinite(value) else None
    return {k: out[k] for k in METHODS}
