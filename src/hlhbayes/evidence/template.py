"""Blank study files to fill in: ``hlhbayes data template STUDY``.

The YAML template lists every field of :class:`~hlhbayes.evidence.schema.Study`, one reported
aggregate and two strata (a response and a death stratum), each with its allowed values in a
comment. The allowed values are read from the schema, so the template cannot drift from it
(a test checks the field lists too). Fields that need a value from the paper are ``null``:
``data add`` refuses the file, naming each of them, until they are filled in.

The patients template is the CSV header of :class:`~hlhbayes.evidence.schema.Patient`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

from hlhbayes.errors import HlhBayesError
from hlhbayes.evidence.load import PATIENTS_DIR, STUDIES_DIR
from hlhbayes.evidence.schema import (
    STUDY_ID_MAX_LENGTH,
    STUDY_ID_PATTERN,
    Condition,
    Definition,
    Etiology,
    Outcome,
    Patient,
    Population,
    Timeframe,
)
from hlhbayes.quoting import quoted


def _choices(literal: object) -> str:
    return " | ".join(get_args(literal))


def study_template(study_id: str) -> str:
    """The YAML template for a new study ``study_id``."""
    response_definitions = " | ".join(d for d in get_args(Definition) if d != "mortality")
    return f"""\
# New study {study_id}: fill in every null that the paper states, then check with
#   hlhbayes data add {study_id}.yaml --dry-run        (add --patients {study_id}.csv if any)
# Format and meaning of every field: data/FORMAT.md. Figures in your own words; say where
# each is in the paper (location); mark figures you computed from stated ones derived: true.
study:
  id: {study_id}
  citation: null                  # authors, title, journal, year (own words)
  year: null                      # publication year (orders the cumulative analysis); stays
                                  # null only if no source states it (say so in notes)
  doi: null                       # at least one of doi / pmid / url (or read_at)
  pmid: null
  url: null                       # the study's own page: publisher, PubMed/PMC, registry
  read_at: null                   # where you read the figures, if not one of the above
                                  # (a mirror, proxy or aggregator copy): never linked
  design: null                    # e.g. retrospective case series, single centre
  country: null                   # or leave null
  population: null                # {_choices(Population)}; null only if not stated
  condition: null                 # {_choices(Condition)}
  response_definition: null       # the paper's definition in own words, or null if none
  role: primary                   # primary | secondary (reviews: never pooled)
  pool: true                      # false keeps the study out of every analysis
  exclusion_reason: null          # required when pool is false
  overlap_group: null             # shared by studies reporting the same patients
  patient_death_timeframe: null   # with a patients table: when its deaths were counted,
                                  # {_choices(Timeframe)}
  notes: null                     # judgement calls and caveats

reported:                         # aggregates as the paper states them (for reconciliation)
  - key: n                        # keys: data/FORMAT.md, "Reported keys"
    value: null
    location: null                # e.g. abstract; Table 1; Results paragraph 2
    derived: false
    note: null

strata:                           # counts the models use; delete the ones the paper lacks
  - id: response-overall          # unique within the study
    outcome: response             # {_choices(Outcome)}
    events: null                  # responders; null only if the paper does not give it
    total: null
    unit: patients                # patients | episodes (a patient may count twice)
    etiology: null                # e.g. {{infection: 6, malignancy: 5}} summing to total
                                  # (0.5 for each trigger of a patient with two);
                                  # null when the mix is unknown. {_choices(Etiology)}
    line: null                    # {{first: a, later: b}} summing to total, or null; add
                                  # after_anakinra: c for patients given anakinra after it failed
    definition: null              # {response_definitions}
    timeframe: null               # response strata: null (say when response was judged in note)
    derived: false                # true if any figure (count or mix) is computed or inferred
    location: null
    source: null                  # a URL when it differs from the study's own
    note: null
  - id: deaths-overall
    outcome: death
    events: null                  # deaths
    total: null
    unit: patients
    etiology: null
    line: null
    definition: mortality
    timeframe: null               # when deaths were counted: {_choices(Timeframe)}
    derived: false
    location: null
    source: null
    note: null
"""


def patients_template() -> str:
    """The CSV header of a patients file (one row per patient follows; data/FORMAT.md)."""
    return ",".join(Patient.model_fields) + "\n"


def template_files(
    study_id: str, folder: Path, patients: bool, evidence_base: Path | None = None
) -> dict[Path, bytes]:
    """The files to write for ``study_id`` in ``folder``; :class:`HlhBayesError` for a bad id or folder.

    The id must match the schema's pattern as a whole (a trailing newline is not a match). The
    folder may not lie inside ``evidence_base`` nor be the ``studies/`` or ``patients/`` folder
    of any evidence base: a blank template there is an invalid study in the base.
    """
    if not re.fullmatch(STUDY_ID_PATTERN, study_id) or len(study_id) > STUDY_ID_MAX_LENGTH:
        raise HlhBayesError(
            f"study id {quoted(study_id)}: letters, digits and underscores, starting with a letter "
            "(e.g. Smith2026)"
        )
    _check_folder(folder, evidence_base)
    files = {folder / f"{study_id}.yaml": study_template(study_id).encode()}
    if patients:
        files[folder / f"{study_id}.csv"] = patients_template().encode()
    return files


def _check_folder(folder: Path, evidence_base: Path | None) -> None:
    where = folder.resolve()
    base = evidence_base.resolve() if evidence_base is not None else None
    inside = base is not None and (where == base or base in where.parents)
    record_folder = (
        where.name in (STUDIES_DIR, PATIENTS_DIR) and (where.parent / STUDIES_DIR).is_dir()
    )
    if inside or record_folder:
        raise HlhBayesError(
            f"--out {folder}: inside an evidence base; write the template elsewhere, fill it "
            "in, then add it with hlhbayes data add"
        )
