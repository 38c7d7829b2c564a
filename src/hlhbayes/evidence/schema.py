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

LINE_CATEGORIES: tuple[str, ...] = ("first", "later", "after_anakinra")
"""Line categories of a stratum: ``after_anakinra`` counts patients given anakinra again (another
route, dose or regimen) after anakinra itself had failed: their outcome says nothing about
anakinra as first or later line, so fits leave such strata out unless told otherwise."""
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
TIMEFRAMES: tuple[str, ...] = (
    "in_hospital",
    "28_day",
    "30_day",
    "90_day",
    "last_follow_up",
    "not_stated",
)
"""When deaths were counted. 28- and 30-day mortality keep their own codes (record what the
source says); a fit may pool them by selecting both."""
TIMEFRAME_WORDS: dict[str, str] = {
    "in_hospital": "in hospital",
    "28_day": "at 28 days",
    "30_day": "at 30 days",
    "90_day": "at 90 days",
    "last_follow_up": "at last follow-up",
    "not_stated": "timeframe not stated",
}
UNITS: tuple[str, ...] = ("patients", "episodes")
HSCORE_MAX = 337
"""The largest H score the scoring system can give (Fardet et al. 2014); larger printed values are
flagged as implausible (:mod:`hlhbayes.evidence.plausibility`)."""

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
Timeframe = Literal["in_hospital", "28_day", "30_day", "90_day", "last_follow_up", "not_stated"]
MAX_COUNT = 10**6
"""Ceiling of every count (events, totals, compositions, patient numbers, days)."""
MAX_REPORTED = 10**9
"""Ceiling of the size of a reported number (counts, medians, laboratory values)."""
Count = Annotated[int, Field(ge=0, le=MAX_COUNT, strict=True)]


def _half_count(value: object) -> int | float:
    """A count in a stratum's etiology mix: whole, or half (a patient with two triggers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"a count must be a number, got {quoted(value)}")
    if not math.isfinite(value) or value < 0 or value * 2 != int(value * 2):
        raise ValueError(
            f"a count must be a whole or half number >= 0 (e.g. 3 or 2.5), got {quoted(value)}"
        )
    if value > MAX_COUNT:
        raise ValueError(f"a count must be at most {MAX_COUNT}, got {quoted(value)}")
    return int(value) if value == int(value) else float(value)


HalfCount = Annotated[int | float, BeforeValidator(_half_count)]
"""Etiology counts may be halves: a patient with two triggers counts 0.5 in each, as a patient row
with two etiology flags has weight 1/2 on each in the models."""
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
    year: Annotated[int, Field(ge=1950, le=2100, strict=True)] | None
    doi: Doi | None = None
    pmid: Pmid | None = None
    url: WebAddress | None = None
    read_at: WebAddress | None = None
    design: Line
    country: Line | None = None
    population: Population | None
    condition: Condition
    response_definition: Prose | None = None
    role: Literal["primary", "secondary"] = "primary"
    pool: bool = True
    exclusion_reason: Prose | None = None
    overlap_group: Line | None = None
    patient_death_timeframe: Timeframe | None = None
    notes: Prose | None = None

    @model_validator(mode="after")
    def _rules(self) -> Study:
        if not (self.doi or self.pmid or self.url or self.read_at):
            raise ValueError("doi: needs at least one of doi, pmid, url, read_at")
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
    """Counts of first-line, later-line and after-anakinra-failure patients in a stratum."""

    first: Count
    later: Count
    after_anakinra: Count = 0

    @property
    def total(self) -> int:
        """All patients of the mix."""
        return self.first + self.later + self.after_anakinra


class Stratum(_Record):
    """An aggregate count: ``events`` out of ``total`` with its etiology and line composition."""

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
    outcome: Outcome
    events: Count | None
    total: Annotated[int, Field(gt=0, le=MAX_COUNT, strict=True)]
    unit: Literal["patients", "episodes"] = "patients"
    etiology: dict[Etiology, HalfCount] | None = None
    line: LineMix | None = None
    definition: Definition
    timeframe: Timeframe | None = None
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
        if self.line is not None and self.line.total != self.total:
            raise ValueError(f"line: counts sum to {self.line.total}, not total {self.total}")
        if self.outcome == "death" and self.definition != "mortality":
            raise ValueError("definition: a death stratum has definition mortality")
        if self.outcome == "death" and self.timeframe is None:
            raise ValueError(
                f"timeframe: a death stratum needs a timeframe, one of {', '.join(TIMEFRAMES)}"
            )
        if self.outcome == "response" and self.timeframe is not None:
            raise ValueError(
                "timeframe: only death strata carry a timeframe (say when response was judged in "
                "note)"
            )
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
