r"""Special functions in numpy and the standard library, for the code every fit runs.

``scipy.special`` would give the same values, but importing it costs about half a second of
every fit (it pulls in ``scipy.linalg``). Each function is tested against its ``scipy``
counterpart to near machine precision.

* :func:`expit` :math:`\sigma(x) = 1 / (1 + e^{-x})`, computed as
  :math:`\exp(-\log(1 + e^{-x}))` with ``logaddexp`` (no overflow for extreme ``x``);
* :func:`binomial_logpmf` :math:`\log\binom{n}{y} + y \log p + (n - y) \log(1 - p)`, with
  :math:`0 \log 0 = 0` (so :math:`p \in \{0, 1\}` gives 0 or :math:`-\infty`);
* :func:`normal_quantiles` :math:`\Phi^{-1}((j/2 - a)/(N - 2a + 1))` for every half-integer
  rank :math:`j/2` of :math:`N` draws (Wichura's AS 241 via :class:`statistics.NormalDist`),
  the table that rank-normalisation looks values up in.
"""

from __future__ import annotations

import math
from functools import lru_cache
from statistics import NormalDist

import numpy as np
from numpy.typing import ArrayLike, NDArray


def expit(x: ArrayLike) -> NDArray[np.float64]:
    """The logistic function, elementwise."""
    return np.exp(-np.logaddexp(0.0, -np.asarray(x, dtype=float)))


def binomial_logpmf(y: ArrayLike, n: ArrayLike, p: ArrayLike) -> NDArray[np.float64]:
    """``log Binomial(y | n, p)`` elementwise; ``y`` and ``n`` are whole counts."""
    y, n, p = (np.asarray(a, dtype=float) for a in (y, n, p))
    log_gamma = np.frompyfunc(math.lgamma, 1, 1)
    choose = (log_gamma(n + 1) - log_gamma(y + 1) - log_gamma(n - y + 1)).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        successes = np.where(y == 0, 0.0, y * np.log(p))
        failures = np.where(n - y == 0, 0.0, (n - y) * np.log1p(-p))
    return choose + successes + failures


@lru_cache(maxsize=8)
def normal_quantiles(size: int, offset: float) -> NDArray[np.float64]:
    """Entry ``j - 2`` is the normal quantile of rank ``j/2`` among ``size`` (``j = 2..2 size``)."""
    ranks = np.arange(2, 2 * size + 1) / 2
    inv_cdf = NormalDist().inv_cdf
    table = np.array([inv_cdf(p) for p in (ranks - offset) / (size - 2 * offset + 1)])
    table.flags.writeable = False
    return table
