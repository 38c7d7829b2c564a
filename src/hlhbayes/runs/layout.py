"""Where runs live: the folder of each analysis, its history, and which run is the latest.

Layout (under the runs folder: the workspace's ``runs/``, or ``runs/`` in the current folder
outside any workspace; :func:`hlhbayes.workspace.runs_folder`)::

    runs/<model>-<outcome>/                               written by ``hlhbayes fit``
    runs/history/<model>-<outcome>/<stamp>-<hash12>/      one run folder per update (or per fit
                                                          run that a later fit replaced), never
                                                          replaced
    runs/history/<model>-<outcome>/<stamp>-<hash12>-baseline/   ``update --new``: the state
                                                          before the new studies, re-created
    runs/history/<model>-<outcome>/LATEST                 the name of the newest update run
    runs/<kind>-<model>-<outcome>/                        ``cumulative`` and ``sensitivity``

``<stamp>`` is the UTC time of writing (``20261125T103000Z``) and ``<hash12>`` the first 12
characters of the evidence base's content hash. The *latest* run of an analysis is the newer (by
the ``created`` time in ``provenance.json``) of the folder ``LATEST`` names and ``fit``'s folder.

Each output folder is written by one command at a time: :func:`reserve` holds its lock
(:func:`guard`: ``.<name>.lock`` beside it) from before the first check to after the last
write. The lock of ``runs/<model>-<outcome>`` also covers the analysis's history, which
``fit`` (archiving an earlier run) and ``update`` write.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

from hlhbayes.atomic import refuse_existing
from hlhbayes.errors import HlhBayesError
from hlhbayes.runs.folder import SUMMARY, Run, read_run
from hlhbayes.runs.locks import HISTORY
from hlhbayes.workspace import runs_folder

LATEST = "LATEST"


def analysis_name(model: str, outcome: str) -> str:
    """``<model>-<outcome>``: the folder name of an analysis."""
    return f"{model}-{outcome}"


def default_run_dir(model: str, outcome: str, runs: Path | None = None) -> Path:
    """``runs/<model>-<outcome>``: where ``fit`` writes (in the runs folder by default)."""
    return Path(runs if runs is not None else runs_folder()) / analysis_name(model, outcome)


def history_dir(runs: Path, model: str, outcome: str) -> Path:
    """``runs/history/<model>-<outcome>``."""
    return Path(runs) / HISTORY / analysis_name(model, outcome)


def analysis_dir_of(path: Path) -> Path:
    """The folder ``runs/<model>-<outcome>`` of a path in its history (a run, ``LATEST``)."""
    history = Path(path).parent
    return history.parent.parent / history.name


def run_name(data_hash: str, when: datetime | None = None) -> str:
    """``<stamp>-<hash12>`` for a new history folder."""
    when = when or datetime.now(UTC)
    return f"{when.strftime('%Y%m%dT%H%M%SZ')}-{data_hash[:12]}"


def new_history_run(runs: Path, model: str, outcome: str, data_hash: str) -> Path:
    """The folder for a new run of an analysis in its history (named now)."""
    return history_dir(runs, model, outcome) / run_name(data_hash)


def baseline_dir(run: Path) -> Path:
    """Where the re-created previous state of a history run goes: ``<run>-baseline``."""
    return run.with_name(f"{run.name}-baseline")


def latest_pointer(run: Path) -> dict[Path, bytes]:
    """The ``LATEST`` file that names the history run ``run`` as the newest (path -> bytes)."""
    return {run.parent / LATEST: f"{run.name}\n".encode()}


def latest_run(runs: Path, model: str, outcome: str) -> Run | None:
    """The latest run of an analysis (see the module docstring), or ``None``."""
    candidates = []
    pointer = history_dir(runs, model, outcome) / LATEST
    if pointer.is_file():
        target = pointer.parent / pointer.read_text(encoding="utf-8").strip()
        candidates.append(read_run(target))
    fitted = default_run_dir(model, outcome, runs)
    if (fitted / SUMMARY).is_file():
        candidates.append(read_run(fitted))
    candidates = [c for c in candidates if c.model == model]
    if not candidates:
        return None
    # max() keeps the first of equal times: the update's own run wins a tie
    return max(candidates, key=lambda c: c.created)


def check_writable(out: Path) -> None:
    """Fail before sampling if ``out`` cannot be written (exists as a file, or no permission)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise HlhBayesError(f"--out {out}: exists and is not a folder")
    parent = out.parent if not out.exists() else out
    while not parent.exists():
        parent = parent.parent
    if not _writable(parent):
        raise HlhBayesError(f"--out {out}: {parent} is not writable")


def _writable(folder: Path) -> bool:
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def plan_output(out: Path | None, default: Path, force: bool) -> tuple[Path, Path | None]:
    """Where a fit writes, and where the earlier run it replaces is kept.

    Runs are never lost silently:

    * no ``--out`` (the default folder ``runs/<model>-<outcome>``): an earlier run there is
      moved to ``runs/history/<model>-<outcome>/<stamp>-<hash12>/`` (its own creation time and
      data hash) when the new run is written; the returned archive path says where;
    * an explicit ``--out`` that exists and is not empty is refused unless ``force``
      (then it is replaced).

    Raises :class:`~hlhbayes.errors.HlhBayesError` (before anything is sampled) when the folder is refused or
    cannot be written.
    """
    target = Path(out) if out is not None else Path(default)
    check_writable(target)
    occupied = target.is_dir() and any(target.iterdir())
    if not occupied:
        return target, None
    if out is None and (target / SUMMARY).is_file():
        return target, _archive_path(target)
    if not force:
        where = f"--out {target}" if out is not None else f"{target} (not a run folder)"
        raise HlhBayesError(
            f"{where}: exists and is not empty; use --force to replace it (or choose another --out)"
        )
    return target, None


def _archive_path(run: Path) -> Path:
    """A free ``history/<analysis>/<stamp>-<hash12>`` folder name for the run in ``run``."""
    try:
        info = read_run(run)
        created = datetime.fromisoformat(info.created) if info.created else None
        data_hash = info.data_hash or "unknown"
    except HlhBayesError:
        created, data_hash = None, "unknown"
    folder = run.parent / HISTORY / run.name
    name = run_name(data_hash, created or datetime.now(UTC))
    candidate, n = folder / name, 2
    while candidate.exists():
        candidate, n = folder / f"{name}-{n}", n + 1
    return candidate


def output_path(kind: str, model: str, outcome: str, out: Path | None) -> Path:
    """The folder of a ``cumulative`` or ``sensitivity`` run: ``out``, or the default."""
    return (
        Path(out) if out is not None else runs_folder() / f"{kind}-{analysis_name(model, outcome)}"
    )


def output_dir(kind: str, model: str, outcome: str, out: Path | None, force: bool) -> Path:
    """The folder of a ``cumulative`` or ``sensitivity`` run, checked before any sampling.

    ``out``, or ``runs/<kind>-<model>-<outcome>``; an existing folder is refused unless
    ``force``.
    """
    target = output_path(kind, model, outcome, out)
    refuse_existing(target, force)
    check_writable(target)
    return target
