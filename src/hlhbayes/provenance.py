"""What produced a result: data hash, spec and priors, sampler settings, versions, command, cells."""

from __future__ import annotations

import functools
import platform
import sys
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

PACKAGES = ("hlhbayes", "pymc", "pytensor", "arviz", "numpy", "scipy", "pandas", "xarray", "nutpie")


@functools.cache
def installed_version(name: str) -> str | None:
    """The installed version of package ``name`` (None when not installed).

    Read once per process: every fit of a multi-fit command records versions, and every
    program's cache key holds them.
    """
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages that shape a result (None when not installed)."""
    return {"python": platform.python_version()} | {n: installed_version(n) for n in PACKAGES}


def provenance(
    *,
    data_hash: str,
    data_source: str,
    spec: dict[str, Any],
    seed: int,
    method: str,
    units: dict[str, Any],
    excluded: dict[str, str],
    command: list[str] | None = None,
    cells: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """The provenance record stamped into every run directory.

    ``cells``: the etiologies and lines the fit was asked for (``{"etiologies": [...],
    "lines": [...]}``; empty lists: all), so that a report shows the same cells.
    """
    record = {
        "data_hash": data_hash,
        "data_source": data_source,
        "model_spec": spec,
        "seed": seed,
        "method": method,
        "units": units,
        "excluded_studies": excluded,
        "packages": package_versions(),
        "command": command if command is not None else [*sys.argv],
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if cells is not None:
        record["cells"] = cells
    return record
