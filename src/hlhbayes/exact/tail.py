r"""The tail of tau beyond the grid: which moments exist, and the mass the grid leaves out.

For large :math:`\tau` a study's likelihood integrated over its effect behaves as

- :math:`L_i \to \tfrac12` when :math:`r_i = 0` or :math:`r_i = n_i` (half the effects push
  :math:`p_i` to the observed edge): such a study does not bound :math:`\tau`;
- :math:`L_i \approx \tau^{-1} \varphi(0) \binom{n_i}{r_i} B(r_i, n_i - r_i)` when
  :math:`0 < r_i < n_i` (only effects within :math:`O(1)` of the study's logit fit it).

With :math:`k` studies of the second kind, the marginal posterior density of :math:`\tau` decays
like :math:`\tau^{-e}`, :math:`e = e_0 + k`, where :math:`e_0` is the prior's own tail exponent
(half-Cauchy 2, half-:math:`t_3` 4; the half-normal and exponential priors decay faster than any
power: :math:`e = \infty`). The :math:`m`-th moment exists if and only if :math:`e > m + 1`: a
half-Cauchy prior on data that do not bound :math:`\tau` (all events zero, all events, or one
study with :math:`0 < r < n` for the variance) has no posterior mean (or variance).

The grid stops at ``cap`` (:math:`T = 10^4`). When it had to stop there, the density beyond is
the power law through the grid's last point, :math:`g(T) (\tau / T)^{-e}`, and integrates in
closed form: mass :math:`A = g(T)\,T / (e - 1)` beyond :math:`T` (relative to the grid's own
normalisation, so the share outside the grid is :math:`M = A / (1 + A)`), and
:math:`g(T)\,T^{m+1} / (e - m - 1)` of the :math:`m`-th moment. Quantiles and tail probabilities
of the summaries are corrected by :math:`M`; moments get the closed-form tail. At :math:`T = 10^4`
the power law's relative error is of order :math:`1/T`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

PRIOR_TAIL_EXPONENT = {
    "halfnormal": math.inf,
    "exponential": math.inf,
    "halfcauchy": 2.0,
    "halft": 4.0,  # half Student-t with 3 degrees of freedom: density ~ tau^-(nu + 1)
}


def tail_exponent(events: NDArray[np.int64], totals: NDArray[np.int64], family: str) -> float:
    """``e``: the posterior density of tau decays like ``tau^-e`` (``inf``: faster)."""
    bounding = int(np.count_nonzero((events > 0) & (events < totals)))
    return PRIOR_TAIL_EXPONENT[family] + bounding


@dataclass(frozen=True)
class TauTail:
    """Tau beyond the grid's cap.

    ``exponent``: the decay of the density; ``cap``: where the grid stops; ``density_at_cap``:
    the grid-normalised density of tau there (0 when the grid did not need to stop there).
    """

    exponent: float
    cap: float
    density_at_cap: float

    @property
    def mass_beyond(self) -> float:
        """``M``: the posterior mass of tau beyond the cap (0 when the grid holds it all)."""
        if self.density_at_cap == 0.0:
            return 0.0
        if not self.exponent > 1.0:  # pragma: no cover - a proper prior has e >= 2
            return 1.0
        a = self.density_at_cap * self.cap / (self.exponent - 1.0)
        return a / (1.0 + a)

    def has_moment(self, order: int) -> bool:
        """Whether ``E[tau^order]`` is finite."""
        return self.exponent > order + 1

    def moment(self, order: int, grid_moment: float) -> float | None:
        """``E[tau^order]`` from the grid's moment and the closed-form tail (``None``: infinite)."""
        if not self.has_moment(order):
            return None
        beyond = 0.0
        if self.density_at_cap and math.isfinite(self.exponent):
            beyond = self.density_at_cap * self.cap ** (order + 1) / (self.exponent - order - 1)
        return (1.0 - self.mass_beyond) * (grid_moment + beyond)

    def why_not(self, what: str, order: int) -> str:
        """One line: why ``E[tau^order]`` (called ``what``) is not finite."""
        return (
            f"tau: {what} not finite: its posterior density decays like tau^-{self.exponent:g} "
            f"(the prior's tail, and too few studies with 0 < events < total to bound tau), so "
            f"E[tau^{order}] diverges"
        )
