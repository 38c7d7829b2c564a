"""Schemas of the three record kinds of the evidence base: studies, strata and patients.

Every model forbids unknown fields, so a typo in a data file is an error rather than a field
silently ignored. Cross-record rules (duplicate ids, overlap groups, patients without a study)
live in :mod:`hlhbayes.evidence.validate`.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from hlhbayes.evidence.identifiers import check_web_address, normalise_doi, normalise_pmid
from hlhbayes.evidence.text import one_line, prose
from hlhbayes.quoting import quoted

ETIOLOGIES: tuple[str, ...] = (
    "infection",
    "malignancy",
    "rheumatic",
    "medication",
    "other",
    "unknown",
)
"""Trigger categories of the seed paper's Table 1 (rheumatic = AOSD or sJIA), plus ``other``."""

LINES: tuple[str, ...] = ("first", "later")
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
DEATH_DEFINITIONS: tuple[str, ...] = ("mortality",)

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
MAX_COUNT = 10**6
"""Ceiling of every count (events, totals, compositions, patient numbers, days)."""
MAX_REPORTED = 10**9
"""Ceiling of the size of a reported number (counts, medians, laboratory values)."""
Count = Annotated[int, Field(ge=0, le=MAX_COUNT, strict=True)]
Flag = Annotated[int, Field(ge=0, le=1)]
MAX_LINE = 1_000
"""Longest one-line text field (citations, designs, locations, table cells)."""
MAX_PROSE = 20_000
"""Longest prose field (notes, reasons, definitions, outcome summaries, judgements)."""
Line = Annotated[str, Field(max_length=MAX_LINE), AfterValidator(one_line)]
Prose = Annotated[str, Field(max_length=MAX_PROSE), AfterValidator(prose)]
WebAddress = Annotated[str, AfterValidator(check_web_address)]
Doi = Annotated[str, AfterValidator(normalise_doi)]
Pmid = Annotated[int | str, AfterValidator(normalise_pmid)]
STUDY_ID_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*$"
STUDY_ID_MAX_LENGTH = 60
StudyId = Annotated[str, Field(pattern=STUDY_ID_PATTERN, max_length=STUDY_ID_MAX_LENGTH)]


def _reported_number(value: object) -> object:
    """A reported number is finite and at most MAX_REPORTED in size (text is kept as text)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{quoted(value)} is not a finite number")
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if number and abs(value) > MAX_REPORTED:  # type: ignore[arg-type]
        raise ValueError(f"{quoted(value)} is larger than {MAX_REPORTED}")
    return value


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Study(_Record):
    """One publication: bibliographic record, population, condition and pooling status."""

    id: StudyId
    citation: Line
    year: Annotated[int, Field(ge=1950, le=2100, strict=True)]
    doi: Doi | None = None
    pmid: Pmid | None = None
    url: WebAddress | None = None
    design: Line
    country: Line | None = None
    population: Population
    condition: Condition
    response_definition: Prose | None = None
    role: Literal["primary", "secondary"] = "primary"
    pool: bool = True
    exclusion_reason: Prose | None = None
    overlap_group: Line | None = None
    notes: Prose | None = None

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
    value: Annotated[int | float | Line, BeforeValidator(_reported_number)]
    location: Line
    derived: bool = False
    note: Prose | None = None


class LineMix(_Record):
    """Counts of first-line and later-line patients in a stratum."""

    first: Count
    later: Count


class Stratum(_Record):
    """An aggregate count: ``events`` out of ``total`` with its etiology and line composition."""

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
    outcome: Outcome
    events: Count | None
    total: Annotated[int, Field(gt=0, le=MAX_COUNT, strict=True)]
    etiology: dict[Etiology, Count] | None = None
    line: LineMix | None = None
    definition: Definition
    timeframe: Line | None = None
    derived: bool = False
    location: Line
    source: WebAddress | None = None
    note: Prose | None = None

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
    patient: Annotated[int, Field(ge=1, le=MAX_COUNT)]
    age: Annotated[float, Field(ge=0, le=120)] | None
    sex: Literal["M", "F"]
    factors: Line
    hscore: Annotated[int, Field(ge=0, le=400)] | None
    treatment_lines: Line
    anakinra_line: Annotated[int, Field(ge=1, le=20)]
    regimen: Literal["alone", "with_corticosteroids"]
    efficacy: Line
    response: Flag
    anakinra_days: Annotated[int, Field(ge=0, le=MAX_COUNT)] | None
    corticosteroid_days: Annotated[int, Field(ge=0, le=MAX_COUNT)] | None
    status: Line
    died: Flag
    outcome_summary: Prose
    infection: Flag
    malignancy: Flag
    rheumatic: Flag
    medication: Flag
    other: Flag
    unknown: Flag
    location: Line
    judgement: Prose | None = None

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
