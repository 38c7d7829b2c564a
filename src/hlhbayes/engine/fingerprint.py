"""What a compiled program depends on besides the model's structure: code and package versions.

The map from a seed to the numbers of a fit depends on the code that built the program (the
model-building source, this engine's source) and on the versions of the packages that traced
and compiled it; all of them go into the cache key. Versions are read from the installed
packages' metadata, so the warm path imports none of them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from types import ModuleType

from hlhbayes.provenance import installed_version

KEYED_PACKAGES = ("hlhbayes", "jax", "jaxlib", "numpyro", "pymc", "pytensor")
"""Packages whose versions enter every cache key: the tracer, the compiler, the sampler, PyMC."""


@cache
def package_versions() -> dict[str, str]:
    """Installed version of every package in :data:`KEYED_PACKAGES`."""
    return {name: installed_version(name) or "not installed" for name in KEYED_PACKAGES}


def source_fingerprint(sources: Iterable[ModuleType | str | Path]) -> str:
    """SHA-256 over the bytes of the given modules' source files (or of files and folders).

    A folder counts with every ``*.py`` file below it, in sorted order; the hash covers each
    file's path relative to its folder and its content, so renaming or editing any of them
    changes the fingerprint.
    """
    digest = hashlib.sha256()
    for source in sources:
        for label, path in _source_files(source):
            digest.update(label.encode())
            digest.update(b"\0")
            digest.update(path.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()


def _source_files(source: ModuleType | str | Path) -> list[tuple[str, Path]]:
    if isinstance(source, ModuleType):
        if source.__file__ is None:
            raise ValueError(f"module {source.__name__} has no source file to fingerprint")
        path = Path(source.__file__)
        if path.name == "__init__.py":
            path = path.parent
        else:
            return [(source.__name__, path)]
    else:
        path = Path(source)
    if path.is_dir():
        return [(str(p.relative_to(path)), p) for p in sorted(path.rglob("*.py"))]
    if path.is_file():
        return [(path.name, path)]
    raise ValueError(f"{path}: no such source file or folder")


@cache
def engine_fingerprint() -> str:
    """Fingerprint of this engine's own source (every module of ``hlhbayes.engine``)."""
    return source_fingerprint([Path(__file__).parent])
