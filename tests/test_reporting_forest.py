"""The forest plot's rows, built without drawing: own estimates, shrunken estimates, triggers.

The study's own interval is checked against scipy's exact binomial interval (an independent
implementation of Clopper-Pearson); shrinkage is checked on a random-effects fit to studies far
from their pooled rate, where every study's model estimate must lie strictly between its
observed rate and the pooled median.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from conftest import DATA, cli
from hlhbayes.evidence import load_evidence
from hlhbayes.models.units import DATA_TO_MODEL_ETIOLOGY, MODEL_ETIOLOGIES
from hlhbayes.reporting.context import ReportOptions, focus_cells
from hlhbayes.reporting.estimates import attach_posterior, evidence_rows
from hlhbayes.reporting.forest import GROUP_TITLES, ForestTable, forest_table
from hlhbayes.reporting.forest_plot import columns_of, rows_of
from hlhbayes.reporting.loading import CheckedRun, open_run

pytestmark = pytest.mark.sampling


def table_of(run: CheckedRun, cells=None) -> ForestTable:
    rows = attach_posterior(
        evidence_rows(run.units, run.detail_units), run.units, run.model, run.idata
    )
    posterior = run.idata["posterior"].to_dataset()
    cells = cells or focus_cells(run, ReportOptions())
    return forest_table(rows, run.units, posterior, cells, run.base)


@pytest.fixture(scope="module")
def short_table(short_run) -> tuple[CheckedRun, ForestTable]:
    run = open_run(short_run)
    return run, table_of(run)


def test_each_study_s_own_interval_is_the_exact_binomial_interval(short_table):
    run, table = short_table
    assert [s.study for s in table.studies] != []
    assert sorted(s.study for s in table.studies) == sorted(run.units.studies)
    for s in table.studies:
        exact = stats.binomtest(s.events, s.total).proportion_ci(0.95, method="exact")
        assert s.own.median == s.events / s.total
        assert s.own.lo == pytest.approx(exact.low, abs=1e-12)
        assert s.own.hi == pytest.approx(exact.high, abs=1e-12)
        assert 0 <= s.model.lo <= s.model.median <= s.model.hi <= 1


def test_each_study_s_trigger_comes_from_its_records(short_table):
    """The trigger key, recomputed from the evidence base's records (not from the units)."""
    run, table = short_table
    base = load_evidence(DATA)
    fitted = set(run.units.agg_ids)
    for s in table.studies:
        triggers: set[str] = set()
        unknown = False
        for p in base.patients_of(s.study):
            triggers |= {DATA_TO_MODEL_ETIOLOGY[e] for e in p.etiologies}
        for stratum in base.studies[s.study].strata:
            if f"{s.study}/{stratum.id}" not in fitted:
                continue
            if stratum.etiology is None:
                unknown = True
            else:
                triggers |= {DATA_TO_MODEL_ETIOLOGY[e] for e, n in stratum.etiology.items() if n}
        if not triggers:
            expected = "unreported"
        elif len(triggers) == 1 and not unknown:
            expected = triggers.pop()
        else:
            expected = "mixed"
        assert s.trigger_key == expected, s.study
        assert s.population == (base.studies[s.study].study.population or "not stated")


def test_rows_are_grouped_by_trigger_and_pooled_rows_follow_by_cell(short_table):
    run, table = short_table
    order = list(GROUP_TITLES)
    keys = [s.trigger_key for s in table.studies]
    assert keys == sorted(keys, key=order.index)  # groups in the order of the headings
    assert [s for _, members in table.groups for s in members] == table.studies
    cells = focus_cells(run, ReportOptions())
    assert len(table.pooled) == 2 * len(cells)
    assert [p.kind for p in table.pooled] == ["average", "prediction"] * len(cells)
    posterior = run.idata["posterior"].to_dataset()
    for p in table.pooled:
        q = "rate_typical" if p.kind == "average" else "rate_new"
        draws = posterior[q].sel(etiology=p.etiology, line=p.line).values.ravel()
        assert p.estimate.median == pytest.approx(np.median(draws))
        assert p.cell == f"{p.etiology.capitalize()}, {p.line} line"
    assert table.tau is not None
    assert table.tau.median == pytest.approx(np.median(posterior["tau"].values))
    # the plot's layout: one header, a heading per group and per cell, a rule
    rows = rows_of(table)
    kinds = [k for k, _ in rows]
    assert kinds.count("study") == len(table.studies)
    assert kinds.count("pooled") == len(table.pooled)
    assert kinds.count("heading") == len(table.groups) + len(cells)
    left, right = columns_of(table)
    assert [c.title for c in left] == ["Study", "Population", "Events/n"]
    assert len(right[1].texts) == len(table.studies) + len(table.pooled)


# studies far on both sides of their pooled rate (about 50%)
FAR = "study,events,total\nLow,3,30\nLowish,8,30\nHighish,22,30\nHigh,27,30\n"


def test_shrunken_estimates_lie_between_own_and_pooled_in_random_effects(tmp_path):
    table_file = tmp_path / "far.csv"
    table_file.write_text(FAR)
    out = tmp_path / "run"
    fitted = cli(  # the spec's sampler settings: medians to compare, not only files
        "fit", "--model", "random-effects", "--data", table_file, "--out", out,
        "--no-sensitivity", "-q",
    )  # fmt: skip
    assert fitted.exit_code in (0, 3), fitted.output
    run = open_run(out)
    table = table_of(run, [(None, None)])
    pooled = table.pooled[0].estimate.median
    assert 0.35 < pooled < 0.65
    assert [s.trigger_key for s in table.studies] == [None] * 4  # a user's table: no triggers
    for s in table.studies:
        own, model = s.own.median, s.model.median
        assert min(own, pooled) < model < max(own, pooled), (s.study, own, model, pooled)
        assert abs(model - pooled) < abs(own - pooled)


def test_every_model_trigger_has_a_heading():
    assert set(MODEL_ETIOLOGIES) <= set(GROUP_TITLES)
