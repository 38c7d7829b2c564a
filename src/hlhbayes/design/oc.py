r"""Exact operating characteristics and sample sizes (RBesT ``oc1S``, ``oc2S``).

Everything here is computed from the decision boundary and the binomial distribution, never by
simulation.

**Single arm** with boundary :math:`b` (:mod:`hlhbayes.design.decision`), the probability of
success when the true rate is :math:`p`:

.. math::

    \Pr(\text{success} \mid p) = \Pr(Y \ge b) = \sum_{y = b}^{n} \binom{n}{y} p^y (1-p)^{n-y}
    \quad\text{(lower tail: } \Pr(Y \le b)\text{)},

the type I error at :math:`p = p_0` and the power at an alternative.

**Two arms** with boundary :math:`b(y_c)`:

.. math::

    \Pr(\text{success} \mid p_t, p_c) = \sum_{y_c = 0}^{n_c} \binom{n_c}{y_c}
        p_c^{y_c} (1 - p_c)^{n_c - y_c} \, \Pr\big(Y_t \ge b(y_c) \mid n_t, p_t\big) .

The boundary depends on the priors, sample sizes and rule, not on the true rates, so one
boundary serves any number of true-rate scenarios.

**Sample size.** Because outcomes are discrete, power is not monotone in :math:`n` (it
saw-tooths). :func:`sample_size_1s` reports the smallest :math:`n` that reaches the target and,
separately, the smallest :math:`n` from which every larger :math:`n` up to the search limit
does (``n_stable``); :func:`sample_size_2s` does too when asked to scan every size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special, stats

from hlhbayes.design.decision import Rule1S, Rule2S, boundary_1s, boundary_2s
from hlhbayes.design.mixture import BetaMixture, FloatArray
from hlhbayes.errors import HlhBayesError

DEFAULT_RATES = np.round(np.linspace(0.0, 1.0, 101), 10)
"""The default grid of true rates: 0, 0.01, ..., 1."""


def check_rates(rates: ArrayLike, name: str = "rates") -> FloatArray:
    """Validate a grid of true rates (finite, in [0, 1])."""
    r = np.atleast_1d(np.asarray(rates, dtype=float))
    if r.ndim != 1 or r.size == 0:
        raise HlhBayesError(f"{name}: give at least one rate")
    if not np.all(np.isfinite(r)) or np.any((r < 0) | (r > 1)):
        raise HlhBayesError(f"{name}: true rates must lie in [0, 1]")
    return r


def _prob_at_least(k: NDArray[np.int64] | int, n: int, p: FloatArray) -> FloatArray:
    r""":math:`\Pr(Y \ge k)` for :math:`Y \sim \operatorname{Bin}(n, p)` (1 for k <= 0, 0 for k > n)."""
    k = np.asarray(k)
    out = special.bdtrc(np.clip(k - 1, 0, n), n, p)  # P(Y > k - 1)
    return np.where(k <= 0, 1.0, np.where(k > n, 0.0, out))


def _prob_at_most(k: NDArray[np.int64] | int, n: int, p: FloatArray) -> FloatArray:
    r""":math:`\Pr(Y \le k)` (0 for k < 0, 1 for k >= n)."""
    k = np.asarray(k)
    out = special.bdtr(np.clip(k, 0, n), n, p)
    return np.where(k < 0, 0.0, np.where(k >= n, 1.0, out))


# ---------------------------------------------------------------------- single arm
@dataclass(frozen=True)
class Design1S:
    """A single-arm design: prior, sample size and decision rule; its boundary is computed once."""

    prior: BetaMixture
    n: int
    rule: Rule1S
    boundary: int | None = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "boundary", boundary_1s(self.prior, self.n, self.rule))

    def success(self, y: ArrayLike) -> NDArray[np.bool_]:
        """Whether ``y`` responders out of ``n`` is a success."""
        y = np.asarray(y)
        if self.boundary is None:
            return np.zeros(y.shape, dtype=bool)
        return y <= self.boundary if self.rule.lower_tail else y >= self.boundary

    def probability_success(self, rates: ArrayLike) -> FloatArray:
        r""":math:`\Pr(\text{success} \mid p)` for each true rate (exact binomial sums)."""
        p = check_rates(rates)
        if self.boundary is None:
            return np.zeros_like(p)
        if self.rule.lower_tail:
            return _prob_at_most(self.boundary, self.n, p)
        return _prob_at_least(self.boundary, self.n, p)


@dataclass(frozen=True)
class OC1S:
    """Operating characteristics of a single-arm design over a grid of true rates."""

    design: Design1S
    rates: FloatArray
    probability: FloatArray

    @property
    def type_i_error(self) -> float:
        """The probability of success at the threshold rate :math:`p_0`."""
        return float(self.design.probability_success([self.design.rule.p0])[0])

    def records(self) -> list[dict[str, float]]:
        """``[{"rate": ..., "probability_success": ...}, ...]``."""
        return [
            {"rate": float(r), "probability_success": float(p)}
            for r, p in zip(self.rates, self.probability, strict=True)
        ]


def oc_1s(prior: BetaMixture, n: int, rule: Rule1S, rates: ArrayLike | None = None) -> OC1S:
    """Exact operating characteristics of a single-arm design (module docstring).

    Parameters
    ----------
    prior
        The analysis prior.
    n
        Number of patients.
    rule
        The decision rule.
    rates
        True rates (default 0, 0.01, ..., 1).
    """
    design = Design1S(prior, int(n), rule)
    grid = DEFAULT_RATES if rates is None else check_rates(rates)
    return OC1S(design, grid, design.probability_success(grid))


@dataclass(frozen=True)
class SampleSize:
    """The result of a sample-size search."""

    n: int | None
    power: float | None
    n_stable: int | None
    scan: list[dict[str, float | int | None]]
    target_power: float
    n_max: int


def _check_target(target_power: float) -> float:
    if not 0.0 < target_power < 1.0:
        raise HlhBayesError(f"target power must lie strictly between 0 and 1, got {target_power:g}")
    return float(target_power)


def _check_n_range(n_min: int, n_max: int) -> tuple[int, int]:
    if int(n_min) != n_min or int(n_max) != n_max or not 1 <= n_min <= n_max:
        raise HlhBayesError(f"need integers 1 <= n_min <= n_max, got {n_min}, {n_max}")
    return int(n_min), int(n_max)


def sample_size_1s(
    prior: BetaMixture,
    rule: Rule1S,
    rate: float,
    target_power: float,
    *,
    n_min: int = 1,
    n_max: int = 500,
) -> SampleSize:
    """The smallest ``n`` whose probability of success at true ``rate`` reaches the target.

    Every ``n`` from ``n_min`` to ``n_max`` is evaluated exactly (a bisection for the
    boundary, then a binomial tail), so ``n_stable`` (the smallest ``n`` from which all larger
    ``n`` up to ``n_max`` also reach the target) comes for free.
    """
    target = _check_target(target_power)
    n_min, n_max = _check_n_range(n_min, n_max)
    p = check_rates([rate], "rate")
    scan: list[dict[str, float | int | None]] = []
    powers = []
    for n in range(n_min, n_max + 1):
        design = Design1S(prior, n, rule)
        power = float(design.probability_success(p)[0])
        powers.append(power)
        scan.append({"n": n, "boundary": design.boundary, "power": power})
    return _search_result(powers, scan, target, n_min, n_max)


def _search_result(
    powers: list[float],
    scan: list[dict[str, float | int | None]],
    target: float,
    n_min: int,
    n_max: int,
) -> SampleSize:
    """First ``n`` reaching ``target`` and the ``n`` from which every later one does."""
    reached = np.asarray(powers) >= target
    first = int(np.argmax(reached)) if reached.any() else None
    stable = None
    if reached.size and reached[-1]:
        fails = np.flatnonzero(~reached)
        stable = n_min + (int(fails[-1]) + 1 if fails.size else 0)
    return SampleSize(
        n=None if first is None else n_min + first,
        power=None if first is None else powers[first],
        n_stable=stable,
        scan=scan,
        target_power=target,
        n_max=n_max,
    )


# ---------------------------------------------------------------------- two arms
@dataclass(frozen=True)
class Design2S:
    """A two-arm design (priors, sample sizes, rule); its boundary is computed once."""

    prior_t: BetaMixture
    prior_c: BetaMixture
    n_t: int
    n_c: int
    rule: Rule2S
    boundary: NDArray[np.int64] = field(init=False)

    def __post_init__(self) -> None:
        b = boundary_2s(self.prior_t, self.prior_c, self.n_t, self.n_c, self.rule)
        b.setflags(write=False)
        object.__setattr__(self, "boundary", b)

    def success_given_control(self, p_t: ArrayLike) -> FloatArray:
        r""":math:`\Pr(\text{success} \mid y_c, p_t)`, shape ``(n_c + 1, len(p_t))``."""
        p = np.atleast_1d(np.asarray(p_t, dtype=float))
        b = self.boundary[:, None]
        if self.rule.lower_tail:
            return _prob_at_most(b, self.n_t, p[None, :])
        return _prob_at_least(b, self.n_t, p[None, :])

    def probability_success(self, rate_t: ArrayLike, rate_c: ArrayLike) -> FloatArray:
        r""":math:`\Pr(\text{success} \mid p_t, p_c)` for paired (broadcast) true rates."""
        pt, pc = np.broadcast_arrays(
            check_rates(rate_t, "treatment rates"), check_rates(rate_c, "control rates")
        )
        y_c = np.arange(self.n_c + 1)[:, None]
        pmf_c = stats.binom.pmf(y_c, self.n_c, pc[None, :])
        return np.clip(np.sum(pmf_c * self.success_given_control(pt), axis=0), 0.0, 1.0)


def oc_2s(design: Design2S, rate_t: ArrayLike, rate_c: ArrayLike) -> list[dict[str, float]]:
    """OC records ``{"rate_treatment", "rate_control", "probability_success"}`` (paired rates)."""
    pt, pc = np.broadcast_arrays(
        check_rates(rate_t, "treatment rates"), check_rates(rate_c, "control rates")
    )
    prob = design.probability_success(pt, pc)
    return [
        {"rate_treatment": float(a), "rate_control": float(b), "probability_success": float(p)}
        for a, b, p in zip(pt, pc, prob, strict=True)
    ]


@dataclass(frozen=True)
class OC2Table:
    """Operating characteristics of several two-arm designs over several control rates.

    ``designs``: one record per design (sizes, boundary, OC records and, with a target power,
    the difference reaching it at each control rate); ``curves``: one (label, difference,
    probability of success) per design and control rate; ``rows``: every OC record with its
    design's sizes.
    """

    designs: list[dict[str, Any]]
    curves: list[tuple[str, FloatArray, FloatArray]]
    rows: list[dict[str, Any]]


def oc_2s_table(
    designs: list[Design2S],
    rates_control: ArrayLike,
    rates_treat: ArrayLike | None = None,
    differences: ArrayLike | None = None,
    target_power: float | None = None,
) -> OC2Table:
    """The OC of every design at every control rate, against the treatment rate.

    The treatment rates are ``rates_treat``, or each control rate plus ``differences``
    (default: 0 to 1 - p_c by 0.01; with a lower-tail rule 0 down to -p_c), kept within [0, 1].
    With ``target_power``, also the true difference reaching it (:func:`find_delta`).
    """
    if rates_treat is not None and differences is not None:
        raise HlhBayesError("give --rates-treat or --differences, not both")
    entries: list[dict[str, Any]] = []
    curves: list[tuple[str, FloatArray, FloatArray]] = []
    rows: list[dict[str, Any]] = []
    for d in designs:
        records: list[dict[str, float]] = []
        deltas = []
        for rc in np.atleast_1d(np.asarray(rates_control, dtype=float)):
            if rates_treat is not None:
                treat = np.asarray(rates_treat, dtype=float)
            else:
                diffs = differences
                if diffs is None:
                    step = -0.01 if d.rule.lower_tail else 0.01
                    end = -rc if d.rule.lower_tail else 1.0 - rc
                    diffs = np.round(np.arange(0.0, end + step / 2, step), 10)
                treat = rc + np.asarray(diffs, dtype=float)
                treat = treat[(treat >= -1e-12) & (treat <= 1 + 1e-12)].clip(0.0, 1.0)
            part = oc_2s(d, treat, np.full(treat.shape, rc))
            records += part
            curves.append(
                (
                    f"{d.n_t}:{d.n_c}, p_c = {rc:.3g}",
                    np.array([r["rate_treatment"] - rc for r in part]),
                    np.array([r["probability_success"] for r in part]),
                )
            )
            if target_power is not None:
                deltas.append(
                    {"rate_control": float(rc), "delta": find_delta(d, float(rc), target_power)}
                )
        entry: dict[str, Any] = {
            "n_treatment": d.n_t,
            "n_control": d.n_c,
            "boundary": [int(v) for v in d.boundary],
            "oc": records,
        }
        if target_power is not None:
            entry["target_power"] = target_power
            entry["delta_for_target"] = deltas
        entries.append(entry)
        rows += [{"n_treatment": d.n_t, "n_control": d.n_c, **r} for r in records]
    return OC2Table(entries, curves, rows)


def find_delta(design: Design2S, rate_c: float, target_power: float) -> float | None:
    r"""The true difference :math:`\delta` with :math:`\Pr(\text{success} \mid p_c + \delta, p_c)` equal to the target.

    Root of a continuous, increasing function of :math:`\delta` on :math:`[0, 1 - p_c]` (upper
    tail; :math:`[-p_c, 0]` for the lower tail), found by Brent's method to :math:`10^{-10}`.
    ``None`` if the target is not reached in that range.
    """
    target = _check_target(target_power)
    pc = float(check_rates([rate_c], "control rate")[0])

    def gap(d: float) -> float:
        return float(design.probability_success([min(max(pc + d, 0.0), 1.0)], [pc])[0]) - target

    lo, hi = (-pc, 0.0) if design.rule.lower_tail else (0.0, 1.0 - pc)
    g_lo, g_hi = gap(lo), gap(hi)
    if g_lo * g_hi > 0:
        return None
    if g_lo == 0:
        return lo
    if g_hi == 0:
        return hi
    return float(optimize.brentq(gap, lo, hi, xtol=1e-10, rtol=1e-12))


def sample_size_2s(
    prior_t: BetaMixture,
    prior_c: BetaMixture,
    rule: Rule2S,
    rate_t: float,
    rate_c: float,
    target_power: float,
    *,
    ratio: float = 1.0,
    n_control: int | None = None,
    n_min: int = 1,
    n_max: int = 300,
    scan_all: bool = False,
) -> SampleSize:
    r"""The smallest two-arm design reaching the target power at true rates ``(rate_t, rate_c)``.

    With ``n_control`` fixed (e.g. a small control arm backed by a MAP prior), the treatment
    arm :math:`n_t` is searched from ``n_min`` to ``n_max``; otherwise the control arm
    :math:`n_c` is searched and :math:`n_t = \max(1, \operatorname{round}(\text{ratio} \cdot n_c))`.
    The scan stops at the first design that reaches the target (each costs one boundary), unless
    ``scan_all``: then every size up to ``n_max`` is evaluated and ``n_stable`` (from which size
    on every design reaches the target) is found as in :func:`sample_size_1s`.
    ``n`` in the result is the searched arm's size; ``scan`` has both.
    """
    target = _check_target(target_power)
    n_min, n_max = _check_n_range(n_min, n_max)
    pt = check_rates([rate_t], "treatment rate")
    pc = check_rates([rate_c], "control rate")
    if n_control is not None and (int(n_control) != n_control or n_control < 1):
        raise HlhBayesError(f"n_control must be a positive integer, got {n_control}")
    if not ratio > 0 or not np.isfinite(ratio):
        raise HlhBayesError(f"ratio must be > 0, got {ratio:g}")
    scan: list[dict[str, float | int | None]] = []
    powers: list[float] = []
    for n in range(n_min, n_max + 1):
        if n_control is not None:
            n_t, n_c = n, int(n_control)
        else:
            n_t, n_c = max(1, round(ratio * n)), n
        design = Design2S(prior_t, prior_c, n_t, n_c, rule)
        power = float(design.probability_success(pt, pc)[0])
        scan.append({"n_treatment": n_t, "n_control": n_c, "power": power})
        powers.append(power)
        if power >= target and not scan_all:
            return SampleSize(n, power, None, scan, target, n_max)
    return _search_result(powers, scan, target, n_min, n_max)
