"""The curated evidence base: schemas, loading, validation, reconciliation and additions."""

from hlhbayes.evidence.base import EvidenceBase, UnknownStudyError
from hlhbayes.evidence.issues import EvidenceError, Issue
from hlhbayes.evidence.load import default_data_dir, load_evidence

__all__ = [
    "EvidenceBase",
    "EvidenceError",
    "Issue",
    "UnknownStudyError",
    "default_data_dir",
    "load_evidence",
]
