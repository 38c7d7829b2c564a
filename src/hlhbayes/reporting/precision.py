"""Monte Carlo error of the printed numbers, and no more digits than that error supports.

A posterior summary from S draws is itself an estimate: another machine (other floating-point
rounding, so other draws) gives a number that differs by about its Monte Carlo standard error
(MCSE). The rule used everywhere in a report: the unit of the last printed digit is at least the
MCSE, so a rerun moves a printed number by about one unit of its last digit at most, most of
the time. MCSEs come from arviz-stats (``mcse``: the mean's from the effective sample size, a
quantile's from the ranks of its draws, Vehtari et al. 2021), from the chains as sampled.
"""

from __future__ import annotations

import math

import numpy as np
from arviz_stats import mcse

from hlhbayes.reporting.estimates import INTERVAL

TAILS = ((1 - INTERVAL) / 2, 1 - (1 - INTERVAL) / 2)
"""The quantiles that bound the one interval policy (2.5% and 97.5%)."""


def decimals(error: float, most: int, least: int = -1) -> int:
    """Decimals to print a number whose Monte Carlo error is ``error`` (same units).

    The largest d in ``least..most`` with 10^-d >= ``error``: an error of 0.3 gives 0 decimals,
    0.03 gives 1, 3 gives -1 (round to tens). A zero or unknown error gives ``most``.
    """
    if not error or not math.isfinite(error) or error <= 0:
        return most
    return max(least, min(most, math.floor(-math.log10(error))))


def rounded(value: float, places: int) -> str:
    """``value`` to ``places`` decimals (negative: to tens, hundreds), without a ``-0``."""
    text = f"{value:.{places}f}" if places >= 0 else f"{round(value, places):.0f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def up_to_one_digit(error: float) -> float:
    """An error rounded up to one significant digit (0.14 to 0.2, 0.86 to 0.9, 1.2 to 2)."""
    if not error or not math.isfinite(error) or error <= 0:
        return 0.0
    unit = 10.0 ** math.floor(math.log10(error))
    return float(f"{math.ceil(round(error / unit, 9)) * unit:.1g}")


def chains_of(draws: np.ndarray) -> np.ndarray:
    """Draws as ``(chain, draw)`` (a flat vector is one chain)."""
    draws = np.asarray(draws, dtype=float)
    return draws[None, :] if draws.ndim == 1 else draws.reshape(draws.shape[0], -1)


def mean_error(draws: np.ndarray) -> float:
    """MCSE of the mean of ``draws`` (``(chain, draw)``)."""
    return float(mcse(chains_of(draws), method="mean"))


def quantile_error(draws: np.ndarray, prob: float) -> float:
    """MCSE of the ``prob`` quantile of ``draws`` (``(chain, draw)``)."""
    return float(mcse(chains_of(draws), method="quantile", prob=prob))


def share_error(draws: np.ndarray, threshold: float) -> float:
    """MCSE of P(draw > threshold), the mean of an indicator (0 when all draws agree)."""
    above = (chains_of(draws) > threshold).astype(float)
    if above.min() == above.max():
        return 0.0
    return float(mcse(above, method="mean"))


def interval_errors(draws: np.ndarray) -> tuple[float, float]:
    """MCSE of the two ends of the 95% equal-tailed interval."""
    return quantile_error(draws, TAILS[0]), quantile_error(draws, TAILS[1])
