"""Units: the pooled compositions behind unknown-mix priors, and the population filter."""

from __future__ import annotations

from pathlib import Path

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


def test_population_filter_leaves_out_the_strata_of_mixed_studies(data_copy):
    import yaml

    from hlhbayes.evidence import load_evidence
    from hlhbayes.models.units import Filters, build_units

    fixture = Path(__file__).parent / "fixtures" / "example_aggregate_study.yaml"
    doc = yaml.safe_load(fixture.read_text())
    doc["study"]["population"] = "mixed"
    (data_copy / "studies" / "Example2025.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    base = load_evidence(data_copy)

    everyone = build_units(base, Filters())
    assert "Example2025/response-overall" in everyone.agg_ids
    adults = build_units(base, Filters(population="adult"))
    assert not any(a.startswith("Example2025/") for a in adults.agg_ids)
    assert adults.excluded["Example2025"].startswith("population mixed")
    # a mixed study's patient rows still enter, by age
    baverez = [p for p in base.patients if p.study == "Baverez2022"]
    n_adults = sum(p.age is not None and p.age >= 18 for p in baverez)
    assert sum(i.startswith("Baverez2022#") for i in adults.pat_ids) == n_adults
    children = build_units(base, Filters(population="pediatric"))
    assert sum(i.startswith("Baverez2022#") for i in children.pat_ids) == sum(
        p.age is not None and p.age < 18 for p in baverez
    )
