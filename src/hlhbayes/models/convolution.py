r"""Stratum counts drawn from the exact likelihood of ``etiology-line``: patients, not a mean.

``etiology-line`` fits an aggregate stratum of :math:`n_j` patients with the mean-probability
binomial :math:`r_j \sim \text{Binomial}(n_j, \bar p_j)`,
:math:`\bar p_j = \sum_e w_{je} [(1 - v_j)\,q_{e,\text{first}} + v_j\,q_{e,\text{later}}]`,
:math:`q_{e,l} = \operatorname{logit}^{-1}(\eta_e + \gamma [l] + u_{s(j)})`. The patients of a
stratum are not draws from its mix, though: a stratum that reports 13 rheumatic and 2 other
patients has exactly those. Its exact count is a sum of independent Bernoulli outcomes, one per
patient, :math:`r_j = \sum_i \text{Bernoulli}(p_i)` (a convolution of binomials, one per group
of patients alike; with one trigger per patient, the model's binomial has the same mean and a
larger variance). This module draws from that distribution, so that a simulation study can
test the approximation instead of assuming it.

Each patient's probability :math:`p_i` (:func:`patient_probabilities`):

* **etiology**: a known composition gives the stated counts: a whole count is that many
  patients of the category; halves (a patient with two triggers counts 0.5 in each) are
  paired, in the order of the categories, into patients with weight 1/2 on each of two
  triggers, whose logit is :math:`\tfrac12(\eta_a + \eta_b)` as for a patient row with two
  triggers. Where the composition is unknown (latent in the model), each patient's trigger is
  an independent draw from the stratum's true mix :math:`w_j` (multinomial counts); that draw
  is integrated out: :math:`p_i = \sum_e w_{je}\,p_{i \mid e}`;
* **line**: a known later-line fraction gives :math:`n_j v_j` later-line patients (a whole
  number), which of them not reported: a uniformly random subset, drawn. An unknown fraction
  makes each patient's line an independent draw with the true :math:`v_j`, integrated out:
  :math:`p_{i \mid e} = (1 - v_j)\,q_{e,\text{first}} + v_j\,q_{e,\text{later}}`.

The count's pmf is the Poisson-binomial of the :math:`p_i` (:func:`count_pmf`, exact), and the
count its quantile at a uniform number (:func:`simulate_strata`): given the same uniform, the
model's binomial quantile is the count the model's own likelihood would give, so two
simulations can share their randomness (common random numbers) and differ only by the
approximation. Where both compositions are unknown every :math:`p_i = \bar p_j` and the exact
count is the model's binomial; the two differ where counts are stated and where a patient has
two triggers (mean of the logits here, mean of the probabilities in the model's stratum).
"""

from __future__ import annotations

import numpy as np

from hlhbayes.models.units import Units
from hlhbayes.special import expit

_WHOLE = 1e-6  # tolerance of a count that must be whole (or a half)


def etiology_rows(total: int, mix: np.ndarray) -> np.ndarray:
    """The stated patients of a known composition: ``(total, K)`` etiology weights.

    One-hot rows for whole counts, then one row with 1/2 on each of two categories per pair
    of halves (in the order of the categories).
    """
    k = len(mix)
    counts = np.asarray(mix, dtype=float) * total
    whole = np.floor(counts + _WHOLE)
    halves = counts - whole
    if np.any(np.abs(halves * 2 - np.round(halves * 2)) > _WHOLE):
        raise ValueError(f"etiology counts {counts.tolist()} are not whole numbers or halves")
    half_categories = np.flatnonzero(halves > 0.25)
    if len(half_categories) % 2:
        raise ValueError(f"etiology counts {counts.tolist()} leave an unpaired half patient")
    two_triggers = np.zeros((len(half_categories) // 2, k))
    for i, (a, b) in enumerate(half_categories.reshape(-1, 2)):
        two_triggers[i, [a, b]] = 0.5
    rows = np.concatenate([np.repeat(np.eye(k), whole.astype(int), axis=0), two_triggers])
    if len(rows) != total:
        raise ValueError(f"etiology counts make {len(rows)} patients, not {total}")
    return rows


def patient_probabilities(
    total: int,
    mix: np.ndarray,
    later: float,
    eta: np.ndarray,
    gamma: float,
    u: float,
    rng: np.random.Generator,
    *,
    mix_known: bool = True,
    later_known: bool = True,
) -> np.ndarray:
    """Each patient's event probability ``(total,)`` (see the module docstring).

    ``mix``: the stratum's etiology fractions (known) or its true latent mix (unknown);
    ``later``: its later-line fraction (known) or its true latent fraction (unknown). ``rng``
    draws which patients are in the later line when that count is stated.
    """
    eta = np.asarray(eta, dtype=float)
    if mix_known:
        logits = (etiology_rows(total, mix) @ eta)[:, None]  # (n, 1)
        weights = np.ones((total, 1))
    else:
        logits = np.broadcast_to(eta, (total, len(eta)))  # every trigger, weighted by the mix
        weights = np.broadcast_to(np.asarray(mix, dtype=float), (total, len(eta)))
    if later_known:
        n_later = later * total
        if abs(n_later - round(n_later)) > _WHOLE:
            raise ValueError(f"later-line count {n_later} is not a whole number")
        flags = np.zeros(total)
        flags[rng.permutation(total)[: round(n_later)]] = 1.0
        per_trigger = expit(logits + gamma * flags[:, None] + u)
    else:
        per_trigger = (1 - later) * expit(logits + u) + later * expit(logits + gamma + u)
    return (weights * per_trigger).sum(axis=1)


def count_pmf(p: np.ndarray) -> np.ndarray:
    """Probabilities of 0..n events among independent Bernoulli(``p_i``): the Poisson-binomial."""
    pmf = np.zeros(len(p) + 1)
    pmf[0] = 1.0
    for i, pi in enumerate(np.asarray(p, dtype=float)):
        pmf[1 : i + 2] = pmf[1 : i + 2] * (1 - pi) + pmf[: i + 1] * pi
        pmf[0] *= 1 - pi
    return pmf


def quantile(pmf: np.ndarray, uniform: float) -> int:
    """The smallest count whose cumulative probability reaches ``uniform``."""
    return int(min(np.searchsorted(np.cumsum(pmf), uniform), len(pmf) - 1))


def simulate_strata(
    units: Units,
    eta: np.ndarray,
    gamma: np.ndarray,
    u: np.ndarray,
    rng: np.random.Generator,
    mix_latent: np.ndarray | None = None,
    later_latent: np.ndarray | None = None,
    uniforms: np.ndarray | None = None,
) -> np.ndarray:
    """Events of every stratum of ``units`` for ``S`` parameter draws: ``(S, strata)`` integers.

    ``eta`` ``(S, K)``, ``gamma`` ``(S,)``, ``u`` ``(S, studies)``; ``mix_latent``
    ``(S, strata with an unknown mix, K)`` and ``later_latent`` ``(S, strata with an unknown
    line)``, in the order of the strata (as the model's ``mix_latent`` and ``later_latent``).
    ``uniforms`` ``(S, strata)``: the uniform numbers the counts are quantiles of (drawn from
    ``rng`` if not given).
    """
    draws, strata = len(gamma), len(units.agg_ids)
    unknown_w = np.isnan(units.agg_w).any(axis=1)
    unknown_v = np.isnan(units.agg_v)
    slot_w = np.cumsum(unknown_w) - 1
    slot_v = np.cumsum(unknown_v) - 1
    if mix_latent is None:
        mix_latent = np.zeros((draws, 0, units.agg_w.shape[1]))
    if later_latent is None:
        later_latent = np.zeros((draws, 0))
    if uniforms is None:
        uniforms = rng.random((draws, strata))
    out = np.zeros((draws, strata), dtype=np.int64)
    for s in range(draws):
        for j in range(strata):
            p = patient_probabilities(
                int(units.agg_total[j]),
                mix_latent[s, slot_w[j]] if unknown_w[j] else units.agg_w[j],
                float(later_latent[s, slot_v[j]] if unknown_v[j] else units.agg_v[j]),
                eta[s],
                float(gamma[s]),
                float(u[s, units.agg_study[j]]),
                rng,
                mix_known=not unknown_w[j],
                later_known=not unknown_v[j],
            )
            out[s, j] = quantile(count_pmf(p), uniforms[s, j])
    return out
