"""Open a run folder for a report: check it is a run, check its provenance, rebuild its units.

A report never trusts a run blindly (STYLE convention 5): the data hash stamped in
``provenance.json`` must match the evidence base (or the user's CSV) it names, unless the caller
allows a stale run, and then the evidence units rebuilt from the current data must still be the
units the run was fitted to. The folder itself is read through :mod:`hlhbayes.runs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from hlhbayes import runs
from hlhbayes.errors import HlhBayesError
from hlhbayes.evidence import EvidenceBase, load_evidence
from hlhbayes.models import ModelDefinition, get_model
from hlhbayes.models.table import table_hash, units_from_table
from hlhbayes.models.units import Filters, Units, build_units


@dataclass
class CheckedRun:
    """A run folder checked against the current data: everything a report reads."""

    run: runs.Run
    model: ModelDefinition
    units: Units
    base: EvidenceBase | None  # None when the run was fitted to a user's CSV table
    table_path: Path | None  # the user's CSV, when there is one
    current_hash: str
    detail_units: Units | None = None  # the patients and strata of the base behind the units

    @property
    def path(self) -> Path:
        """The run folder."""
        return self.run.path

    @property
    def summary(self) -> dict[str, Any]:
        """``summary.json``."""
        return self.run.summary

    @property
    def probabilities(self) -> list[dict[str, Any]]:
        """``probabilities.json``."""
        return self.run.probabilities

    @property
    def provenance(self) -> dict[str, Any]:
        """``provenance.json``."""
        return self.run.provenance

    @property
    def idata(self) -> xr.DataTree:
        """The DataTree of ``fit.nc``."""
        return self.run.tree()

    @property
    def stale(self) -> bool:
        """The data changed since the fit (only possible with ``allow_stale``)."""
        return self.current_hash != self.provenance["data_hash"]

    @property
    def outcome(self) -> str:
        """``response`` or ``death``."""
        return str(self.provenance["model_spec"]["filters"]["outcome"])

    @property
    def converged(self) -> bool:
        """The verdict of the fit's convergence gate."""
        return bool(self.summary["diagnostics"]["converged"])


def open_run(path: Path, allow_stale: bool = False) -> CheckedRun:
    """Read and check the run folder at ``path``.

    Raises :class:`~hlhbayes.errors.HlhBayesError` (one line) for a folder that is not a run, a run without posterior
    draws, a data source that has gone, and a stale run (unless ``allow_stale``).
    """
    path = Path(path)
    if not path.is_dir():
        raise HlhBayesError(f"{path}: not a run folder (no such folder); fit one with hlhbayes fit")
    missing = runs.missing_files(path)
    if missing == [runs.FIT]:
        raise HlhBayesError(
            f"{path}: no fit.nc (an exact-method run has no posterior draws); "
            "a report needs an MCMC fit: refit without --method exact"
        )
    if missing:
        raise HlhBayesError(f"{path}: not a run folder (missing {', '.join(missing)})")
    run = runs.read_run(path)
    try:
        spec = run.provenance["model_spec"]
        model = get_model(spec["model"])
        stamped = run.provenance["data_hash"]
        source = Path(run.provenance["data_source"])
        filters = Filters.from_dict(spec["filters"])
    except (KeyError, TypeError) as exc:
        raise HlhBayesError(f"{path}: not a run folder (provenance.json lacks {exc})") from None

    base: EvidenceBase | None = None
    table_path: Path | None = None
    if not source.exists():
        raise HlhBayesError(
            f"{path}: its data source {source} no longer exists, so its provenance cannot be "
            "checked"
        )
    if source.is_file():
        table_path = source
        current = table_hash(source)
    else:
        base = load_evidence(source)
        current = base.content_hash
    if current != stamped and not allow_stale:
        raise HlhBayesError(
            f"{path}: stale run: its data hash {stamped[:12]} does not match {source} "
            f"({current[:12]}); refit, or pass --allow-stale"
        )
    detail = None
    if table_path is not None:
        units = units_from_table(table_path, **run.table_columns)
    else:
        assert base is not None
        units = model.units(base, filters)
        detail = build_units(base, filters)
    _check_units(path, units, run.tree(), run.provenance)
    return CheckedRun(run, model, units, base, table_path, current, detail)


def _check_units(path: Path, units: Units, idata: xr.DataTree, provenance: dict) -> None:
    """The rebuilt units must be the fitted ones (ids, observed counts, totals)."""
    observed = idata["observed_data"].to_dataset()
    problems = []
    for name, ids, values in (
        ("y_patient", units.pat_ids, units.pat_y),
        ("y_stratum", units.agg_ids, units.agg_events),
    ):
        if name not in observed:
            if len(ids):
                problems.append(f"{name} missing from fit.nc")
            continue
        da = observed[name]
        fitted_ids = [str(v) for v in da[da.dims[0]].values]
        if fitted_ids != list(ids) or not np.array_equal(da.values, values):
            problems.append(f"{name} differs")
    recorded = provenance.get("units") or {}
    described = units.describe()
    for key in ("studies", "patients", "strata", "events", "total"):
        if key in recorded and recorded[key] != described[key]:
            problems.append(f"{key} {recorded[key]} then, {described[key]} now")
    if problems:
        raise HlhBayesError(
            f"{path}: the evidence units rebuilt from the current data are not the ones fitted "
            f"({'; '.join(problems)}); refit"
        )
