"""Open a run folder for a report: check it is a run, check its provenance, rebuild its units.

A report never trusts a run blindly (STYLE convention 5): the data hash stamped in
``provenance.json`` must match the evidence base (or the user's CSV) it names, unless the caller
allows a stale run, and then the evidence units rebuilt from the current data must still be the
units the run was fitted to.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from hlhbayes.evidence import EvidenceBase, load_evidence
from hlhbayes.evidence.schema import TIMEFRAMES
from hlhbayes.models import get_model
from hlhbayes.models.table import units_by_study, units_from_table
from hlhbayes.models.units import Filters, Units, build_units

RUN_FILES = ("provenance.json", "summary.json", "fit.nc")
TABLE_COLUMN_OPTIONS = {
    "--study-col": "study_col",
    "--events-col": "events_col",
    "--total-col": "total_col",
}


@dataclass
class Run:
    """Everything a report reads from a run folder, checked against the current data."""

    path: Path
    summary: dict[str, Any]
    probabilities: list[dict[str, Any]]
    provenance: dict[str, Any]
    idata: xr.DataTree
    module: ModuleType
    units: Units
    base: EvidenceBase | None  # None when the run was fitted to a user's CSV table
    table_path: Path | None  # the user's CSV, when there is one
    current_hash: str
    detail_units: Units | None = None  # patients and strata behind one-count-per-study units

    @property
    def stale(self) -> bool:
        """The data changed since the fit (only possible with ``allow_stale``)."""
        return self.current_hash != self.provenance["data_hash"]

    @property
    def model(self) -> str:
        """The model name."""
        return str(self.provenance["model_spec"]["model"])

    @property
    def outcome(self) -> str:
        """``response`` or ``death``."""
        return str(self.provenance["model_spec"]["filters"]["outcome"])

    @property
    def converged(self) -> bool:
        """The verdict of the fit's convergence gate."""
        return bool(self.summary["diagnostics"]["converged"])


def command_values(command: list[str] | None, option: str) -> list[str]:
    """Every value given to ``option`` in a recorded command (``--x V`` and ``--x=V``)."""
    values: list[str] = []
    words = list(command or [])
    for i, word in enumerate(words):
        if word == option and i + 1 < len(words):
            values.append(words[i + 1])
        elif word.startswith(option + "="):
            values.append(word.split("=", 1)[1])
    return values


def open_run(path: Path, allow_stale: bool = False) -> Run:
    """Read and check the run folder at ``path``.

    Raises ``ValueError`` (one line) for a folder that is not a run, a run without posterior
    draws, a data source that has gone, and a stale run (unless ``allow_stale``).
    """
    path = Path(path)
    if not path.is_dir():
        raise ValueError(f"{path}: not a run folder (no such folder); fit one with hlhbayes fit")
    missing = [f for f in RUN_FILES if not (path / f).is_file()]
    if missing == ["fit.nc"]:
        raise ValueError(
            f"{path}: no fit.nc (an exact-method run has no posterior draws); "
            "a report needs an MCMC fit: refit without --method exact"
        )
    if missing:
        raise ValueError(f"{path}: not a run folder (missing {', '.join(missing)})")
    try:
        provenance = _read_json(path / "provenance.json")
        summary = _read_json(path / "summary.json")
        probabilities = (
            _read_json(path / "probabilities.json")
            if (path / "probabilities.json").is_file()
            else []
        )
        spec = provenance["model_spec"]
        module = get_model(spec["model"])
        stamped = provenance["data_hash"]
        source = Path(provenance["data_source"])
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a run folder (provenance.json lacks {exc})") from None

    base: EvidenceBase | None = None
    table_path: Path | None = None
    if not source.exists():
        raise ValueError(
            f"{path}: its data source {source} no longer exists, so its provenance cannot be "
            "checked"
        )
    if source.is_file():
        table_path = source
        current = hashlib.sha256(source.read_bytes()).hexdigest()
    else:
        base = load_evidence(source)
        current = base.content_hash
    if current != stamped and not allow_stale:
        raise ValueError(
            f"{path}: stale run: its data hash {stamped[:12]} does not match {source} "
            f"({current[:12]}); refit, or pass --allow-stale"
        )
    units = _rebuild_units(provenance, module, base, table_path)
    idata = _open_fit(path / "fit.nc")
    _check_units(path, units, idata, provenance)
    detail = None
    if base is not None and module.NAME == "random-effects":
        detail = build_units(base, filters_from_spec(provenance["model_spec"]))
    return Run(
        path,
        summary,
        probabilities,
        provenance,
        idata,
        module,
        units,
        base,
        table_path,
        current,
        detail,
    )


def _read_json(file: Path) -> Any:
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{file.parent}: not a run folder ({file.name}: {exc})") from None


def _open_fit(file: Path) -> xr.DataTree:
    try:
        with xr.open_datatree(file) as tree:
            return tree.load()
    except (OSError, ValueError) as exc:
        raise ValueError(f"{file.parent}: cannot read fit.nc: {exc}") from None


def filters_from_spec(spec: dict[str, Any]) -> Filters:
    """The :class:`Filters` recorded in a provenance ``model_spec``."""
    f = spec["filters"]
    # runs recorded before these two filters existed pooled every death timeframe and had no
    # after-anakinra-failure strata left out: rebuild them that way
    return Filters(
        outcome=f["outcome"],
        population=f["population"],
        conditions=tuple(f["conditions"]),
        exclude_studies=tuple(f["exclude_studies"]),
        exclude_derived=bool(f["exclude_derived"]),
        death_timeframes=tuple(f.get("death_timeframes", TIMEFRAMES)),
        include_after_anakinra_failure=bool(f.get("include_after_anakinra_failure", True)),
    )


def _rebuild_units(
    provenance: dict[str, Any],
    module: ModuleType,
    base: EvidenceBase | None,
    table_path: Path | None,
) -> Units:
    if table_path is not None:
        columns = {
            key: (command_values(provenance.get("command"), option) or [None])[-1]
            for option, key in TABLE_COLUMN_OPTIONS.items()
        }
        return units_from_table(table_path, **columns)
    assert base is not None
    filters = filters_from_spec(provenance["model_spec"])
    if module.NAME == "random-effects":
        return units_by_study(base, filters)
    return build_units(base, filters)


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
        raise ValueError(
            f"{path}: the evidence units rebuilt from the current data are not the ones fitted "
            f"({'; '.join(problems)}); refit"
        )


def table_frame(units: Units) -> pd.DataFrame:
    """The study, events, total table of a run fitted to a user's CSV."""
    return pd.DataFrame(
        {"study": list(units.agg_ids), "events": units.agg_events, "total": units.agg_total}
    )
