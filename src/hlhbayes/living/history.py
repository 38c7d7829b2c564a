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
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hlhbayes.evidence.add import write_atomically
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
    out = Path(out)
    if out.exists() and not force:
        raise ValueError(f"{out}: exists; use --force to replace it (or choose another --out)")
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: exists and is not a folder")


@dataclass
class Staged:
    """A folder built in a hidden staging place, waiting to be moved to ``target``."""

    target: Path
    staging_root: Path
    created_dirs: list[Path] = field(default_factory=list)

    @property
    def folder(self) -> Path:
        """Where the content is being built."""
        return self.staging_root / self.target.name


def stage(target: Path, fill: Callable[[Path], None]) -> Staged:
    """Build the folder ``target`` in a hidden staging folder beside it.

    ``fill(folder)`` writes the content (``folder`` does not exist yet: create it, or let
    :func:`hlhbayes.runs.write_run` do so). Nothing is visible at ``target`` until
    :func:`commit`.
    """
    target = Path(target)
    created = [p for p in [target.parent, *target.parent.parents] if not p.exists()]
    target.parent.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix=f".{target.name}.staging.", dir=target.parent))
    staged = Staged(target, root, created)
    try:
        fill(staged.folder)
    except BaseException:
        discard([staged], failed=True)
        raise
    return staged


def discard(staged: list[Staged], failed: bool = False) -> None:
    """Remove staging folders; after a failure also the (empty) folders made for them."""
    for s in staged:
        shutil.rmtree(s.staging_root, ignore_errors=True)
    if failed:
        for s in reversed(staged):  # later stagings may sit in folders made by earlier ones
            for folder in s.created_dirs:  # deepest first
                try:
                    folder.rmdir()
                except OSError:
                    break  # not empty (another staged folder, or content): keep it


def commit(staged: list[Staged], pointers: dict[Path, bytes] | None = None, force: bool = False):
    """Move every staged folder into place, then write ``pointers`` (all or nothing).

    An existing target is replaced only with ``force`` (it is checked again here, since time
    has passed since the first check); after a failure part-way, the folders already moved are
    moved back (or removed) and the pointers are left as they were.
    """
    moved: list[tuple[Staged, Path | None]] = []
    try:
        for s in staged:
            check_new_folder(s.target, force)
        for s in staged:
            old = None
            if s.target.exists():
                old = s.staging_root / f"{s.target.name}.old"
                s.target.rename(old)
            s.folder.rename(s.target)
            moved.append((s, old))
        if pointers:
            write_atomically(pointers)
    except BaseException:
        for s, old in reversed(moved):
            shutil.rmtree(s.target, ignore_errors=True)
            if old is not None:
                old.rename(s.target)
        discard(staged, failed=True)
        raise
    discard(staged)


def write_json(path: Path, payload: Any) -> None:
    """JSON with two-space indentation and a final newline (no NaN: ``None`` instead)."""
    path.write_text(
        json.dumps(_no_nan(payload), indent=2, allow_nan=False, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )


def _no_nan(value: Any) -> Any:
    if isinstance(value, float) and value != value:  # NaN
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_no_nan(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        return _no_nan(value.item())
    return value
