"""Where the runs of ``hlhbayes update`` live, and which run is the latest of an analysis.

Layout (under the runs folder, ``runs/`` by default)::

    runs/<model>-<outcome>/                               written by ``hlhbayes fit``
    runs/history/<model>-<outcome>/<stamp>-<hash12>/      one run folder per update (or per fit
                                                          run that a later fit replaced), never
                                                          replaced
    runs/history/<model>-<outcome>/LATEST                 the name of the newest of those folders

``<stamp>`` is the UTC time of writing (``20261125T103000Z``) and ``<hash12>`` the first 12
characters of the evidence base's content hash. The *latest* run of an analysis is the newer (by
the ``created`` time in ``provenance.json``) of the folder ``LATEST`` names and ``fit``'s folder.

Folders are written whole or not at all: each is built in a hidden staging folder beside its
destination and renamed into place only when every folder of the update is ready, so a failed or
refused update leaves every existing file byte-identical.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hlhbayes.atomic import refuse_existing
from hlhbayes.runs import check_writable

HISTORY = "history"
LATEST = "LATEST"


@dataclass(frozen=True)
class RunInfo:
    """A run folder read back: its ``summary.json`` and ``provenance.json``."""

    path: Path
    summary: dict[str, Any]
    provenance: dict[str, Any]

    @property
    def created(self) -> str:
        """ISO time the run was written (empty when unknown)."""
        return str(self.provenance.get("created") or "")

    @property
    def data_hash(self) -> str:
        """Content hash of the evidence base the run was fitted on."""
        return str(self.summary.get("data_hash") or self.provenance.get("data_hash") or "")

    @property
    def converged(self) -> bool | None:
        """The convergence gate's verdict."""
        return (self.summary.get("diagnostics") or {}).get("converged")

    @property
    def spec(self) -> dict[str, Any]:
        """The model spec the run used (priors, options, filters, sampler)."""
        return dict(self.provenance.get("model_spec") or {})


def read_run(path: Path) -> RunInfo:
    """Read a run folder; ``ValueError`` when it is not one."""
    path = Path(path)
    summary_path = path / "summary.json"
    if not summary_path.is_file():
        raise ValueError(f"{path}: not a run folder (no summary.json)")
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        prov_path = path / "provenance.json"
        provenance = (
            json.loads(prov_path.read_text(encoding="utf-8")) if prov_path.is_file() else {}
        )
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: unreadable run folder: {exc}") from None
    for key in ("model", "outcome", "summary"):
        if key not in summary:
            raise ValueError(f"{summary_path}: no {key!r}: not a summary.json of hlhbayes")
    return RunInfo(path, summary, provenance)


def analysis_name(model: str, outcome: str) -> str:
    """``<model>-<outcome>``: the folder name of an analysis."""
    return f"{model}-{outcome}"


def history_dir(runs: Path, model: str, outcome: str) -> Path:
    """``runs/history/<model>-<outcome>``."""
    return Path(runs) / HISTORY / analysis_name(model, outcome)


def latest_run(runs: Path, model: str, outcome: str) -> RunInfo | None:
    """The latest run of an analysis (see the module docstring), or ``None``."""
    candidates = []
    pointer = history_dir(runs, model, outcome) / LATEST
    if pointer.is_file():
        target = pointer.parent / pointer.read_text(encoding="utf-8").strip()
        candidates.append(read_run(target))
    fitted = Path(runs) / analysis_name(model, outcome)
    if (fitted / "summary.json").is_file():
        candidates.append(read_run(fitted))
    candidates = [c for c in candidates if c.summary["model"] == model]
    if not candidates:
        return None
    # max() keeps the first of equal times: the update's own run wins a tie
    return max(candidates, key=lambda c: c.created)


def run_name(data_hash: str, when: datetime | None = None) -> str:
    """``<stamp>-<hash12>`` for a new history folder."""
    when = when or datetime.now(UTC)
    return f"{when.strftime('%Y%m%dT%H%M%SZ')}-{data_hash[:12]}"


def plan_output(out: Path | None, default: Path, force: bool) -> tuple[Path, Path | None]:
    """Where a fit writes, and where the earlier run it replaces is kept.

    Runs are never lost silently:

    * no ``--out`` (the default folder ``runs/<model>-<outcome>``): an earlier run there is
      moved to ``runs/history/<model>-<outcome>/<stamp>-<hash12>/`` (its own creation time and
      data hash) when the new run is written; the returned archive path says where;
    * an explicit ``--out`` that exists and is not empty is refused unless ``force``
      (then it is replaced).

    Raises ``ValueError`` (before anything is sampled) when the folder is refused or cannot be
    written.
    """
    target = Path(out) if out is not None else Path(default)
    check_writable(target)
    occupied = target.is_dir() and any(target.iterdir())
    if not occupied:
        return target, None
    if out is None and (target / "summary.json").is_file():
        return target, _archive_path(target)
    if not force:
        where = f"--out {target}" if out is not None else f"{target} (not a run folder)"
        raise ValueError(
            f"{where}: exists and is not empty; use --force to replace it (or choose another --out)"
        )
    return target, None


def _archive_path(run: Path) -> Path:
    """A free ``history/<analysis>/<stamp>-<hash12>`` folder name for the run in ``run``."""
    try:
        info = read_run(run)
        created = datetime.fromisoformat(info.created) if info.created else None
        data_hash = info.data_hash or "unknown"
    except ValueError:
        created, data_hash = None, "unknown"
    folder = run.parent / HISTORY / run.name
    name = run_name(data_hash, created or datetime.now(UTC))
    candidate, n = folder / name, 2
    while candidate.exists():
        candidate, n = folder / f"{name}-{n}", n + 1
    return candidate


def check_new_folder(out: Path, force: bool) -> None:
    """Refuse to replace an existing output folder unless ``force``."""
    refuse_existing(out, force)
