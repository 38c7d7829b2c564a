"""Run folders: written whole or not at all, and read back for reports and comparisons.

A run folder holds ``fit.nc`` (the DataTree: posterior, prior, predictive, log-likelihood),
``summary.json`` (the contract of DESIGN section 4), ``summary.csv``, ``probabilities.json``
(P(rate > threshold)) and ``provenance.json``.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from hlhbayes.atomic import write_folder, write_json
from hlhbayes.pipeline import FitResult

SUMMARY_COLUMNS = [
    "quantity",
    "etiology",
    "line",
    "mean",
    "sd",
    "q2.5",
    "q50",
    "q97.5",
    "mcse_mean",
    "ess_bulk",
    "r_hat",
]


def default_run_dir(model: str, outcome: str) -> Path:
    """``runs/<model>-<outcome>`` under the current folder."""
    return Path("runs") / f"{model}-{outcome}"


def check_writable(out: Path) -> None:
    """Fail before sampling if ``out`` cannot be written (exists as a file, or no permission)."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out}: exists and is not a folder")
    parent = out.parent if not out.exists() else out
    while not parent.exists():
        parent = parent.parent
    if not _writable(parent):
        raise ValueError(f"--out {out}: {parent} is not writable")


def _writable(folder: Path) -> bool:
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def summary_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """The summary records as a frame with the contract's columns."""
    return pd.DataFrame(records, columns=SUMMARY_COLUMNS)


def write_run(result: FitResult, out: Path, keep_previous: Path | None = None) -> Path:
    """Write the run folder atomically: build it beside ``out``, then swap it into place.

    An earlier run in ``out`` is moved to ``keep_previous`` when given (see
    :func:`hlhbayes.living.history.plan_output`), otherwise replaced. If the swap fails
    part-way the earlier run is put back.
    """
    return write_folder(Path(out), lambda folder: fill_run(result, folder), keep_previous)


def fill_run(result: FitResult, folder: Path) -> None:
    """Write the files of a run folder into the (empty) ``folder``."""
    if result.idata is not None:
        result.idata.to_netcdf(folder / "fit.nc")
    write_json(folder / "summary.json", result.summary_json())
    summary_frame(result.records).to_csv(folder / "summary.csv", index=False)
    write_json(folder / "probabilities.json", result.probabilities)
    write_json(folder / "provenance.json", result.provenance)


def read_summary(run: Path) -> dict[str, Any]:
    """Read ``summary.json`` of a run folder."""
    path = Path(run) / "summary.json"
    if not path.exists():
        raise ValueError(f"{run}: not a run folder (no summary.json)")
    return json.loads(path.read_text(encoding="utf-8"))
