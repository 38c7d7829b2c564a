"""``hlhbayes sensitivity``: the scenarios, the not-estimable rule, the table and the figure."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import SHORT
from hlhbayes import pipeline
from hlhbayes.cli import main
from hlhbayes.errors import HlhBayesError
from hlhbayes.evidence import load_evidence
from hlhbayes.living.sensitivity import (
    COLUMNS,
    build_scenarios,
    cell_has_data,
    select,
    study_definitions,
)
from hlhbayes.living.subset import units_of_studies
from hlhbayes.models.spec import load_spec
from hlhbayes.models.units import Filters, build_units
from hlhbayes.priors import Prior
from table_text import read_table

PNG = b"\x89PNG\r\n\x1a\n"
BASE = load_evidence()
BASELINE = build_units(BASE, Filters())  # the default response fit of the shipped base
STUDIES = list(BASELINE.studies)
# a scenario with no direct response data on infection/first: only PedRheum2008_S13 defines
# response as HLH-2004 resolution, and its children had rheumatic or other triggers, later line
NO_INFECTION_FIRST = "definition-hlh2004_resolution"


def response_definitions(sid: str) -> set[str]:
    """The definitions of a baseline study's response counts, read from the base; patient rows
    count as clinician_judged (Baverez 2022's efficacy is the treating physician's)."""
    codes = {
        s.definition
        for s in BASE.study(sid).strata
        if s.outcome == "response" and s.events is not None
    }
    return codes or {"clinician_judged"}


BASELINE_DEFINITIONS = sorted({c for sid in STUDIES for c in response_definitions(sid)})


def studies_defining_response_as(definition: str) -> set[str]:
    """Studies of the baseline whose response strata use ``definition``, read from the base."""
    return {
        sid
        for sid in STUDIES
        if any(
            s.outcome == "response" and s.events is not None and s.definition == definition
            for s in BASE.study(sid).strata
        )
    }


def run(*args: str | Path):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def scenarios():
    spec = load_spec("etiology-line")
    units = pipeline.prepare(pipeline.FitRequest(spec=spec)).units
    return build_scenarios(spec, None, units)


def test_every_scenario_of_the_issue(scenarios):
    assert [s.name for s in scenarios] == [
        "baseline",
        "tau-halfnormal-0.5",  # half and double the baseline's scale, and half-Cauchy
        "tau-halfnormal-2",
        "tau-halfcauchy-1",
        "sigma_eta-halfnormal-0.5",
        "sigma_eta-halfnormal-2",
        "sigma_eta-halfcauchy-1",
        "no-small-series",
        "downweight-small-extreme",
        *(f"loo-{s}" for s in STUDIES),
        "no-derived",
        "classic-shlh-only",
        "all-conditions",
        "adults-only",
        "children-only",
        *(f"definition-{code}" for code in BASELINE_DEFINITIONS),
    ]
    by_name = {s.name: s for s in scenarios}
    assert by_name["baseline"].description == "the saved spec (tau ~ HalfNormal(1))"
    assert by_name["tau-halfcauchy-1"].priors["tau"].family == "halfcauchy"
    assert by_name["sigma_eta-halfnormal-2"].priors == {
        "sigma_eta": Prior("halfnormal", {"sigma": 2.0})
    }
    assert by_name["loo-Sonmez2018"].filters == {"exclude_studies": ["Sonmez2018"]}
    assert by_name["no-derived"].filters == {"exclude_derived": True}
    assert by_name["classic-shlh-only"].filters == {"conditions": ["classic_shlh"]}
    assert by_name["children-only"].filters == {"population": "pediatric"}
    remission = by_name["definition-remission"]
    kept = set(STUDIES) - set(remission.filters["exclude_studies"])
    assert kept == studies_defining_response_as("remission")
    assert {"JClinRheumatol2011_2pts", "Sonmez2018"} <= kept
    assert all(s.skip is None for s in scenarios)


def _series() -> dict[str, tuple[int, int]]:
    """Patients and responders of every baseline study, counted unit by unit."""
    out = {sid: (0, 0) for sid in STUDIES}
    for i, pid in enumerate(BASELINE.pat_ids):
        n, r = out[pid.split("#")[0]]
        out[pid.split("#")[0]] = (n + 1, r + int(BASELINE.pat_y[i]))
    for j, aid in enumerate(BASELINE.agg_ids):
        n, r = out[aid.split("/")[0]]
        out[aid.split("/")[0]] = (n + int(BASELINE.agg_total[j]), r + int(BASELINE.agg_events[j]))
    return out


def test_small_study_scenarios(scenarios):
    series = _series()
    small = {sid for sid, (n, _) in series.items() if n < 5}
    extreme = {sid for sid, (n, r) in series.items() if n < 10 and r == n}
    assert small and extreme  # the shipped base has both
    by_name = {s.name: s for s in scenarios}
    assert set(by_name["no-small-series"].filters["exclude_studies"]) == small
    downweight = by_name["downweight-small-extreme"]
    assert downweight.study_weights == dict.fromkeys(sorted(extreme), 0.5)
    assert not downweight.filters and not downweight.priors


def test_patient_rows_take_their_studys_definition(shipped):
    units = build_units(shipped, Filters())
    definitions = study_definitions(shipped, units)
    assert definitions["Baverez2022"] == {"clinician_judged"}  # patient rows only
    assert definitions["OxfordIV2021"] == {"clinician_judged"}
    assert definitions["Wohlfarth2019"] == {"organ_function_proxy"}


def test_death_has_no_definition_scenarios():
    spec = load_spec("etiology-line", filter_overrides={"outcome": "death"})
    units = pipeline.prepare(pipeline.FitRequest(spec=spec)).units
    names = [s.name for s in build_scenarios(spec, None, units)]
    assert not [n for n in names if n.startswith("definition-")]


def test_select_by_name_and_pattern(scenarios):
    chosen = select(scenarios, ("baseline", "tau-*"))
    assert [s.name for s in chosen] == [
        "baseline",
        "tau-halfnormal-0.5",
        "tau-halfnormal-2",
        "tau-halfcauchy-1",
    ]
    assert len(select(scenarios, ("loo-*",))) == len(STUDIES)
    with pytest.raises(HlhBayesError, match=r"no scenario matches nope; valid: baseline, "):
        select(scenarios, ("nope",))


def test_direct_data_on_a_cell(shipped):
    units = build_units(shipped, Filters())
    assert cell_has_data(units, "infection", "first")  # Baverez 2022's patients
    pedrheum = units_of_studies(units, ["PedRheum2008_S13"])  # rheumatic 4, other 2; all later
    assert cell_has_data(pedrheum, "rheumatic", "later")
    assert not cell_has_data(pedrheum, "rheumatic", "first")
    assert not cell_has_data(pedrheum, "infection", "later")
    wohlfarth = units_of_studies(units, ["Wohlfarth2019"])  # mix and line unknown
    assert np.isnan(wohlfarth.agg_w).all()
    assert not any(
        cell_has_data(wohlfarth, e, ln) for e in ("infection", "other") for ln in ("first", "later")
    )


def test_list_shows_the_plan_without_fitting(tmp_path):
    result = run(
        "sensitivity", "--list", "--scenarios", f"baseline,all-conditions,{NO_INFECTION_FIRST}",
        "--out", tmp_path / "s",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    header, rows = read_table(result.stdout)
    assert header == ["scenario", "group", "units", "plan", "description"]
    u = BASELINE.describe()
    units = (
        f"{u['studies']} studies, {u['total']} patients ({u['patients']} reported one by one, "
        f"{u['total'] - u['patients']} in {u['strata']} aggregate strata)"
    )
    assert rows[0][:4] == ["baseline", "baseline", units, "fit"]
    assert rows[1][3] == "not run"
    assert rows[1][4].endswith(" [the same evidence units as the baseline]")  # not markup
    assert rows[2][3] == "not estimable"
    assert "[no direct response data on infection/first in this scenario" in rows[2][4]
    assert not (tmp_path / "s").exists()
    # the same plan in the machine formats, every column whole
    listed = [
        "sensitivity",
        "--list",
        "--scenarios",
        f"baseline,all-conditions,{NO_INFECTION_FIRST}",
    ]
    as_json = json.loads(run(*listed, "--format", "json").stdout)
    assert (as_json["model"], as_json["outcome"]) == ("etiology-line", "response")
    assert [(r["scenario"], r["plan"]) for r in as_json["scenarios"]] == [
        (r[0], r[3]) for r in rows
    ]
    as_csv = list(csv.DictReader(io.StringIO(run(*listed, "--format", "csv").stdout)))
    assert [(r["scenario"], r["units"], r["plan"]) for r in as_csv] == [
        (r[0], r[2], r[3]) for r in rows
    ]
    assert as_csv[1]["description"].endswith(" [the same evidence units as the baseline]")


def test_unknown_scenario_is_refused(tmp_path):
    result = run("sensitivity", "--scenarios", "loo-Nobody", "--out", tmp_path / "s")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: --scenarios: no scenario matches loo-Nobody; valid: ")
    assert not (tmp_path / "s").exists()


@pytest.mark.sampling
def test_table_statuses_and_files(tmp_path, reruns_in_the_batch_program):
    out = tmp_path / "sens"
    scenarios = f"baseline,all-conditions,{NO_INFECTION_FIRST}"
    result = run("sensitivity", "--scenarios", scenarios, *SHORT, "--out", out)
    assert result.exit_code in (0, 3), result.output
    header, rows = read_table(result.stdout)
    assert header == [
        "scenario", "etiology", "line", "quantity", "mean", "95% interval", "studies", "status",
    ]  # fmt: skip
    assert [(r[0], r[3]) for r in rows] == [
        (s, q)
        for s in ("baseline", "all-conditions", NO_INFECTION_FIRST)
        for q in ("rate_typical", "rate_new")
    ]
    n = len(STUDIES)
    for r in rows[:2]:  # fitted: mean, interval, the baseline's studies, a status
        assert r[1:3] == ["infection", "first"]
        assert 0 < float(r[4]) < 1 and r[6] == str(n)
        assert r[7] in ("ok", "not converged")
    kept = len(studies_defining_response_as("hlh2004_resolution"))
    assert [r[6:] for r in rows[2:]] == [
        [str(n), "not run"],
        [str(n), "not run"],
        [str(kept), "not estimable"],
        [str(kept), "not estimable"],
    ]
    assert rows[4][4:6] == ["-", "-"]  # no estimate
    lines = result.stdout.splitlines()
    assert lines[-2:] == [
        "note: all-conditions not run: the same evidence units as the baseline",
        f"note: {NO_INFECTION_FIRST} not estimable: no direct response data on infection/first "
        "in this scenario (an estimate would rest on pooling and the priors alone)",
    ]
    assert sorted(p.name for p in out.iterdir()) == [
        "provenance.json",
        "sensitivity.csv",
        "sensitivity.json",
        "sensitivity.png",
    ]
    assert (out / "sensitivity.png").read_bytes().startswith(PNG)
    records = json.loads((out / "sensitivity.json").read_text())
    assert list(records[0]) == COLUMNS
    assert records[4]["mean"] is None and records[4]["status"] == "not estimable"
    provenance = json.loads((out / "provenance.json").read_text())
    assert [s["name"] for s in provenance["scenarios"]] == scenarios.split(",")
    assert f"[3/3] {NO_INFECTION_FIRST}: not estimable (" in result.stderr
    # the output folder is never replaced without --force
    again = run("sensitivity", "--scenarios", "baseline", *SHORT, "--out", out)
    assert again.exit_code == 1
    assert "exists; use --force to replace it" in again.stderr


def test_random_effects_scenarios_read_definitions_and_derived_counts_from_the_base():
    spec = load_spec("random-effects")
    units = pipeline.prepare(pipeline.FitRequest(spec=spec)).units  # one count per study
    by_name = {s.name: s for s in build_scenarios(spec, None, units)}
    assert by_name["no-derived"].skip is None
    judged = by_name["definition-clinician_judged"]
    assert set(STUDIES) - set(judged.filters["exclude_studies"]) == {"Baverez2022", "OxfordIV2021"}
