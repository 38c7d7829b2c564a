"""Commands take turns at a place: one lock per place, held from the first check to the last write.

A place is the evidence base (``data/``), or one output folder (``runs/<model>-<outcome>``, an
``--out`` folder, ``reports/<name>``). Its :class:`Guard` names

- the lock file: ``data/.hlhbayes.lock`` inside the evidence base, ``.<name>.lock`` beside an
  output folder (which is swapped whole, so it cannot hold its own lock);
- the journal of a change that a killed process left unfinished (:mod:`hlhbayes.journal`):
  ``.hlhbayes.journal`` and ``.<name>.journal``;
- the folders where its leftovers lie: the temporary files and staging folders a killed
  process left (hidden names ending in ``.hlhbayes``).

:func:`hold` takes the lock, exclusively: ``fcntl.flock`` on the lock file. If another process
holds it, the command says once on stderr that it is waiting for it (``waiting for another
hlhbayes command using data/ (pid N: ...) ...``) and waits up to :func:`set_patience` seconds (an
hour by default; ``--no-wait``: not at all), then refuses with one line (:class:`Busy`). A
command that only reads (``hold(..., reading=True)``: loading the evidence base) and finds the
lock held by another reader waits for it without a word, whatever its patience, for up to
:data:`READER_GRACE` seconds: a read takes a moment, and two commands reading one base at once
should neither announce nor refuse each other. Once the lock is held, a journal left behind is
undone first; then :meth:`Held.tidy` removes the leftovers that are older than the lock (no
live process can own them: every writer holds the lock while its temporary names exist).

Why ``flock`` on a file that is removed again: the system drops the lock of a process that
dies, even by ``kill -9``, so there is no stale lock to clear by hand. The holder writes its pid,
command and start time into the file for the message of a waiting command, and unlinks the file
while it still holds it; a process that locked a file no longer at the path tries again, so
two processes never both hold the lock. Written by hand rather than with the ``filelock``
package: that opens the lock file with ``O_TRUNC`` before locking, which would erase the
holder's pid that the waiting message shows.

A lock is held per thread and re-entrant: a function that holds a place may call one that
takes the same lock. Locks on a network file system without ``flock`` support (and on systems
without ``fcntl``) are not available: commands then go on without them, after a warning.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from hlhbayes import journal
from hlhbayes.errors import HlhBayesError

try:
    import fcntl
except ImportError:  # not a POSIX system: no locks
    fcntl = None  # type: ignore[assignment]

LOG = logging.getLogger("hlhbayes")
DEFAULT_PATIENCE = 3600.0
"""Seconds a command waits for a place another command uses, by default (an hour)."""

_settings = {"patience": DEFAULT_PATIENCE}
_local = threading.local()


class Busy(HlhBayesError):
    """Another command holds the place, and this one is not to wait (longer) for it."""


def set_patience(seconds: float) -> None:
    """How long a command waits for a place another command uses (0: it refuses at once)."""
    _settings["patience"] = max(0.0, float(seconds))


@dataclass(frozen=True)
class Guard:
    """The lock file, journal and leftover places of one place (see the module docstring)."""

    lock: Path
    journal: Path
    what: str
    places: tuple[tuple[Path, frozenset[str] | None], ...] = ()

    @classmethod
    def inside(cls, folder: Path, subfolders: tuple[str, ...] = ()) -> Guard:
        """The guard of a folder that stays in place (the evidence base): files inside it."""
        folder = Path(folder)
        places = ((folder, frozenset({"hlhbayes.journal"})),)
        places += tuple((folder / sub, None) for sub in subfolders)
        return cls(folder / ".hlhbayes.lock", folder / ".hlhbayes.journal", f"{folder}/", places)

    @classmethod
    def beside(cls, target: Path, *more: Path) -> Guard:
        """The guard of a folder that is swapped whole: files beside it (and leftovers in ``more``)."""
        target = Path(target)
        name = target.name
        places = ((target.parent, frozenset({name, f"{name}.journal"})),)
        places += tuple((Path(folder), None) for folder in more)
        return cls(
            target.parent / f".{name}.lock", target.parent / f".{name}.journal", str(target), places
        )


def leftovers(guard: Guard) -> list[Path]:
    """The temporary files and staging folders in the places of ``guard`` (hidden, ``.hlhbayes``)."""
    found: list[Path] = []
    for folder, targets in guard.places:
        found += journal.leftovers(folder, targets)
    return found


@dataclass
class Held:
    """A guard whose lock this thread holds (``locked`` False: locks are not available here)."""

    guard: Guard
    acquired: float
    locked: bool
    depth: int = 1
    created: list[Path] = field(default_factory=list)

    def leftovers(self) -> list[Path]:
        """Temporary files and staging folders of this place that a killed command left."""
        return leftovers(self.guard)

    def tidy(self) -> list[Path]:
        """Remove the leftovers older than the lock (with the lock held: they are stale)."""
        if not self.locked:
            return []
        removed = []
        for path in self.leftovers():
            try:
                if path.lstat().st_mtime >= self.acquired:
                    continue
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
            except FileNotFoundError:
                continue
            removed.append(path)
        return removed


def _held() -> dict[str, Held]:
    if not hasattr(_local, "held"):
        _local.held = {}
    return _local.held


@contextmanager
def hold(guard: Guard, *, tidy: bool = False, reading: bool = False) -> Iterator[Held]:
    """Hold the lock of ``guard`` for the block (see the module docstring).

    ``tidy``: remove the place's stale leftovers first (a command about to write there).
    ``reading``: a command that only reads: where the lock file cannot be made (a read-only
    folder, a folder that is not there), it goes on without the lock, unless a change was left
    unfinished there.
    """
    key = os.path.join(os.path.realpath(guard.lock.parent), guard.lock.name)
    held = _held().get(key)
    if held is not None:
        held.depth += 1
        try:
            if tidy:
                held.tidy()
            yield held
        finally:
            held.depth -= 1
        return
    created = [] if reading else _make_folders(guard.lock.parent)
    try:
        fd = _acquire(guard, reading)
    except BaseException:
        _remove_empty(created)
        raise
    # the file system's clock, which dates the leftovers (it can lag time.time() by a tick)
    acquired = os.fstat(fd).st_mtime if fd is not None else time.time()
    held = Held(guard, acquired, fd is not None, created=created)
    _held()[key] = held
    try:
        if not reading:
            journal.checkpoint("locked")
        if guard.journal.exists():
            if fd is None:
                raise HlhBayesError(
                    f"{guard.journal}: a change was interrupted here and must be undone, which "
                    f"needs write access to {guard.journal.parent}"
                )
            note = journal.recover(guard.journal)
            if note:
                LOG.warning(f"note: {guard.what}: {note}")
        if tidy:
            held.tidy()
        yield held
    finally:
        del _held()[key]
        if fd is not None:
            _release(guard, fd)
        _remove_empty(created)


def _remove_empty(created: list[Path]) -> None:
    """Remove the folders made for the lock alone (deepest first) if nothing else went there."""
    for folder in reversed(created):
        try:
            folder.rmdir()
        except OSError:
            break


def _make_folders(folder: Path) -> list[Path]:
    missing = [p for p in [folder, *folder.parents] if not p.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HlhBayesError(f"cannot write in {folder}: {exc.strerror or exc}") from None
    return list(reversed(missing))  # outermost first


READER_GRACE = 2.0
"""Seconds a reader waits, silently, for a holder that only reads (or has not yet written who it
is): reading the evidence base takes well under this."""


def _acquire(guard: Guard, reading: bool) -> int | None:
    """The locked file descriptor of ``guard.lock``; ``None`` when there can be no lock."""
    if fcntl is None:
        return None
    patience = _settings["patience"]
    start = time.monotonic()
    deadline = start + patience
    announced = False
    delay = 0.05
    while True:
        try:
            fd = os.open(guard.lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except OSError as exc:
            if reading:
                return None
            raise HlhBayesError(f"cannot lock {guard.what}: {guard.lock}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            record = _holder_record(fd)
            os.close(fd)
            another_reader = record.get("reading", not record)  # an empty file: not yet said
            if reading and another_reader and time.monotonic() < start + READER_GRACE:
                time.sleep(0.01)
                continue
            holder = _holder(record)
            if time.monotonic() >= deadline:
                raise Busy(_refusal(guard, holder, patience)) from None
            if not announced:
                LOG.warning(
                    f"waiting for another hlhbayes command using {guard.what} ({holder}) ..."
                )
                announced = True
            time.sleep(max(0.0, min(delay, deadline - time.monotonic())))
            delay = min(delay * 2, 0.5)
            continue
        except OSError as exc:  # a file system without flock
            os.close(fd)
            if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
                raise
            LOG.warning(
                f"warning: cannot lock {guard.what} ({exc.strerror}): commands that use it at "
                "the same time are not kept apart"
            )
            return None
        if _same_file(fd, guard.lock):
            _write_holder(fd, reading)
            return fd
        os.close(fd)  # the holder before us removed it: lock the file now at the path


def _same_file(fd: int, path: Path) -> bool:
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (mine.st_dev, mine.st_ino) == (on_disk.st_dev, on_disk.st_ino)


def _write_holder(fd: int, reading: bool) -> None:
    record = {
        "pid": os.getpid(),
        "command": journal.this_command(),
        "since": datetime.now().astimezone().strftime("%H:%M:%S"),
    }
    if reading:
        record["reading"] = True
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(record) + "\n").encode("utf-8"), 0)
    except OSError:
        pass  # the lock holds without it; only the waiting message is poorer


def _holder_record(fd: int) -> dict:
    """What the holder wrote into the lock file (empty if nothing, or nothing readable)."""
    try:
        record = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _holder(record: dict) -> str:
    """Who holds the lock, from what it wrote into the lock file."""
    try:
        return f"pid {int(record['pid'])}: {record['command']}, since {record['since']}"
    except (ValueError, KeyError, TypeError):
        return "pid unknown"


def _refusal(guard: Guard, holder: str, patience: float) -> str:
    if patience <= 0:
        return (
            f"{guard.what} is in use by another hlhbayes command ({holder}); try again when it "
            "has finished (without --no-wait, a command waits for it)"
        )
    waited = f"{patience / 60:g} min" if patience >= 60 else f"{patience:g} s"
    return (
        f"{guard.what} is still in use by another hlhbayes command ({holder}) after waiting "
        f"{waited}; try again when it has finished (--wait SECONDS to wait longer)"
    )


def _release(guard: Guard, fd: int) -> None:
    try:
        if _same_file(fd, guard.lock):
            guard.lock.unlink()
    except OSError:
        pass  # a read-only folder: the file stays, and the next holder takes it over
    finally:
        os.close(fd)
