"""Reconciliation of stated aggregates with patient rows, and the recomputed descriptive statistics.

Expected values come from the paper (Baverez et al., J Clin Med 2022;11:5799; text at
/work/shared/seed/Baverez2022_JClinMed_11_5799.txt), from data/studies/Baverez2022.yaml (which
records where each stated figure is printed) and from data/patients/Baverez2022.csv (Table 2).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from hlhbayes.errors import HlhBayesError
from hlhbayes.evidence import EvidenceBase, UnknownStudyError
from hlhbayes.evidence.aggregates import QUANTILE_METHOD, quartiles, recompute
from hlhbayes.evidence.describe import describe
from hlhbayes.evidence.reconcile import Finding, reconcile
from hlhbayes.evidence.schema import Patient, StudyFile

T1 = 'Table 1 row "{}"'

# Every stated figure that disagrees with Table 2, as (key, location): (stated, from Table 2).
BAVEREZ_DISAGREEMENTS = {
    # Abstract: "Among 21 patients (median age, 45 years), 13 were men"; Table 2's sex column
    # has 12 M (patients 1, 2, 4, 5, 6, 7, 10, 12, 15, 18, 20, 21) and 9 F.
    ("men", "abstract"): (13, 12),
    # Results paragraph 1: "8 were women and 13 were men".
    ("men", "Results paragraph 1"): (13, 12),
    ("women", "Results paragraph 1"): (8, 9),
    # Table 1: "Gender (male) 13 (62%)".
    ("men", T1.format("Gender (male)")): (13, 12),
    # Abstract: "as monotherapy in 5 patients"; Table 2 has 6 first-line patients starting
    # anakinra alone (1, 10, 13, 17, 19, 21), as Results paragraph 3 says ("In six patients").
    ("monotherapy", "abstract"): (5, 6),
    # Results paragraph 1: "At least one sHLH-triggering condition was identified in all cases"
    # (recorded as a derived 0), but Table 1 counts 1 Unknown (patient 3, "unknow origin").
    ("etiology_unknown", "Results paragraph 1"): (0, 1),
    # Results paragraph 6: "The median duration of treatment with anakinra was 21 days
    # [IQR, 13-19]"; the 20 durations in Table 2 (patient 7 printed '###') give a median of 18.5
    # and a third quartile of 72.75 (the first quartile, 13, agrees).
    ("anakinra_days_median", "Results paragraph 6"): (21, 18.5),
    ("anakinra_days_q3", "Results paragraph 6"): (19, 72.75),
}

# Stated figures that Table 2 reproduces, as (key, location).
BAVEREZ_AGREEMENTS = {
    # n = 21, age median 45 [IQR 33-58] (abstract, Results paragraph 1, Table 1)
    ("n", "abstract"),
    ("n", "Results paragraph 1"),
    ("age_median", "abstract"),
    ("age_median", "Results paragraph 1"),
    ("age_q1", "Results paragraph 1"),
    ("age_q3", "Results paragraph 1"),
    ("age_median", T1.format("Age (years)")),
    ("age_q1", T1.format("Age (years)")),
    ("age_q3", T1.format("Age (years)")),
    # "There were three children" (ages 4, 6 and 17 in Table 2)
    ("children", "Results paragraph 1"),
    # etiology: 6 rheumatic, 5 malignancies, 12 infections (Results paragraph 1); Table 1 adds
    # medication 1 and unknown 1
    ("etiology_rheumatic", "Results paragraph 1"),
    ("etiology_malignancy", "Results paragraph 1"),
    ("etiology_infection", "Results paragraph 1"),
    ("etiology_malignancy", T1.format("Malignancy")),
    ("etiology_infection", T1.format("Infection")),
    ("etiology_rheumatic", T1.format("Rheumatic disease (AOSD or sJIA)")),
    ("etiology_medication", T1.format("Medication")),
    ("etiology_unknown", T1.format("Unknown")),
    # H score 244 [224-267]
    ("hscore_median", "Results paragraph 2"),
    ("hscore_median", T1.format("H score")),
    ("hscore_q1", T1.format("H score")),
    ("hscore_q3", T1.format("H score")),
    # first line in 10 (abstract, Results paragraph 3); six monotherapy; lines 2-5: 7, 2, 1, 1
    ("first_line", "abstract"),
    ("first_line", "Results paragraph 3"),
    ("monotherapy", "Results paragraph 3"),
    ("line_2", "Results paragraph 3"),
    ("line_3", "Results paragraph 3"),
    ("line_4", "Results paragraph 3"),
    ("line_5", "Results paragraph 3"),
    # effective in 19/21 (abstract, Results paragraph 5); three deaths (Results paragraph 8)
    ("responders", "abstract"),
    ("responders", "Results paragraph 5"),
    ("deaths", "Results paragraph 8"),
    # first quartile of anakinra duration, 13 (Results paragraph 6)
    ("anakinra_days_q1", "Results paragraph 6"),
    # "Anakinra was used without corticosteroids in five patients" (Discussion paragraph 1):
    # the five with a corticosteroid duration of 0 (1, 10, 17, 19, 21)
    ("without_corticosteroids", "Discussion paragraph 1"),
}


@pytest.fixture(scope="module")
def findings(shipped: EvidenceBase) -> list[Finding]:
    return reconcile(shipped, "Baverez2022")


@pytest.fixture(scope="module")
def described(shipped: EvidenceBase) -> dict:
    return describe(shipped, "Baverez2022")


# --------------------------------------------------------------------------------------------
# Reconciliation of Baverez 2022


def test_exactly_the_known_disagreements(findings: list[Finding]) -> None:
    disagreeing = {
        (f.key, f.location): (f.stated, f.computed) for f in findings if f.status == "disagrees"
    }
    assert disagreeing == BAVEREZ_DISAGREEMENTS


def test_exactly_the_known_agreements(findings: list[Finding]) -> None:
    agreeing = {(f.key, f.location) for f in findings if f.status == "agrees"}
    assert agreeing == BAVEREZ_AGREEMENTS
    by_place = {(f.key, f.location): f for f in findings}
    assert by_place["age_q1", T1.format("Age (years)")].computed == 33.0
    assert by_place["hscore_q3", T1.format("H score")].computed == 267.0
    assert by_place["responders", "abstract"].computed == 19
    assert by_place["deaths", "Results paragraph 8"].computed == 3


def test_every_other_stated_figure_is_not_recomputable(
    shipped: EvidenceBase, findings: list[Finding]
) -> None:
    reported = shipped.study("Baverez2022").reported
    assert len(findings) == len(reported) == 202
    rest = [f for f in findings if f.status == "not recomputable"]
    assert len(rest) == 202 - len(BAVEREZ_DISAGREEMENTS) - len(BAVEREZ_AGREEMENTS)
    assert all(f.computed is None for f in rest)
    assert {"fever_resolution", "ferritin_median", "icu_admission"} <= {f.key for f in rest}


def test_derived_flag_is_carried(findings: list[Finding]) -> None:
    derived = {(f.key, f.location) for f in findings if f.derived}
    assert ("etiology_unknown", "Results paragraph 1") in derived
    assert ("men", "abstract") not in derived


def test_studies_without_patient_rows_reconcile_to_nothing(shipped: EvidenceBase) -> None:
    assert reconcile(shipped, "Imperial2020") == []
    with pytest.raises(UnknownStudyError):
        reconcile(shipped, "Nope")


# --------------------------------------------------------------------------------------------
# Reconciliation of a synthetic study with controlled disagreements


def patient(number: int, **values) -> Patient:
    row = {
        "study": "Synthetic",
        "patient": number,
        "age": None,
        "sex": "M",
        "factors": "x",
        "hscore": None,
        "treatment_lines": "1. ANA",
        "anakinra_line": 1,
        "regimen": "with_corticosteroids",
        "efficacy": "Yes",
        "response": 1,
        "anakinra_days": None,
        "corticosteroid_days": None,
        "status": "Alive",
        "died": 0,
        "outcome_summary": "x",
        "infection": 0,
        "malignancy": 0,
        "rheumatic": 0,
        "medication": 0,
        "other": 0,
        "unknown": 0,
        "location": f"Table 1, patient {number}",
    }
    row.update(values)
    return Patient.model_validate(row)


SYNTHETIC_PATIENTS = [
    patient(1, age=30, sex="M", regimen="alone", infection=1),
    patient(2, age=41, sex="F", anakinra_line=2, response=0, died=1, malignancy=1),
    patient(3, age=50, sex="M", infection=1),
    patient(4, age=62, sex="F", anakinra_line=3, unknown=1),
]
# ages 30, 41, 50, 62: median 45.5, Q1 30 + 0.75 * 11 = 38.25, Q3 50 + 0.25 * 12 = 53
SYNTHETIC_REPORTED = [
    ("n", 4, "abstract", "agrees"),
    ("men", 3, "abstract", "disagrees"),
    ("men", 2, "Table 1", "agrees"),
    ("men_percent", 50.4, "Table 1", "agrees"),  # 50%, printed percentages within 0.5
    ("men_percent", 51, "text", "disagrees"),
    ("responders", 3, "abstract", "agrees"),
    ("deaths", 2, "abstract", "disagrees"),
    ("line_2", 1, "text", "agrees"),
    ("line_4", 1, "text", "not recomputable"),  # nobody had a fourth line
    ("age_median", 45.5, "abstract", "agrees"),
    ("age_median", 45.52, "Table 1", "agrees"),  # medians within 0.05 (one decimal)
    ("age_median", 45.6, "text", "disagrees"),
    ("age_q1", 38.25, "Table 1", "agrees"),
    ("age_q3", 52, "Table 1", "disagrees"),
    ("hscore_median", 250, "Table 1", "not recomputable"),  # no H score in the rows
    ("icu_admission", 2, "text", "not recomputable"),  # not a patient-level column
    ("responders", "three", "text", "not recomputable"),  # a value that is not a number
]


@pytest.fixture(scope="module")
def synthetic() -> EvidenceBase:
    record = StudyFile.model_validate(
        {
            "study": {
                "id": "Synthetic",
                "citation": "synthetic",
                "year": 2024,
                "url": "https://example.org",
                "design": "case series",
                "population": "adult",
                "condition": "classic_shlh",
            },
            "reported": [
                {"key": k, "value": v, "location": where, "derived": k == "deaths"}
                for k, v, where, _ in SYNTHETIC_REPORTED
            ],
        }
    )
    return EvidenceBase(
        root=Path("."), studies={"Synthetic": record}, patients=list(SYNTHETIC_PATIENTS)
    )


def test_reconcile_on_a_synthetic_study(synthetic: EvidenceBase) -> None:
    found = reconcile(synthetic, "Synthetic")
    assert [(f.key, f.stated, f.location, f.status) for f in found] == SYNTHETIC_REPORTED
    by_place = {(f.key, f.location): f for f in found}
    assert by_place["men", "abstract"].computed == 2
    assert by_place["men_percent", "text"].computed == 50.0
    assert by_place["age_q3", "Table 1"].computed == 53.0
    assert by_place["deaths", "abstract"].derived is True
    assert by_place["line_4", "text"].computed is None


def test_recompute_on_a_synthetic_study() -> None:
    values = recompute(SYNTHETIC_PATIENTS)
    assert values["n"] == 4
    assert (values["men"], values["women"], values["children"]) == (2, 2, 0)
    assert (values["first_line"], values["later_line"], values["monotherapy"]) == (2, 2, 1)
    assert (values["line_1"], values["line_2"], values["line_3"]) == (2, 1, 1)
    assert "line_4" not in values
    assert (values["etiology_infection"], values["etiology_unknown"]) == (2, 1)
    assert values["responders_percent"] == 75.0
    assert (values["age_q1"], values["age_median"], values["age_q3"]) == (38.25, 45.5, 53.0)
    assert "hscore_median" not in values
    assert "without_corticosteroids" in values and values["without_corticosteroids"] == 0


# --------------------------------------------------------------------------------------------
# describe()


def test_quartiles_reproduce_the_papers_iqrs(described: dict) -> None:
    age = described["continuous"]["age"]
    hscore = described["continuous"]["hscore"]
    # Results paragraph 1 / Table 1: age 45 [33-58]; Table 1: H score 244.0 [224.0-267.0]
    assert (age["median"], age["q1"], age["q3"]) == (45.0, 33.0, 58.0)
    assert (hscore["median"], hscore["q1"], hscore["q3"]) == (244.0, 224.0, 267.0)
    assert (age["n"], age["missing"]) == (21, 0)
    assert "Hyndman-Fan type 7" in described["quantile_method"]


def test_the_quartile_method_matters() -> None:
    # Table 2's ages: another common method (type 6, SPSS/Minitab) would not give [33-58]
    ages = [38, 33, 73, 66, 51, 64, 20, 17, 41, 61, 45, 51, 35, 28, 6, 4, 55, 58, 35, 58, 77]
    assert quartiles(ages) == (45.0, 33.0, 58.0)
    assert QUANTILE_METHOD == "linear"
    assert tuple(np.quantile(ages, [0.25, 0.75], method="weibull")) == (30.5, 59.5)
    assert quartiles([None, None]) is None
    assert quartiles([7, None]) == (7.0, 7.0, 7.0)


def test_durations_with_the_missing_patient(described: dict) -> None:
    days = described["continuous"]["anakinra_days"]
    # 20 durations (patient 7 printed '###'): median 18.5 [13-72.75]
    assert (days["n"], days["missing"]) == (20, 1)
    assert (days["median"], days["q1"], days["q3"]) == (18.5, 13.0, 72.75)


def test_counts_by_anakinra_line(described: dict) -> None:
    # Table 2, line of "ANA": line 1 patients 1, 5, 8, 10, 13, 16, 17, 18, 19, 21 (six alone);
    # line 2 patients 2, 4, 6, 7, 11, 12, 14 (4 and 6 died); line 3 patients 15 (no effect) and
    # 20; line 4 patient 3 (no effect, died); line 5 patient 9
    assert described["by_anakinra_line"] == {
        "1": {"patients": 10, "alone": 6, "with_corticosteroids": 4, "responders": 10, "deaths": 0},
        "2": {"patients": 7, "alone": 0, "with_corticosteroids": 7, "responders": 7, "deaths": 2},
        "3": {"patients": 2, "alone": 0, "with_corticosteroids": 2, "responders": 1, "deaths": 0},
        "4": {"patients": 1, "alone": 0, "with_corticosteroids": 1, "responders": 0, "deaths": 1},
        "5": {"patients": 1, "alone": 0, "with_corticosteroids": 1, "responders": 1, "deaths": 0},
    }
    assert list(described["by_anakinra_line"]) == ["1", "2", "3", "4", "5"]


def test_counts_responders_deaths_and_etiology(described: dict) -> None:
    counts = described["counts"]
    assert counts["responders"] == {"n": 19, "of": 21, "percent": 90.5}
    assert counts["deaths"] == {"n": 3, "of": 21, "percent": 14.3}
    assert counts["men"]["n"] == 12 and counts["women"]["n"] == 9  # Table 2 as printed
    assert counts["children (<18 y)"]["n"] == 3
    assert counts["anakinra first line"]["n"] == 10
    assert counts["anakinra alone at start"]["n"] == 6
    assert counts["never given corticosteroids"]["n"] == 5
    assert counts["several triggers"]["n"] == 5  # patients 5, 8, 15, 20, 21
    # Table 1: infection 12, malignancy 5, rheumatic 6, medication 1, unknown 1 (+ other 1)
    assert {e: c["patients"] for e, c in described["by_etiology"].items()} == {
        "infection": 12,
        "malignancy": 5,
        "rheumatic": 6,
        "medication": 1,
        "other": 1,
        "unknown": 1,
    }
    assert described["by_etiology"]["malignancy"]["deaths"] == 2  # patients 4 and 6 (MDS)
    assert described["by_etiology"]["unknown"] == {
        "patients": 1,
        "first_line": 0,
        "responders": 0,
        "deaths": 1,
    }


# Anakinra duration (days) from Table 2, by patient; patient 7 is '###'.
ANAKINRA_DAYS = {
    1: 13, 2: 67, 3: 13, 4: 20, 5: 5, 6: 90, 8: 180, 9: 660, 10: 5, 11: 14, 12: 21,
    13: 45, 14: 120, 15: 210, 16: 60, 17: 6, 18: 17, 19: 8, 20: 14, 21: 14,
}  # fmt: skip
# Table 1's rheumatic patients: Still's disease (8, 9, 11) and JIA (7, 15, 16).
RHEUMATIC = {7, 8, 9, 11, 15, 16}
# Malignancy or infection without rheumatic disease: every other patient except 3 (unknown
# trigger) and 12 (graft rejection).
MALIGNANCY_OR_INFECTION = {1, 2, 4, 5, 6, 10, 13, 14, 17, 18, 19, 20, 21}
STILLS = {8, 9, 11}  # "Still's disease" written in the factors cell


def days_of(patients: set[int]) -> list[int]:
    return [ANAKINRA_DAYS[p] for p in sorted(patients) if p in ANAKINRA_DAYS]


@pytest.mark.parametrize(
    ("comparison", "group_a", "group_b"),
    [
        ("rheumatic_vs_malignancy_or_infection", RHEUMATIC, MALIGNANCY_OR_INFECTION),
        ("stills_vs_malignancy_or_infection", STILLS, MALIGNANCY_OR_INFECTION | {15}),
    ],
)
def test_duration_comparison_is_mann_whitney_on_the_right_groups(
    described: dict, comparison: str, group_a: set[int], group_b: set[int]
) -> None:
    entry = next(
        c for c in described["anakinra_duration_by_etiology"] if c["comparison"] == comparison
    )
    a, b = days_of(group_a), days_of(group_b)
    expected = stats.mannwhitneyu(a, b, alternative="two-sided")
    assert (entry["n_a"], entry["n_b"]) == (len(a), len(b))
    assert entry["u"] == pytest.approx(float(expected.statistic))
    assert entry["p_value"] == pytest.approx(float(expected.pvalue), rel=1e-12)
    assert entry["median_a"] == float(np.median(a))
    assert entry["median_b"] == float(np.median(b))
    # neither grouping reproduces the paper's "median, 17 vs. 195 days, p = 0.016"
    assert round(entry["p_value"], 3) != 0.016


def test_duration_comparison_values(described: dict) -> None:
    first, second = described["anakinra_duration_by_etiology"]
    assert (first["n_a"], first["n_b"], first["median_a"], first["median_b"]) == (5, 13, 180, 14)
    assert first["u"] == 55.0
    assert round(first["p_value"], 3) == 0.030
    assert (second["n_a"], second["n_b"], second["median_a"], second["median_b"]) == (
        3,
        14,
        180,
        15.5,
    )
    assert round(second["p_value"], 3) == 0.146


def test_describe_reconciles_and_refuses_studies_without_rows(
    shipped: EvidenceBase, described: dict
) -> None:
    assert described["study"] == "Baverez2022" and described["n"] == 21
    assert described["reconciliation"] == [f.as_dict() for f in reconcile(shipped, "Baverez2022")]
    with pytest.raises(HlhBayesError, match="'Imperial2020' has no patient rows to describe"):
        describe(shipped, "Imperial2020")
    with pytest.raises(UnknownStudyError):
        describe(shipped, "Nope")
