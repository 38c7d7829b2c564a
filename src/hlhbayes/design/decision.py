r"""Decision rules on posterior probabilities and their boundaries, binary endpoint.

RBesT's ``decision1S`` / ``decision2S`` and their ``_boundary`` functions.

**Single arm.** With :math:`y` responders out of :math:`n` and the posterior :math:`\pi(p \mid y)`,

.. math::

    \text{success} \iff P(p > p_0 \mid y) > c \qquad
    \text{(lower tail: } P(p \le p_0 \mid y) > c\text{)} .

:math:`P(p > p_0 \mid y)` is non-decreasing in :math:`y` for *any* prior (the posteriors are
ordered by likelihood ratio, :math:`\pi(p \mid y + 1) / \pi(p \mid y) \propto p / (1 - p)`), so
the successes form :math:`\{y \ge b\}`; the **boundary** :math:`b` is the fewest responders that
succeed (lower tail: the successes are :math:`\{y \le b\}` and :math:`b` is the most). It is
found by bisection, and the decision flips exactly between :math:`b - 1` and :math:`b`.

**Two arms** (treatment t, control c, independent priors):

.. math::

    \text{success} \iff P(p_t - p_c > \delta \mid y_t, y_c) > c
    \qquad \text{(lower tail: } P(p_t - p_c \le \delta \mid y_t, y_c) > c\text{)},

.. math::

    P(p_t - p_c > \delta) = \sum_{j,k} w_{tj} w_{ck}
        \int_0^1 S_{tj}\!\big(F_{ck}^{-1}(u) + \delta\big)\, du ,

a one-dimensional integral per pair of posterior components, written on the probability scale
:math:`u` of the more concentrated of the two (or symmetrically
:math:`\int_0^1 F_{ck}(F_{tj}^{-1}(u) - \delta)\, du`). The integrand is bounded and monotone;
it is split where the shifted CDF reaches 0 or 1 (a kink) and each piece is integrated by the
tanh-sinh (double-exponential) rule, which is unaffected by the algebraic end-point behaviour
of beta quantiles. Against adaptive quadrature (``scipy.integrate.quad`` at
:math:`10^{-12}`) it agrees within :math:`10^{-9}` (``tests/test_design_decision.py``). No
simulation is involved.

The probability rises with :math:`y_t` and falls with :math:`y_c`, so for each :math:`y_c` the
successes are :math:`\{y_t \ge b(y_c)\}` with :math:`b` non-decreasing; the whole boundary is
traced by one staircase walk with at most :math:`n_t + n_c + 2` decisions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from scipy import special

from hlhbayes.design.mixture import BetaMixture, FloatArray, upper_incomplete_beta
from hlhbayes.design.quadrature import COMPLEMENTS, NODES, WEIGHTS
from hlhbayes.errors import HlhBayesError

_TS_U, _TS_C, _TS_W = NODES, COMPLEMENTS, WEIGHTS


def _check_prob(name: str, value: float, *, open_interval: bool = True) -> float:
    value = float(value)
    ok = 0.0 < value < 1.0 if open_interval else 0.0 <= value <= 1.0
    if not ok:
        bounds = "strictly between 0 and 1" if open_interval else "between 0 and 1"
        raise HlhBayesError(f"{name} must be {bounds}, got {value:g}")
    return value


@dataclass(frozen=True)
class Rule1S:
    r"""Single-arm rule: success if :math:`P(p > p_0 \mid y) > c` (``lower_tail``: :math:`\le`).

    Parameters
    ----------
    p0
        The threshold rate :math:`p_0` (e.g. the rate to beat).
    prob
        The required posterior probability :math:`c`.
    lower_tail
        Use :math:`P(p \le p_0 \mid y)` (success means a *low* rate, e.g. mortality).
    """

    p0: float
    prob: float
    lower_tail: bool = False

    def __post_init__(self) -> None:
        _check_prob("p0", self.p0, open_interval=False)
        _check_prob("the posterior probability cut-off", self.prob)

    def probability(self, posterior: BetaMixture) -> float:
        r""":math:`P(p > p_0)` (or :math:`P(p \le p_0)`) under ``posterior``."""
        if self.lower_tail:
            return float(posterior.cdf(self.p0))
        return float(posterior.sf(self.p0))

    def __call__(self, posterior: BetaMixture) -> bool:
        """The decision: probability strictly above the cut-off."""
        return self.probability(posterior) > self.prob

    def quantity(self) -> str:
        """The posterior probability the rule looks at, e.g. ``P(p > 0.5 | data)``."""
        op = "<=" if self.lower_tail else ">"
        return f"P(p {op} {self.p0:g} | data)"

    def describe(self) -> str:
        """E.g. ``P(p > 0.5 | data) > 0.9``."""
        return f"{self.quantity()} > {self.prob:g}"


def boundary_1s(prior: BetaMixture, n: int, rule: Rule1S) -> int | None:
    r"""The decision boundary for ``n`` patients, or ``None`` if no outcome succeeds.

    Upper tail: the fewest responders :math:`b` with success (success iff :math:`y \ge b`).
    Lower tail: the most responders :math:`b` with success (success iff :math:`y \le b`).
    """
    if int(n) != n or n < 1:
        raise HlhBayesError(f"n must be a positive integer, got {n}")
    n = int(n)

    def ok(y: int) -> bool:
        return rule(prior.posterior(y, n))

    if rule.lower_tail:
        if not ok(0):
            return None
        lo, hi = 0, n + 1  # ok(lo) is True; ok(hi) treated as False
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if ok(mid) else (lo, mid)
        return lo
    if not ok(n):
        return None
    lo, hi = -1, n  # ok(lo) treated as False; ok(hi) is True
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return hi


# ---------------------------------------------------------------------- two arms
@lru_cache(maxsize=8192)
def _quantile_nodes(a: float, b: float, kink: float) -> tuple[FloatArray, FloatArray]:
    r"""Nodes :math:`x = F^{-1}(u)` and weights of the tanh-sinh rule for ``Beta(a, b)``.

    On :math:`u \in [0, 1]`, split at :math:`u = F(\text{kink})` when ``kink`` is in (0, 1).
    The lower half uses the inverse regularised incomplete beta, the upper half its
    complement, so that quantiles near 1 keep full precision. Cached: a staircase walk
    integrates over the same posterior component many times.
    """
    if 0.0 < kink < 1.0:
        uk = float(special.betainc(a, b, kink))
        ck = float(special.betainc(b, a, 1.0 - kink))  # 1 - uk without cancellation
        pieces = [(0.0, uk, ck), (uk, 1.0, 0.0)]
    else:
        pieces = [(0.0, 1.0, 0.0)]
    xs, ws = [], []
    for u0, u1, c1 in pieces:
        width = u1 - u0
        if width <= 0:
            continue
        u = u0 + width * _TS_U
        c = c1 + width * _TS_C  # 1 - u, accurate near the top
        upper = u > 0.5
        x = np.empty_like(u)
        x[~upper] = special.betaincinv(a, b, u[~upper])
        x[upper] = special.betainccinv(a, b, c[upper])
        xs.append(x)
        ws.append(width * _TS_W)
    x, w = np.concatenate(xs), np.concatenate(ws)
    x.setflags(write=False)
    w.setflags(write=False)
    return x, w


def _pair_prob(
    pairs: list[tuple[float, float, float, float]], delta: float, upper: bool
) -> FloatArray:
    r""":math:`P(X_1 - X_2 > \delta)` (``upper``) or :math:`\le`, per pair ``(a1, b1, a2, b2)``."""
    params, args, weights, sizes = [], [], [], []
    for a1, b1, a2, b2 in pairs:
        v1 = a1 * b1 / ((a1 + b1) ** 2 * (a1 + b1 + 1.0))
        v2 = a2 * b2 / ((a2 + b2) ** 2 * (a2 + b2 + 1.0))
        if v2 <= v1:
            # over z = X2: X1 - X2 > delta  <=>  X1 > z + delta: survival function of X1;
            # the shifted argument leaves [0, 1] at z = 1 - delta (or -delta)
            kink = 1.0 - delta if delta > 0 else -delta
            x, w = _quantile_nodes(a2, b2, kink if delta != 0 else math.nan)
            arg = np.clip(x + delta, 0.0, 1.0)
            use_sf = upper
            ag, bg = a1, b1
        else:
            # over z = X1: X1 - X2 > delta  <=>  X2 < z - delta: CDF of X2
            kink = delta if delta > 0 else 1.0 + delta
            x, w = _quantile_nodes(a1, b1, kink if delta != 0 else math.nan)
            arg = np.clip(x - delta, 0.0, 1.0)
            use_sf = not upper
            ag, bg = a2, b2
        # lower tail: CDF and survival function swap; each is computed directly (never as
        # 1 minus a probability near 1), the survival function by upper_incomplete_beta
        params.append((ag, bg, use_sf))
        args.append(arg)
        weights.append(w)
        sizes.append(x.size)
    a = np.repeat([q[0] for q in params], sizes)
    b = np.repeat([q[1] for q in params], sizes)
    sf = np.repeat([q[2] for q in params], sizes)
    x = np.concatenate(args)
    values = np.empty(x.shape)
    values[~sf] = special.betainc(a[~sf], b[~sf], x[~sf])
    values[sf] = upper_incomplete_beta(a[sf], b[sf], x[sf])
    values *= np.concatenate(weights)
    bounds = np.cumsum([0, *sizes])
    return np.clip(np.add.reduceat(values, bounds[:-1]), 0.0, 1.0)


def prob_difference(
    post_t: BetaMixture, post_c: BetaMixture, delta: float = 0.0, *, lower_tail: bool = False
) -> float:
    r""":math:`P(p_t - p_c > \delta)` (``lower_tail``: :math:`P(p_t - p_c \le \delta)`).

    ``p_t`` and ``p_c`` are independent beta mixtures; see the module docstring for the rule.
    """
    if not -1.0 < delta < 1.0:
        raise HlhBayesError(f"delta must lie strictly between -1 and 1, got {delta:g}")
    pairs, weights = [], []
    for wt, at, bt in zip(post_t.weights, post_t.a, post_t.b, strict=True):
        for wc, ac, bc in zip(post_c.weights, post_c.a, post_c.b, strict=True):
            if wt * wc > 0:
                pairs.append((float(at), float(bt), float(ac), float(bc)))
                weights.append(wt * wc)
    p = _pair_prob(pairs, float(delta), not lower_tail)
    w = np.asarray(weights)
    return float(np.clip(np.sum(w * p), 0.0, 1.0))


@dataclass(frozen=True)
class Rule2S:
    r"""Two-arm rule: success if :math:`P(p_t - p_c > \delta \mid data) > c` (lower tail: :math:`\le`).

    Parameters
    ----------
    prob
        The required posterior probability :math:`c`.
    delta
        The margin :math:`\delta` (0: treatment better than control).
    lower_tail
        Use :math:`P(p_t - p_c \le \delta)` (success means a *lower* rate on treatment).
    """

    prob: float
    delta: float = 0.0
    lower_tail: bool = False

    def __post_init__(self) -> None:
        _check_prob("the posterior probability cut-off", self.prob)
        if not -1.0 < float(self.delta) < 1.0:
            raise HlhBayesError(f"delta must lie strictly between -1 and 1, got {self.delta:g}")

    def probability(self, post_t: BetaMixture, post_c: BetaMixture) -> float:
        r""":math:`P(p_t - p_c > \delta)` (or :math:`\le`) under the two posteriors."""
        return prob_difference(post_t, post_c, self.delta, lower_tail=self.lower_tail)

    def __call__(self, post_t: BetaMixture, post_c: BetaMixture) -> bool:
        """The decision: probability strictly above the cut-off."""
        return self.probability(post_t, post_c) > self.prob

    def quantity(self) -> str:
        """The posterior probability the rule looks at, e.g. ``P(p_t - p_c > 0 | data)``."""
        op = "<=" if self.lower_tail else ">"
        return f"P(p_t - p_c {op} {self.delta:g} | data)"

    def describe(self) -> str:
        """E.g. ``P(p_t - p_c > 0 | data) > 0.95``."""
        return f"{self.quantity()} > {self.prob:g}"


def boundary_2s(
    prior_t: BetaMixture, prior_c: BetaMixture, n_t: int, n_c: int, rule: Rule2S
) -> NDArray[np.int64]:
    r"""The boundary :math:`b(y_c)` for :math:`y_c = 0, \dots, n_c`.

    Upper tail: success iff :math:`y_t \ge b(y_c)`; :math:`b = n_t + 1` when no :math:`y_t`
    succeeds. Lower tail: success iff :math:`y_t \le b(y_c)`; :math:`b = -1` when none does.
    Either way :math:`b` is non-decreasing in :math:`y_c`, and the staircase walk below needs at
    most :math:`n_t + n_c + 2` decisions.
    """
    for name, value in (("n_t", n_t), ("n_c", n_c)):
        if int(value) != value or value < 1:
            raise HlhBayesError(f"{name} must be a positive integer, got {value}")
    n_t, n_c = int(n_t), int(n_c)
    post_t = [prior_t.posterior(y, n_t) for y in range(n_t + 1)]
    bound = np.empty(n_c + 1, dtype=np.int64)
    y_t = 0 if not rule.lower_tail else -1
    for y_c in range(n_c + 1):
        post_c = prior_c.posterior(y_c, n_c)
        if rule.lower_tail:
            # successes {0..B}; B(y_c) >= B(y_c - 1): climb while the next one still succeeds
            while y_t < n_t and rule(post_t[y_t + 1], post_c):
                y_t += 1
            bound[y_c] = y_t
        else:
            # successes {b..n_t}; b(y_c) >= b(y_c - 1): climb until the first success
            while y_t <= n_t and not rule(post_t[y_t], post_c):
                y_t += 1
            bound[y_c] = y_t
    return bound
