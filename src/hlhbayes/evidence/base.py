"""The validated evidence base in memory, its canonical tables and its content hash."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pandas as pd

from hlhbayes.errors import HlhBayesError
from hlhbayes.evidence.schema import ETIOLOGIES, PATIENT_COLUMNS, Patient, StudyFile
from hlhbayes.quoting import quoted
from hlhbayes.suggest import did_you_mean


class UnknownStudyError(HlhBayesError, KeyError):
    """A study id that is not in the evidence base (a failed lookup, hence also a ``KeyError``)."""

    def __str__(self) -> str:
        return str(self.args[0])


OPTIONAL_SINCE_HASHED = ("read_at",)
"""Optional study fields added after the content hash was defined: left out of the canonical
form when empty, so that a base that does not use them keeps its hash (and its runs stay
current)."""


@dataclass(frozen=True)
class EvidenceBase:
    """Validated studies (with their reported aggregates and strata) and patient rows."""

    root: Path
    studies: dict[str, StudyFile]
    patients: list[Patient]

    def study(self, study_id: str) -> StudyFile:
        """Return one study record, with a helpful error listing the known ids."""
        try:
            return self.studies[study_id]
        except KeyError:
            known = ", ".join(sorted(self.studies))
            hint = did_you_mean(study_id, self.studies)
            hint = f" ({hint})" if hint else ""
            raise UnknownStudyError(
                f"unknown study {quoted(study_id)}{hint}; known: {known}"
            ) from None

    def patients_of(self, study_id: str) -> list[Patient]:
        """Patient rows of one study, in the order of the paper's table."""
        self.study(study_id)
        return sorted((p for p in self.patients if p.study == study_id), key=lambda p: p.patient)

    @cached_property
    def canonical(self) -> dict:
        """A canonical, order-independent JSON-able form of the whole base."""
        studies = []
        for sid in sorted(self.studies):
            record = self.studies[sid].model_dump(mode="json")
            for name in OPTIONAL_SINCE_HASHED:
                if record["study"][name] is None:
                    del record["study"][name]
            record["reported"] = sorted(
                record["reported"], key=lambda r: (r["key"], r["location"], str(r["value"]))
            )
            record["strata"] = sorted(record["strata"], key=lambda s: s["id"])
            studies.append(record)
        patients = [
            p.model_dump(mode="json")
            for p in sorted(self.patients, key=lambda p: (p.study, p.patient))
        ]
        return {"studies": studies, "patients": patients}

    @cached_property
    def content_hash(self) -> str:
        """SHA-256 of the canonical form: same content, same hash, whatever the order on disk."""
        text = json.dumps(self.canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def studies_frame(self) -> pd.DataFrame:
        """One row per study with counts of its patients and strata."""
        rows = []
        for sid in sorted(self.studies):
            s = self.studies[sid].study
            rows.append(
                {
                    "study": sid,
                    "year": s.year,
                    "population": s.population,
                    "condition": s.condition,
                    "role": s.role,
                    "pool": s.pool,
                    "overlap_group": s.overlap_group,
                    "patients": sum(p.study == sid for p in self.patients),
                    "strata": len(self.studies[sid].strata),
                    "reference": _reference(s.doi, s.pmid, s.url or s.read_at),
                }
            )
        frame = pd.DataFrame(rows)
        if not frame.empty:  # a year not stated is missing, and stated years stay integers
            frame["year"] = frame["year"].astype("Int64")
        return frame

    def strata_frame(self) -> pd.DataFrame:
        """One row per stratum, with composition columns ``n_<etiology>`` and ``n_<line>``.

        Unknown compositions are NaN in every composition column of that row; etiology counts
        may be halves (a patient with two triggers). ``n_after_anakinra`` counts patients given
        anakinra after anakinra had failed.
        """
        rows = []
        for sid in sorted(self.studies):
            record = self.studies[sid]
            for s in record.strata:
                row = {
                    "study": sid,
                    "stratum": s.id,
                    "outcome": s.outcome,
                    "events": s.events,
                    "total": s.total,
                    "definition": s.definition,
                    "timeframe": s.timeframe,
                    "unit": s.unit,
                    "derived": s.derived,
                    "location": s.location,
                }
                for e in ETIOLOGIES:
                    row[f"n_{e}"] = None if s.etiology is None else s.etiology.get(e, 0)
                row["n_first"] = None if s.line is None else s.line.first
                row["n_later"] = None if s.line is None else s.line.later
                row["n_after_anakinra"] = None if s.line is None else s.line.after_anakinra
                rows.append(row)
        return pd.DataFrame(rows)

    def patients_frame(self, study_id: str | None = None) -> pd.DataFrame:
        """Patient rows as a frame with the columns of the CSV format (missing as NA)."""
        rows = self.patients if study_id is None else self.patients_of(study_id)
        frame = pd.DataFrame([p.model_dump() for p in rows], columns=list(PATIENT_COLUMNS))
        for col in ("age", "hscore", "anakinra_days", "corticosteroid_days"):
            frame[col] = frame[col].astype("Float64" if col == "age" else "Int64")
        return frame


def _reference(doi: str | None, pmid: str | int | None, url: str | None) -> str:
    if doi:
        return f"https://doi.org/{doi}"
    if pmid:
        return f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/"
    return url or ""
