r"""Exact (deterministic) posterior of the binomial-logit-normal random-effects model.

A reference implementation by numerical integration, independent of any MCMC code, for
checking the sampled models.  The model is

.. math::

    r_i \mid p_i &\sim \operatorname{Binomial}(n_i, p_i), \qquad
    \operatorname{logit} p_i = \mu + \tau z_i, \qquad z_i \sim N(0, 1), \\
    \mu &\sim N(m_0, s_0^2), \qquad \tau \sim \text{HalfNormal}(s),\ \text{HalfCauchy}(s),\
    \text{half-}t_3(s) \text{ or } \text{Exponential}(\text{rate} = 1/s).

Derived quantities: ``rate_typical`` :math:`= \operatorname{logistic}(\mu)` and ``rate_new``
:math:`= \operatorname{logistic}(\mu + \tau z_\text{new})`, the rate in a new study (the
meta-analytic-predictive, "MAP", prior).  The posterior is

.. math::

    p(\mu, \tau \mid r) \propto N(\mu \mid m_0, s_0^2)\, p(\tau) \prod_i L_i(\mu, \tau),
    \qquad
    L_i(\mu, \tau) = \int \operatorname{Bin}(r_i \mid n_i, \operatorname{logistic}(\mu + \tau v))
    \, \phi(v) \, dv .

**Likelihood** (all on the log scale: ``log_expit``/softplus, log-sum-exp, ``gammaln``).
:math:`L_i` by *adaptive* Gauss-Hermite quadrature: the mode :math:`\hat v` of the integrand is
found by safeguarded Newton steps and the curvature there gives the scale
:math:`\rho = (1 + \tau^2 n_i \hat p (1 - \hat p))^{-1/2}`; with probabilists' Hermite nodes and
weights :math:`(x_g, w_g)`, :math:`\sum_g w_g = 1`,

.. math::

    L_i \approx \rho \sum_g w_g \operatorname{Bin}(r_i \mid n_i,
    \operatorname{logistic}(\mu + \tau v_g)) \, e^{(x_g^2 - v_g^2)/2},
    \qquad v_g = \hat v + \rho x_g ,

exact at :math:`\tau = 0` (:math:`\hat v = 0, \rho = 1`) and accurate when the study's
likelihood is much narrower than :math:`N(\mu, \tau^2)`, unless that likelihood is a step
(:math:`r_i \in \{0, n_i\}`) or strongly skewed (few events).  For such studies, once
:math:`\tau` exceeds ~0.7 of the study's logit-scale standard error, :math:`L_i` is instead
integrated over :math:`\eta = \operatorname{logit} p` by the trapezoid rule on the study's own
likelihood (for :math:`r_i = 0`, after integrating by parts,
:math:`L_i = \int \Phi((\eta - \mu)/\tau)\, n_i\, \sigma(\eta)(1 - \sigma(\eta))^{n_i} d\eta`).
Both rules were checked against :func:`scipy.integrate.quad` (errors in :math:`\log L_i`
below ~1e-8 with the default 24 nodes).

**Grid.**  :math:`\mu = m + a \sinh \xi` and :math:`\tau = c \sinh u` with :math:`\xi, u` on
uniform grids (fine in the bulk, logarithmic in heavy tails; Jacobians included).  Coarse
passes with a cheap rule locate the mass: ranges are widened while an end cell holds more than
1e-12 of the mass and narrowed while the mass occupies under half the grid; :math:`m, a` are
the coarse median and half the 16-84% range of :math:`\mu`, :math:`c` about the lower decile of
:math:`\tau`.  The :math:`\tau` range may start above zero, and stops at 1e4 (flagged in
``settings["tau_truncated"]``).  Weights: trapezoid in :math:`\xi` (spectrally accurate for a
smooth integrand negligible at both ends), Simpson in :math:`u`; normalised to one.

**Summaries.**  Means and standard deviations are weighted sums over the grid.  The CDF of
:math:`\mu` integrates the band-limited (sinc) interpolant of the density in :math:`\xi`,
:math:`F(\xi) = \sum_j m_j [1/2 + \operatorname{Si}(\pi (\xi - \xi_j)/h)/\pi]` (spectrally
accurate, like the trapezoid rule); likewise for :math:`u` (even extension at :math:`u = 0`,
since the density in :math:`u` is even for the even priors), except for the exponential prior
with mass at :math:`\tau = 0`, where a cubic Hermite interpolant of the cumulative Simpson
integral is used.  Quantiles invert the CDFs with :func:`scipy.optimize.brentq`;
``rate_typical`` maps through the monotone logistic.  For ``rate_new``,

.. math::

    P(\text{rate\_new} \le x) = \sum_{j,k} W_{jk} \,
    \Phi\!\left(\frac{\operatorname{logit} x - \mu_j}{\tau_k}\right),

used directly where :math:`\tau_k` is at least 1.5 local :math:`\mu` spacings.  For smaller
:math:`\tau_k` (including :math:`\tau_k = 0`, a step function) the sum would be a staircase,
so the column's sinc-interpolated CDF of :math:`\mu` is smoothed over :math:`z` instead
(Gauss-Hermite, or a second-order Taylor term for tiny :math:`\tau_k`); the CDF is continuous,
so quantiles satisfy ``cdf(q) == p`` to root-finding precision.  The predictive mean and sd
integrate ``logistic(mu + tau z)`` over :math:`z` by Gauss-Hermite (tau <= 2) or, for wider
tau, as :math:`E[\Phi((\mu - T)/\tau)]` over a logistic-type variable :math:`T`.

Doubling every node and grid count changes the summaries by < 1e-7 on typical data (< 1e-5
with the exponential prior).

The code follows the three steps: :mod:`~hlhbayes.exact.likelihood` (the prior of tau and each
study's likelihood integrated over its random effect), :mod:`~hlhbayes.exact.grid` (where the
posterior mass lies, the fine grid, and :func:`random_effects_exact`, the entry point) and
:mod:`~hlhbayes.exact.posterior` (:class:`ExactPosterior`: CDFs, quantiles and summaries from the
grid).
"""

from hlhbayes.exact.grid import TAU_FAMILIES, random_effects_exact
from hlhbayes.exact.posterior import QUANTITIES, ExactPosterior

__all__ = ["QUANTITIES", "TAU_FAMILIES", "ExactPosterior", "random_effects_exact"]
