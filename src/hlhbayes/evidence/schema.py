"""Schemas of the three record kinds of the evidence base: studies, strata and patients.

Every model forbids unknown fields, so a typo in a data file is an error rather than a field
silently ignored. Cross-record rules (duplicate ids, overlap groups, patients without a study)
live in :mod:`hlhbayes.evidence.validate`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ETIOLOGIES: tuple[str, ...] = (
    "infection",
    "malignancy",
    "rheumatic",
    "medication",
    "other",
    "unknown",
)
"""Trigger categories of the seed paper's Table 1 (rheumatic = AOSD or sJIA), plus ``other``."""

POPULATIONS: tuple[str, ...] = ("adult", "pediatric", "mixed")
CONDITIONS: tuple[str, ...] = ("classic_shlh", "mas", "sepsis_mas", "covid_shlh")
OUTCOMES: tuple[str, ...] = ("response", "death")
RESPONSE_DEFINITIONS: tuple[str, ...] = (
    "clinician_judged",
    "remission",
    "hlh2004_resolution",
    "clinical_serologic",
    "organ_function_proxy",
    "not_defined",
)

Etiology = Literal["infection", "malignancy", "rheumatic", "medication", "other", "unknown"]
Population = Literal["adult", "pediatric", "mixed"]
Condition = Literal["classic_shlh", "mas", "sepsis_mas", "covid_shlh"]
Outcome = Literal["response", "death"]
Definition = Literal[
    "clinician_judged",
    "remission",
    "hlh2004_resolution",
    "clinical_serologic",
    "organ_function_proxy",
    "not_defined",
    "mortality",
]
Count = Annotated[int, Field(ge=0, strict=True)]
Flag = Annotated[int, Field(ge=0, le=1)]
STUDY_ID_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*$"
STUDY_ID_MAX_LENGTH = 60
StudyId = Annotated[str, Field(pattern=STUDY_ID_PATTERN, max_length=STUDY_ID_MAX_LENGTH)]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Study(_Record):
    """One publication: bibliographic record, population, condition and pooling status."""

    id: StudyId
    citation: str
    year: Annotated[int, Field(ge=1950, le=2100, strict=True)]
    doi: str | None = None
    pmid: str | int | None = None
    url: str | None = None
    design: str
    country: str | None = None
    population: Population
    condition: Condition
    response_definition: str | None = None
    role: Literal["primary", "secondary"] = "primary"
    pool: bool = True
    exclusion_reason: str | None = None
    overlap_group: str | None = None
    notes: str | None = None

    @model_validator(mode="after")
    def _rules(self) -> Study:
        if not (self.doi or self.pmid or self.url):
            raise ValueError("doi: needs at least one of doi, pmid, url")
        if self.role == "secondary" and self.pool:
            raise ValueError("pool: a secondary source (review) is never pooled: set pool: false")
        if not self.pool and not self.exclusion_reason:
            raise ValueError("exclusion_reason: pool: false needs an exclusion_reason")
        return self


class Reported(_Record):
    """An aggregate as the paper states it, kept for reconciliation with patient rows."""

    key: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    value: int | float | str
    location: str
    derived: bool = False
    note: str | None = None


class LineMix(_Record):
    """Counts of first-line and later-line patients in a stratum."""

    first: Count
    later: Count


class Stratum(_Record):
    """An aggregate count: ``events`` out of ``total`` with its etiology and line composition."""

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
    outcome: Outcome
    events: Count | None
    total: Annotated[int, Field(gt=0, strict=True)]
    etiology: dict[Etiology, Count] | None = None
    line: LineMix | None = None
    definition: Definition
    timeframe: str | None = None
    derived: bool = False
    location: str
    source: str | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _rules(self) -> Stratum:
        if self.events is not None and self.events > self.total:
            raise ValueError(f"events: events ({self.events}) > total ({self.total})")
        if self.etiology is not None and sum(self.etiology.values()) != self.total:
            raise ValueError(
                f"etiology: counts sum to {sum(self.etiology.values())}, not total {self.total}"
            )
        if self.line is not None and self.line.first + self.line.later != self.total:
            raise ValueError(
                f"line: counts sum to {self.line.first + self.line.later}, not total {self.total}"
            )
        if self.outcome == "death" and self.definition != "mortality":
            raise ValueError("definition: a death stratum has definition mortality")
        if self.outcome == "response" and self.definition == "mortality":
            raise ValueError(
                f"definition: a response stratum needs one of {', '.join(RESPONSE_DEFINITIONS)}"
            )
        return self


class StudyFile(_Record):
    """The content of one ``studies/<ID>.yaml`` file."""

    study: Study
    reported: list[Reported] = []
    strata: list[Stratum] = []


class Patient(_Record):
    """One row of a per-patient table (e.g. Baverez 2022, Table 2)."""

    study: StudyId
    patient: Annotated[int, Field(ge=1)]
    age: Annotated[float, Field(ge=0, le=120)] | None
    sex: Literal["M", "F"]
    factors: str
    hscore: Annotated[int, Field(ge=0, le=400)] | None
    treatment_lines: str
    anakinra_line: Annotated[int, Field(ge=1, le=20)]
    regimen: Literal["alone", "with_corticosteroids"]
    efficacy: str
    response: Flag
    anakinra_days: Annotated[int, Field(ge=0)] | None
    corticosteroid_days: Annotated[int, Field(ge=0)] | None
    status: str
    died: Flag
    outcome_summary: str
    infection: Flag
    malignancy: Flag
    rheumatic: Flag
    medication: Flag
    other: Flag
    unknown: Flag
    location: str
    judgement: str | None = None

    @model_validator(mode="after")
    def _rules(self) -> Patient:
        if not any(getattr(self, e) for e in ETIOLOGIES):
            raise ValueError(
                "unknown: no etiology flag set (use unknown = 1 when the trigger is unknown)"
            )
        return self

    @property
    def etiologies(self) -> tuple[str, ...]:
        """The etiology categories flagged for this patient."""
        return tuple(e for e in ETIOLOGIES if getattr(self, e))

    @property
    def line(self) -> str:
        """``first`` when anakinra was the first sHLH treatment line, else ``later``."""
        return "first" if self.anakinra_line == 1 else "later"


PATIENT_COLUMNS: tuple[str, ...] = tuple(Patient.model_fields)
