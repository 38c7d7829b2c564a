r"""Stratum counts drawn from the exact likelihood of ``etiology-line``: patients, not a mean.

``etiology-line`` fits an aggregate stratum of :math:`n_j` patients with the mean-probability
binomial :math:`r_j \sim \text{Binomial}(n_j, \bar p_j)`,
:math:`\bar p_j = \sum_e w_{je} [(1 - v_j)\,q_{e,\text{first}} + v_j\,q_{e,\text{later}}]`,
:math:`q_{e,l} = \operatorname{logit}^{-1}(\eta_e + \gamma [l] + u_{s(j)})`. The patients of a
stratum are not draws from its mix, though: a stratum that reports 13 rheumatic and 2 other
patients has exactly those. Its exact count distribution is the sum of independent Bernoulli
draws, one per patient (a convolution of binomials, one per cell of patients alike): with one
trigger per patient, the model's binomial has the same mean and a larger variance. This module draws from it, so that a
simulation study can test the approximation instead of assuming it.

A stratum's patients, per simulated data set (:func:`stratum_patients`):

* **etiology**: a known composition gives the stated counts: a whole count is that many
  patients of the category; halves (a patient with two triggers counts 0.5 in each) are
  paired, in the order of the categories, into patients with weight 1/2 on each of two
  triggers, whose logit is :math:`\tfrac12(\eta_a + \eta_b)` as for a patient row with two
  triggers. An unknown composition (latent in the model) draws the counts from
  :math:`\text{Multinomial}(n_j, w_j)` with the data set's true latent mix :math:`w_j`;
* **line**: a known later-line fraction gives :math:`n_j v_j` later-line patients (a whole
  number); an unknown one draws :math:`\text{Binomial}(n_j, v_j)` with the true :math:`v_j`.
  Which patients are the later-line ones is not reported: a uniformly random subset of that
  size.

Then :math:`r_j = \sum_i \text{Bernoulli}(\operatorname{logit}^{-1}(w_i \cdot \eta + \gamma
[l_i] + u_{s(j)}))` (:func:`stratum_events`). Where every patient's cell is an independent draw
from the mix (both compositions unknown) this is exactly the model's binomial; the two differ
where counts are fixed (a known mix, a known line split) and where a patient has two triggers
(mean of the logits here, mean of the probabilities in the model's stratum likelihood).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from hlhbayes.models.units import Units

_WHOLE = 1e-6  # tolerance of a count that must be whole (or a half)


def stratum_patients(
    total: int,
    mix: np.ndarray,
    later: float,
    rng: np.random.Generator,
    *,
    mix_known: bool = True,
    later_known: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """One draw of a stratum's patients: etiology weights ``(n, K)`` and later-line flags ``(n,)``.

    ``mix``: the stratum's etiology fractions (known) or its true latent mix (unknown);
    ``later``: its later-line fraction (known) or its true latent fraction (unknown).
    """
    k = len(mix)
    if mix_known:
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
        weights = np.concatenate([np.repeat(np.eye(k), whole.astype(int), axis=0), two_triggers])
    else:
        counts = rng.multinomial(total, mix)
        weights = np.repeat(np.eye(k), counts, axis=0)
    if len(weights) != total:
        raise ValueError(f"etiology counts make {len(weights)} patients, not {total}")
    if later_known:
        n_later = later * total
        if abs(n_later - round(n_later)) > _WHOLE:
            raise ValueError(f"later-line count {n_later} is not a whole number")
        n_later = round(n_later)
    else:
        n_later = int(rng.binomial(total, later))
    flags = np.zeros(total, dtype=bool)
    flags[rng.permutation(total)[:n_later]] = True
    return weights, flags


def stratum_events(
    weights: np.ndarray,
    later: np.ndarray,
    eta: np.ndarray,
    gamma: float,
    u: float,
    rng: np.random.Generator,
) -> int:
    """Events among the patients ``weights`` / ``later``: one Bernoulli draw per patient."""
    p = expit(weights @ eta + gamma * later + u)
    return int((rng.random(len(p)) < p).sum())


def simulate_strata(
    units: Units,
    eta: np.ndarray,
    gamma: np.ndarray,
    u: np.ndarray,
    rng: np.random.Generator,
    mix_latent: np.ndarray | None = None,
    later_latent: np.ndarray | None = None,
) -> np.ndarray:
    """Events of every stratum of ``units`` for ``S`` parameter draws: ``(S, strata)`` integers.

    ``eta`` ``(S, K)``, ``gamma`` ``(S,)``, ``u`` ``(S, studies)``; ``mix_latent``
    ``(S, strata with an unknown mix, K)`` and ``later_latent`` ``(S, strata with an unknown
    line)``, in the order of the strata (as the model's ``mix_latent`` and ``later_latent``).
    """
    unknown_w = np.isnan(units.agg_w).any(axis=1)
    unknown_v = np.isnan(units.agg_v)
    slot_w = np.cumsum(unknown_w) - 1
    slot_v = np.cumsum(unknown_v) - 1
    draws = len(gamma)
    if mix_latent is None:
        mix_latent = np.zeros((draws, 0, units.agg_w.shape[1]))
    if later_latent is None:
        later_latent = np.zeros((draws, 0))
    out = np.zeros((draws, len(units.agg_ids)), dtype=np.int64)
    for s in range(draws):
        for j in range(len(units.agg_ids)):
            mix = mix_latent[s, slot_w[j]] if unknown_w[j] else units.agg_w[j]
            later = later_latent[s, slot_v[j]] if unknown_v[j] else units.agg_v[j]
            weights, flags = stratum_patients(
                int(units.agg_total[j]),
                mix,
                float(later),
                rng,
                mix_known=not unknown_w[j],
                later_known=not unknown_v[j],
            )
            study_effect = float(u[s, units.agg_study[j]])
            out[s, j] = stratum_events(weights, flags, eta[s], float(gamma[s]), study_effect, rng)
    return out
