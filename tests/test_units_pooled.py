"""The pooled compositions that centre the priors of unknown strata compositions."""

from __future__ import annotations

import numpy as np

from hlhbayes.models.units import MODEL_ETIOLOGIES, Units

K = len(MODEL_ETIOLOGIES)


def strata(agg_w: np.ndarray, agg_v: np.ndarray, totals: list[int]) -> Units:
    n = len(totals)
    return Units(
        studies=("S",),
        pat_ids=(),
        pat_study=np.zeros(0, dtype=int),
        pat_y=np.zeros(0, dtype=int),
        pat_w=np.zeros((0, K)),
        pat_later=np.zeros(0),
        agg_ids=tuple(f"S:{i}" for i in range(n)),
        agg_study=np.zeros(n, dtype=int),
        agg_events=np.ones(n, dtype=int),
        agg_total=np.asarray(totals),
        agg_w=agg_w,
        agg_v=agg_v,
        agg_derived=np.zeros(n, dtype=bool),
    )


def test_pooled_mix_weights_known_strata_by_size():
    w = np.full((3, K), np.nan)
    w[0] = np.eye(K)[0]
    w[1] = np.eye(K)[1]
    units = strata(w, np.array([0.0, 1.0, np.nan]), [10, 30, 5])
    expected = np.zeros(K)
    expected[0], expected[1] = 10 / 40, 30 / 40
    np.testing.assert_allclose(units.pooled_mix(), expected)
    assert units.pooled_later() == 30 / 40


def test_nothing_known_gives_uniform_mix_and_even_line():
    units = strata(np.full((2, K), np.nan), np.full(2, np.nan), [10, 30])
    np.testing.assert_allclose(units.pooled_mix(), np.full(K, 1 / K))
    assert not np.isnan(units.pooled_mix()).any()
    assert units.pooled_later() == 0.5
