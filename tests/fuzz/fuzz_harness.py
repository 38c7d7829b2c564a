"""What every fuzz test needs: a small evidence base, and fingerprints of folders."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

SHIPPED = Path(__file__).resolve().parents[2] / "src" / "hlhbayes" / "shipped" / "data"
# A small base is enough (and fast): the study whose DOI and PMID the duplicate cases reuse,
# with its patient table, and two aggregate-only studies.
BASE_STUDIES = ("Baverez2022", "Kumar2017", "Imperial2020")


def small_base(root: Path) -> Path:
    """A copy of three shipped studies (and Baverez2022's patients) as ``root/data``."""
    base = root / "data"
    (base / "studies").mkdir(parents=True)
    (base / "patients").mkdir()
    for sid in BASE_STUDIES:
        shutil.copy2(SHIPPED / "studies" / f"{sid}.yaml", base / "studies")
    shutil.copy2(SHIPPED / "patients" / "Baverez2022.csv", base / "patients")
    return base


def tree_hash(root: Path) -> str:
    """Names, modes and contents of everything under ``root``, hidden files included."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        digest.update(f"{path.relative_to(root)}\0{info.st_mode:o}\0".encode())
        if path.is_file() and not path.is_symlink():
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def listing(root: Path) -> list[str]:
    """Every path under ``root`` (hidden ones included), relative, sorted."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))
