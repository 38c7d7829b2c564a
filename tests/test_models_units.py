"""Units: the pooled compositions behind unknown-mix priors, the population filter, in words."""

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


def test_units_in_words_say_how_the_patients_were_reported():
    from hlhbayes.evidence import load_evidence
    from hlhbayes.models.units import Filters, build_units

    both = build_units(load_evidence(), Filters())
    u = both.describe()
    assert u["patients"] and u["strata"]  # the shipped base: one by one and in strata
    assert both.in_words(events=True) == (
        f"{u['studies']} studies, {u['events']} events in {u['total']} patients "
        f"({u['patients']} reported one by one, {u['total'] - u['patients']} in "
        f"{u['strata']} aggregate strata)"
    )
    assert both.in_words() == (
        f"{u['studies']} studies, {u['total']} patients ({u['patients']} reported one by one, "
        f"{u['total'] - u['patients']} in {u['strata']} aggregate strata)"
    )
    only_strata = strata(np.full((2, K), np.nan), np.array([np.nan, np.nan]), [10, 30])
    assert only_strata.in_words(events=True) == (
        "1 study, 2 events in 40 patients (in 2 aggregate strata)"
    )  # a user's table of counts: no patient rows to speak of
    one = strata(np.full((1, K), np.nan), np.array([np.nan]), [1])
    assert one.in_words(events=True) == "1 study, 1 event in 1 patient (in 1 aggregate stratum)"
    others = tuple(s for s in both.studies if s != "Baverez2022")
    baverez = build_units(load_evidence(), Filters(exclude_studies=others))
    n = baverez.describe()["patients"]
    assert baverez.describe()["strata"] == 0
    assert baverez.in_words() == f"1 study, {n} patients (reported one by one)"
