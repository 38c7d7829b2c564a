"""Corrections of the evidence base against its sources, each pinned with where the source says it.

Sources are named by their stored copies (the URL in each study record) and by the place in the
text; the seed paper is Baverez et al., J Clin Med 2022;11:5799. The schema rules these
corrections needed (death timeframes, after-anakinra-failure strata, half counts, episodes, the
H score maximum) are tested here too, with the filters that use them.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from conftest import DATA
from hlhbayes.cli import main
from hlhbayes.errors import HlhBayesError
from hlhbayes.evidence import EvidenceBase, load_evidence
from hlhbayes.evidence.plausibility import plausibility_warnings
from hlhbayes.evidence.schema import ETIOLOGIES, HSCORE_MAX, TIMEFRAMES, Stratum
from hlhbayes.models.units import (
    DATA_TO_MODEL_ETIOLOGY,
    DEFAULT_DEATH_TIMEFRAMES,
    MODEL_ETIOLOGIES,
    Filters,
    build_units,
)

FORMAT_MD = DATA / "FORMAT.md"


def stratum(base: EvidenceBase, study: str, stratum_id: str) -> Stratum:
    return next(s for s in base.study(study).strata if s.id == stratum_id)


def reported(base: EvidenceBase, study: str, key: str):
    return next(r for r in base.study(study).reported if r.key == key)


def edit_study(root: Path, study: str, change) -> None:
    path = root / "studies" / f"{study}.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")


# --------------------------------------------------------------------------------------------
# CookChildrens_Vicenzi: remission of sJIA after HLH-2004 therapy, not an anakinra response


def test_cook_childrens_is_not_pooled_and_says_why(shipped: EvidenceBase) -> None:
    # poster (unthsc-ir.tdl.org), case 1: relapse on etoposide/dexamethasone, later juvenile
    # arthritis treated with prednisone and anakinra "leading to remission"; case 2: completed
    # HLH treatment, later systemic JIA treated with anakinra, "currently in remission"
    study = shipped.study("CookChildrens_Vicenzi")
    assert study.study.pool is False
    reason = study.study.exclusion_reason or ""
    assert "HLH-2004" in reason and "sJIA" in reason, reason
    assert not [s for s in study.strata if s.outcome == "response"], "no sHLH response to count"
    remission = reported(shipped, "CookChildrens_Vicenzi", "sjia_remission_on_anakinra")
    assert (remission.value, remission.derived) == (2, True)
    units = build_units(shipped, Filters())
    assert units.excluded["CookChildrens_Vicenzi"].startswith("not pooled: Not a response")
    assert not any(u.startswith("CookChildrens_Vicenzi") for u in units.agg_ids)


# --------------------------------------------------------------------------------------------
# Monteagudo2020: responses to IV anakinra after subcutaneous anakinra had failed


def test_monteagudo_is_coded_after_anakinra_failure(shipped: EvidenceBase) -> None:
    # abstract, results: "refractory to all other therapies, including subcutaneous anakinra"
    response = stratum(shipped, "Monteagudo2020", "response-refractory")
    assert (response.events, response.total) == (4, 5)
    assert response.line is not None
    assert (response.line.first, response.line.later, response.line.after_anakinra) == (0, 0, 5)
    assert response.derived, "the line mix is read from a sentence, not printed as a count"


def test_after_anakinra_strata_are_left_out_by_default_with_the_reason(
    shipped: EvidenceBase,
) -> None:
    units = build_units(shipped, Filters())
    assert "Monteagudo2020" not in units.studies
    assert "after anakinra had failed" in units.excluded["Monteagudo2020"]
    assert "--include-after-anakinra-failure" in units.excluded["Monteagudo2020"]


def test_after_anakinra_strata_enter_as_later_line_when_asked(shipped: EvidenceBase) -> None:
    units = build_units(shipped, Filters(include_after_anakinra_failure=True))
    j = units.agg_ids.index("Monteagudo2020/response-refractory")
    assert units.agg_v[j] == 1.0  # all five count as later line
    assert (units.agg_events[j], units.agg_total[j]) == (4, 5)
    assert "Monteagudo2020" not in units.excluded


def test_a_mixed_stratum_with_after_anakinra_patients_is_left_out_whole(data_copy: Path) -> None:
    def mix(doc: dict) -> None:
        assert doc["strata"][0]["id"] == "response-overall"
        doc["strata"][0]["line"] = {"first": 0, "later": 4, "after_anakinra": 2}

    edit_study(data_copy, "PedRheum2008_S13", mix)
    base = load_evidence(data_copy)
    units = build_units(base, Filters())
    assert "PedRheum2008_S13/response-overall" not in units.agg_ids
    assert units.excluded["PedRheum2008_S13"].startswith("2 of 6 given anakinra after")
    included = build_units(base, Filters(include_after_anakinra_failure=True))
    j = included.agg_ids.index("PedRheum2008_S13/response-overall")
    assert included.agg_v[j] == 1.0


# --------------------------------------------------------------------------------------------
# Death timeframes


def test_every_death_has_a_timeframe_from_the_vocabulary(shipped: EvidenceBase) -> None:
    for sid, record in shipped.studies.items():
        for s in record.strata:
            if s.outcome == "death":
                assert s.timeframe in TIMEFRAMES, (sid, s.id, s.timeframe)
            else:
                assert s.timeframe is None, (sid, s.id)
    for sid in {p.study for p in shipped.patients}:
        assert shipped.study(sid).study.patient_death_timeframe in TIMEFRAMES, sid


@pytest.mark.parametrize(
    ("study", "stratum_id", "timeframe", "where"),
    [
        ("Kumar2017", "deaths-whole-cohort", "in_hospital", "abstract: survived to discharge"),
        (
            "EastMidlands2024",
            "deaths-overall",
            "last_follow_up",
            "abstract, methods: OS from anakinra start to death or last follow-up",
        ),
        ("Imperial2020", "deaths-malignancy", "not_stated", "abstract: 'Overall mortality'"),
        ("Eloseily2020", "deaths-sjia", "not_stated", "journal abstract: no timeframe"),
    ],
)
def test_death_timeframes_as_the_sources_state_them(
    shipped: EvidenceBase, study: str, stratum_id: str, timeframe: str, where: str
) -> None:
    assert stratum(shipped, study, stratum_id).timeframe == timeframe, where


def test_baverez_deaths_are_all_cause_at_last_follow_up(shipped: EvidenceBase) -> None:
    # seed, Results paragraph 8: "During a median follow-up of 10 months [IQR, 4.0-22.0], three
    # patients died: two deaths were due to the underlying hematologic malignancies"; Table 2:
    # "Live Status at Last Visit"
    record = shipped.study("Baverez2022")
    assert record.study.patient_death_timeframe == "last_follow_up"
    assert reported(shipped, "Baverez2022", "followup_months_median").value == 10
    died = [p.patient for p in shipped.patients_of("Baverez2022") if p.died]
    assert died == [3, 4, 6]
    assert {p.patient for p in shipped.patients_of("Baverez2022") if p.malignancy and p.died} == {
        4,
        6,
    }


def test_the_default_death_fit_uses_last_follow_up_and_not_stated_and_says_so(
    shipped: EvidenceBase,
) -> None:
    assert DEFAULT_DEATH_TIMEFRAMES == ("last_follow_up", "not_stated")
    text = FORMAT_MD.read_text(encoding="utf-8")
    assert "uses, by default, the timeframes `last_follow_up` and `not_stated`" in text
    units = build_units(shipped, Filters(outcome="death"))
    # recount from the base what should enter: pooled studies of the default conditions
    expected: dict[str, int] = {}
    for sid in units.studies:
        record = shipped.study(sid)
        for s in record.strata:
            if s.outcome == "death" and s.events is not None:  # patients, not strata
                expected[s.timeframe] = expected.get(s.timeframe, 0) + s.total
        rows = shipped.patients_of(sid)
        if rows:
            frame = record.study.patient_death_timeframe
            expected[frame] = expected.get(frame, 0) + len(rows)
    assert units.death_timeframes == expected
    assert set(expected) == set(DEFAULT_DEATH_TIMEFRAMES)  # this base has both
    assert units.describe()["death_timeframes"] == expected
    assert "death_timeframes" not in build_units(shipped, Filters()).describe()


def test_fixed_horizon_deaths_enter_only_when_selected(data_copy: Path) -> None:
    def pool(doc: dict) -> None:  # Kumar2017: the only in-hospital deaths of the base
        doc["study"].update(pool=True, exclusion_reason=None)

    edit_study(data_copy, "Kumar2017", pool)
    base = load_evidence(data_copy)
    default = build_units(base, Filters(outcome="death"))
    assert "Kumar2017" not in default.studies
    assert "deaths counted in_hospital" in default.excluded["Kumar2017"]
    chosen = build_units(base, Filters(outcome="death", death_timeframes=("in_hospital",)))
    assert chosen.studies == ("Kumar2017",)
    (kumar,) = [s.total for s in base.study("Kumar2017").strata if s.outcome == "death"]
    assert chosen.death_timeframes == {"in_hospital": kumar}  # patients, not strata
    assert chosen.left_out == {}  # only studies in the fit are listed there
    both = build_units(
        base, Filters(outcome="death", death_timeframes=("in_hospital", "last_follow_up"))
    )
    assert both.death_timeframes == {"in_hospital": kumar, "last_follow_up": 21}
    assert "Imperial2020" in both.excluded  # its deaths carry no timeframe (not_stated)


def test_death_timeframe_filter_validates_its_codes(shipped: EvidenceBase) -> None:
    with pytest.raises(HlhBayesError, match="unknown death timeframe '30 days'"):
        build_units(shipped, Filters(outcome="death", death_timeframes=("30 days",)))
    with pytest.raises(HlhBayesError, match="no death timeframe selected"):
        build_units(shipped, Filters(outcome="death", death_timeframes=()))
    with pytest.raises(HlhBayesError, match=r"after filtering \(death timeframes 90_day\)"):
        build_units(shipped, Filters(outcome="death", death_timeframes=("90_day",)))


def test_fit_passes_the_new_filters_from_the_command_line(monkeypatch) -> None:
    from hlhbayes import pipeline

    def stop(request):
        raise HlhBayesError(f"stopped with {request.spec.filters}")

    monkeypatch.setattr(pipeline, "prepare", stop)
    result = CliRunner().invoke(
        main,
        [
            "fit",
            "--outcome",
            "death",
            "--death-timeframe",
            "in_hospital",
            "--death-timeframe",
            "28_day",
            "--include-after-anakinra-failure",
        ],
    )
    assert result.exit_code == 1
    assert "death_timeframes=('in_hospital', '28_day')" in result.stderr
    assert "include_after_anakinra_failure=True" in result.stderr
    bad = CliRunner().invoke(main, ["fit", "--death-timeframe", "30 days"])
    assert bad.exit_code == 2


# --------------------------------------------------------------------------------------------
# Flags, years and metadata fixed from the sources


def test_imperial_death_strata_are_derived(shipped: EvidenceBase) -> None:
    # abstract: two lists (underlying diagnoses; diagnoses of the six who died) matched by us
    deaths = [s for s in shipped.study("Imperial2020").strata if s.outcome == "death"]
    assert len(deaths) == 4 and all(s.derived for s in deaths)
    assert sum(s.events for s in deaths) == 6 and sum(s.total for s in deaths) == 11


def test_inferred_line_mixes_are_flagged_derived(shipped: EvidenceBase) -> None:
    # PedRheum2008_S13 abstract, objective: "patients who failed to respond to standard MAS/rHLH
    # therapy" (all six later line, read, not printed)
    ped = stratum(shipped, "PedRheum2008_S13", "response-overall")
    assert ped.line is not None and ped.line.later == 6 and ped.derived
    assert stratum(shipped, "Monteagudo2020", "response-refractory").derived


@pytest.mark.parametrize(
    "study",
    [
        "Imperial2020",
        "CADTH_RC1409",
        "CookChildrens_Vicenzi",
        "Demir_ArchRheumatol",
        "TurkishSJIAMAS10",
    ],
)
def test_placeholder_years_are_not_stated(shipped: EvidenceBase, study: str) -> None:
    assert shipped.study(study).study.year is None
    warned = {(w.file, w.field) for w in plausibility_warnings(shipped)}
    assert (f"studies/{study}.yaml", "year") in warned


def test_metadata_from_the_seed_reference_list(shipped: EvidenceBase) -> None:
    # seed, reference 11: Wohlfarth P, Agis H, ... J Intensive Care Med 2019, 34, 723-731
    wohlfarth = shipped.study("Wohlfarth2019").study
    assert wohlfarth.year == 2019
    assert wohlfarth.citation.startswith("Wohlfarth P, Agis H, Gualdoni GA")
    assert "2019;34:723-731" in wohlfarth.citation
    # seed, reference 10: Kumar B, Aleem S, ... J Clin Immunol 2017, 37, 638-643
    kumar = shipped.study("Kumar2017").study
    assert kumar.citation.startswith("Kumar B, Aleem S, Saleh H, Petts J, Ballas ZK")
    assert "2017;37:638-643" in kumar.citation


def test_metadata_from_headings_is_not_stated_or_located(shipped: EvidenceBase) -> None:
    assert shipped.study("Kumar2017").study.country is None  # abstract: "our center" only
    assert shipped.study("UCLH2023").study.population is None  # abstract gives no ages
    # stored abstract (tokyo-2-qrcode.vukou.com/26884689), results: "The mean age at the time
    # of diagnosis was found to be 7.6±4.5 years"
    age = reported(shipped, "TurkishSJIAMAS10", "age_mean")
    assert age.value == 7.6 and age.location.startswith("abstract, results")


def test_a_study_of_unstated_population_enters_only_all_population_fits(
    shipped: EvidenceBase,
) -> None:
    adults = build_units(shipped, Filters(population="adult"))
    assert adults.excluded["UCLH2023"].startswith("population not stated")


# --------------------------------------------------------------------------------------------
# EastMidlands2024: episodes, and the impossible H score


def test_east_midlands_strata_count_episodes(shipped: EvidenceBase) -> None:
    # ASH 2024 abstract 5375, results: "25 cases were identified. Two patients had 2 separate HLH
    # episodes which were considered separately."
    strata = shipped.study("EastMidlands2024").strata
    assert {s.unit for s in strata} == {"episodes"}
    assert {s.total for s in strata} == {25}
    assert reported(shipped, "EastMidlands2024", "episodes").value == 25
    patients = reported(shipped, "EastMidlands2024", "n")
    assert (patients.value, patients.derived) == (23, True)


def test_the_printed_hscore_of_363_is_kept_and_flagged(shipped: EvidenceBase) -> None:
    # same abstract, results: "The median H-Score prior to anakinra was 210 (178-363)"
    top = reported(shipped, "EastMidlands2024", "hscore_max")
    assert top.value == 363 and "337" in (top.note or "")
    warnings = [w for w in plausibility_warnings(shipped) if w.field == "value"]
    assert [(w.file, w.message.split()[0]) for w in warnings] == [
        ("studies/EastMidlands2024.yaml", "hscore_max")
    ]
    assert HSCORE_MAX == 337


def test_validate_prints_a_warning_for_an_impossible_patient_hscore(data_copy: Path) -> None:
    path = data_copy / "patients" / "Baverez2022.csv"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('"Tuberculosis, COVID-19",309,', '"Tuberculosis, COVID-19",338,'))
    result = CliRunner().invoke(main, ["data", "validate", str(data_copy)])
    assert result.exit_code == 0  # a warning, not an error: the figure is kept as printed
    assert re.search(
        r"warning: patients/Baverez2022\.csv: patient 1: hscore: hscore 338 is above", result.stderr
    )


# --------------------------------------------------------------------------------------------
# Bami2020


def test_bami2020_is_in_the_base_with_its_strata_and_locations(shipped: EvidenceBase) -> None:
    record = shipped.study("Bami2020")
    study = record.study
    assert study.doi == "10.1002/pbc.28581" and study.year == 2020
    assert study.pmid is None and study.country is None  # not shown in the stored copy
    assert study.population == "pediatric" and study.pool
    by_id = {s.id: s for s in record.strata}
    assert set(by_id) == {"response-infection", "response-malignancy"}
    infection, malignancy = by_id["response-infection"], by_id["response-malignancy"]
    # abstract, results: "Infectious triggers were identified for four patients and two patients
    # had malignancies"; "All patients achieved remission"; conclusion: "Initial treatment"
    assert (infection.events, infection.total, infection.etiology) == (4, 4, {"infection": 4})
    assert (malignancy.events, malignancy.total, malignancy.etiology) == (2, 2, {"malignancy": 2})
    for s in (infection, malignancy):
        assert s.line is not None and (s.line.first, s.line.later) == (s.total, 0)
        assert s.derived and s.definition == "remission"
        assert s.location.startswith("abstract, results") and "conclusion" in s.location
    assert all(r.location for r in record.reported)
    units = build_units(shipped, Filters())
    assert {"Bami2020/response-infection", "Bami2020/response-malignancy"} <= set(units.agg_ids)


# --------------------------------------------------------------------------------------------
# Half counts in etiology mixes


def test_vincent2020_counts_the_patient_with_two_triggers_half_in_each(
    shipped: EvidenceBase,
) -> None:
    # Rheumatology 2020 EP18, results: triggers "CMV infection, a connective tissue disease (CTD)
    # & T-cell lymphoma and adult-onset Still's disease"; the fourth uncertain
    s = stratum(shipped, "Vincent2020", "response-overall")
    assert s.etiology == {
        "infection": 1,
        "malignancy": 0.5,
        "other": 0.5,
        "rheumatic": 1,
        "unknown": 1,
    }
    assert (s.events, s.total) == (3, 4)


def test_a_half_split_stratum_has_the_weights_of_a_patient_with_two_flags(
    shipped: EvidenceBase,
) -> None:
    units = build_units(shipped, Filters())
    j = units.agg_ids.index("Vincent2020/response-overall")
    two_flags = [
        i
        for i, w in enumerate(units.pat_w)
        if np.count_nonzero(w) == 2 and units.pat_ids[i].startswith("Baverez2022#")
    ]
    assert two_flags, "Baverez2022 has patients with two triggers"
    # a patient with two triggers weighs 1/2 on each; the stratum's half patient does the same
    np.testing.assert_allclose(units.pat_w[two_flags[0]].sum(), 1.0)
    assert set(np.round(units.pat_w[two_flags[0]][units.pat_w[two_flags[0]] > 0], 12)) == {0.5}
    expected = np.zeros(len(MODEL_ETIOLOGIES))
    for e, n in {"infection": 1, "malignancy": 0.5, "other": 0.5, "rheumatic": 1}.items():
        expected[MODEL_ETIOLOGIES.index(DATA_TO_MODEL_ETIOLOGY[e])] += n
    expected[MODEL_ETIOLOGIES.index("unknown")] += 1
    np.testing.assert_allclose(units.agg_w[j], expected / 4)


@st.composite
def half_split(draw) -> tuple[int, dict[str, float]]:
    """A total and halves over some categories that add up to it."""
    total = draw(st.integers(1, 60))
    chosen = draw(st.permutations(ETIOLOGIES))[: draw(st.integers(1, len(ETIOLOGIES)))]
    n = len(chosen) - 1
    cuts = sorted(draw(st.lists(st.integers(0, 2 * total), min_size=n, max_size=n)))
    bounds = [0, *cuts, 2 * total]
    return total, {e: (bounds[i + 1] - bounds[i]) / 2 for i, e in enumerate(chosen)}


def death_stratum(total: int, etiology: dict) -> dict:
    return {
        "id": "deaths",
        "outcome": "death",
        "events": 0,
        "total": total,
        "etiology": etiology,
        "definition": "mortality",
        "timeframe": "not_stated",
        "location": "Table 1",
    }


@settings(max_examples=60, deadline=None, database=None)
@given(split=half_split())
def test_halves_adding_up_to_the_total_are_accepted(split: tuple[int, dict]) -> None:
    total, etiology = split
    parsed = Stratum.model_validate(death_stratum(total, etiology))
    assert parsed.etiology == etiology
    assert sum(parsed.etiology.values()) == total
    assert all(isinstance(v, int) for v in parsed.etiology.values() if v == int(v))


@settings(max_examples=60, deadline=None, database=None)
@given(split=half_split(), off=st.sampled_from([-1, -0.5, 0.5, 1]))
def test_halves_not_adding_up_to_the_total_are_refused(split: tuple[int, dict], off: float) -> None:
    total, etiology = split
    first = next(iter(etiology))
    if etiology[first] + off < 0:
        off = -off
    changed = {**etiology, first: etiology[first] + off}
    with pytest.raises(ValidationError, match="counts sum to"):
        Stratum.model_validate(death_stratum(total, changed))


@settings(max_examples=60, deadline=None, database=None)
@given(
    split=half_split(),
    bad=st.floats(0, 50, allow_nan=False).filter(lambda x: 2 * x != int(2 * x)),
)
def test_counts_that_are_not_halves_are_refused(split: tuple[int, dict], bad: float) -> None:
    total, etiology = split
    first = next(iter(etiology))
    with pytest.raises(ValidationError, match="a whole or half number"):
        Stratum.model_validate(death_stratum(total, {**etiology, first: bad}))
