"""Shared fixtures: the shipped evidence base and a scratch copy of it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hlhbayes.evidence import EvidenceBase, load_evidence

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"


@pytest.fixture(scope="session")
def shipped() -> EvidenceBase:
    return load_evidence(DATA)


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped evidence base."""
    target = tmp_path / "data"
    shutil.copytree(DATA, target)
    return target


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under root with its bytes (to prove a failed write changed nothing)."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def file_counts(root: Path) -> tuple[int, int, int]:
    """Studies, strata and patient rows of a base, counted from its files without the loader.

    Tests that print or check the size of the base compare with this, so adding a study to
    ``data/`` does not mean editing numbers in tests.
    """
    import csv

    import yaml

    studies = sorted((root / "studies").glob("*.yaml"))
    strata = sum(
        len(yaml.safe_load(p.read_text(encoding="utf-8")).get("strata") or []) for p in studies
    )
    patients = 0
    for p in (root / "patients").glob("*.csv"):
        with p.open(encoding="utf-8", newline="") as handle:
            patients += sum(1 for _ in csv.DictReader(handle))
    return len(studies), strata, patients
