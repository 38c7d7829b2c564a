"""Changes of several files and folders that happen whole or not at all, even if the process is killed.

A :class:`Change` is a list of moves, each putting new content at a target: a file (its content
written to a temporary file beside the target and flushed to disk) or a folder built in a
staging folder. The old target is set aside: a replaced file as a backup (a hard link, or a
copy, made beforehand), a replaced folder moved away (to a kept archive, or into its staging
folder). :func:`apply` runs one change or several together:

1. every new file is written and every replaced file backed up; nothing is moved yet;
2. each change that has a journal writes it: the list of its moves, as JSON, flushed to disk;
3. the moves run, with Ctrl-C held back for their few milliseconds
   (:func:`hlhbayes.interrupts.deferred`);
4. the journals are removed: from this moment on, the change has happened;
5. the temporary files and backups are removed.

An error in steps 2 to 4 undoes the moves already made and removes the journals. A process killed
in steps 2 to 4 leaves its journal behind: the next command that takes the lock of the place
(:mod:`hlhbayes.locking`) calls :func:`recover`, which undoes every move the journal lists and
removes it, so that the place is as it was before the change (the same design as SQLite's
rollback journal). Undoing looks at what is on disk, move by move, and can itself be
interrupted and run again.

Every name made here is hidden and ends in ``.hlhbayes`` (:func:`leftovers` finds those a kill
left): ``.<name>.new-XXXXXXXX.hlhbayes`` (a new file's content), ``.<name>.old-XXXXXXXX.hlhbayes``
(the backup of a replaced file) and ``.<name>.staging-XXXXXXXX.hlhbayes/`` (a folder being built,
made by :mod:`hlhbayes.atomic`), where ``<name>`` is the target's name without leading dots.

For tests of interruption: with ``HLHBAYES_PAUSE_AT=<step>=<file>`` in the environment, a
process that reaches ``<step>`` (:func:`checkpoint`) creates ``<file>`` and waits until it is
removed; without it, checkpoints do nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from hlhbayes import interrupts
from hlhbayes.errors import HlhBayesError

SUFFIX = ".hlhbayes"
KINDS = ("new", "old", "staging")
_OWN = re.compile(r"^\.(?P<base>.+)\.(?P<kind>new|old|staging)-[a-z0-9_]{8}\.hlhbayes$")
FORMAT = 1
PAUSE_AT = "HLHBAYES_PAUSE_AT"


def own_prefix(name: str, kind: str) -> str:
    """The start of a temporary name of ``kind`` for a target called ``name``."""
    return f".{name.lstrip('.')}.{kind}-"


def own_target(name: str) -> str | None:
    """The name of the target a temporary name of this module was made for (``None``: not one)."""
    found = _OWN.match(name)
    return found["base"] if found else None


def leftovers(folder: Path, targets: frozenset[str] | None = None) -> list[Path]:
    """Temporary files and staging folders in ``folder`` (of the ``targets`` named, or of any)."""
    folder = Path(folder)
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    return [
        folder / name
        for name in names
        if (base := own_target(name)) is not None and (targets is None or base in targets)
    ]


def checkpoint(step: str) -> None:
    """Pause here if ``HLHBAYES_PAUSE_AT`` names ``step`` (see the module docstring)."""
    wanted = os.environ.get(PAUSE_AT)
    if not wanted:
        return
    name, _, flag = wanted.partition("=")
    if name != step or not flag:
        return
    Path(flag).write_text(f"{os.getpid()}\n", encoding="utf-8")
    while os.path.exists(flag):
        time.sleep(0.01)


def this_command() -> str:
    """The command line of this process, shortened, to say who holds a lock or left a journal."""
    words = [Path(sys.argv[0]).name, *sys.argv[1:]] if sys.argv else ["python"]
    text = " ".join(words).replace("\n", " ")
    return text if len(text) <= 160 else text[:157] + "..."


# --------------------------------------------------------------------------------------------
# moves


@dataclass
class _Move:
    """One target given new content; ``old`` is where the previous target is set aside."""

    kind: str  # "file" or "folder"
    target: Path
    new: Path | None = None  # the prepared content (a temporary file, or a staged folder)
    old: Path | None = None  # the backup of a file, or where a folder goes aside
    had_target: bool = False
    keep_old: bool = False  # a folder moved aside to a kept archive (it stays there)
    content: bytes = b""  # a file's content, until it is written

    def record(self, base: Path) -> dict[str, object]:
        def rel(path: Path | None) -> str | None:
            return None if path is None else os.path.relpath(path, base)

        return {
            "kind": self.kind,
            "target": rel(self.target),
            "new": rel(self.new),
            "old": rel(self.old),
            "had_target": self.had_target,
            "keep_old": self.keep_old,
        }

    @classmethod
    def from_record(cls, record: dict[str, object], base: Path) -> _Move:
        def path(key: str) -> Path | None:
            value = record.get(key)
            return None if value is None else base / str(value)

        target = path("target")
        if record.get("kind") not in ("file", "folder") or target is None:
            raise ValueError(f"not a move: {record!r}")
        return cls(
            str(record["kind"]),
            target,
            path("new"),
            path("old"),
            bool(record.get("had_target")),
            bool(record.get("keep_old")),
        )


@dataclass
class Change:
    """Files written and folders put in place together; ``journal``: where the moves are listed.

    Without a journal, an error part-way still puts everything back, but a kill part-way is not
    undone later.
    """

    journal: Path | None = None
    moves: list[_Move] = field(default_factory=list)

    def write(self, target: Path, content: bytes) -> None:
        """Give the file ``target`` the bytes ``content``."""
        self.moves.append(_Move("file", Path(target), content=content))

    def put_folder(self, folder: Path, target: Path, aside: Path, keep_aside: bool) -> None:
        """Move the finished ``folder`` to ``target``; an existing ``target`` goes to ``aside``.

        ``keep_aside``: ``aside`` is an archive that stays; otherwise it is removed by whoever
        removes ``folder``'s staging folder.
        """
        move = _Move("folder", Path(target), Path(folder), Path(aside), keep_old=keep_aside)
        self.moves.append(move)

    def apply(self) -> None:
        """Make the change (see :func:`apply`)."""
        apply([self])


def apply(changes: Sequence[Change]) -> None:
    """Make every change, all of them or (after an error, or a kill and recovery) none.

    An ``OSError`` that names no file (a full disk fails a ``write()``) is given the name of the
    target being written.
    """
    interrupts.check()
    moves = [m for change in changes for m in change.moves]
    # the pause points are those of changes of a place (with a journal), not of the files
    # written into a staging folder on the way
    step = checkpoint if any(c.journal is not None for c in changes) else _no_checkpoint
    journals: list[Path] = []
    done: list[_Move] = []
    committed = False
    target = None
    try:
        for move in moves:
            target = move.target
            _prepare(move)
        step("prepared")
        interrupts.check()
        with interrupts.deferred():
            for change in changes:
                if change.journal is not None and change.moves:
                    _write_journal(change.journal, change.moves)
                    journals.append(change.journal)
            step("journaled")
            for n, move in enumerate(moves, start=1):
                target = move.target
                done.append(move)
                _do(move, n, step)
                step(f"moved-{n}")
            _sync({m.target.parent for m in moves})
            step("moved")
            for journal in journals:
                journal.unlink()
            _sync({j.parent for j in journals})
            committed = True
        step("committed")
    except BaseException as exc:
        if isinstance(exc, OSError) and exc.strerror and not exc.filename and target:
            exc.filename = str(target)
        if not committed:
            try:
                for move in reversed(done):
                    _undo(move)
                for journal in journals:
                    journal.unlink(missing_ok=True)
            except OSError as failed:
                # everything stays as it is (journal, backups, staging) for the next command
                raise UnfinishedChange(
                    f"{target}: {_reason(exc)}; undoing the change failed too ({_reason(failed)}): "
                    "the next hlhbayes command that uses this place undoes it"
                ) from None
        _clean(moves)
        raise
    _clean(moves)


class UnfinishedChange(HlhBayesError):
    """A change failed and could not be undone at once; its journal stays for the next command."""


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or exc}"
    return str(exc) or type(exc).__name__


def _prepare(move: _Move) -> None:
    target = move.target
    if move.kind == "folder":
        move.had_target = target.exists()
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(
        prefix=own_prefix(target.name, "new"), suffix=SUFFIX, dir=target.parent
    )
    move.new = Path(name)  # known at once: a failed write is cleaned up too
    with os.fdopen(fd, "wb") as handle:
        handle.write(move.content)
        handle.flush()
        os.fchmod(handle.fileno(), _mode_for(target))
        os.fsync(handle.fileno())
    if target.exists():
        move.had_target = True
        move.old = _backup(target)


def _mode_for(target: Path) -> int:
    """A replaced file keeps its permissions; a new one gets the usual (``0o666`` less umask)."""
    try:
        return target.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _backup(target: Path) -> Path:
    """A hard link to ``target`` (a copy where links are not supported), under a new name."""
    for _ in range(100):
        name = own_prefix(target.name, "old") + _random() + SUFFIX
        backup = target.with_name(name)
        try:
            os.link(target, backup)
            return backup
        except FileExistsError:
            continue
        except OSError:
            if backup.exists():
                continue
            shutil.copy2(target, backup)
            with open(backup, "rb") as handle:
                os.fsync(handle.fileno())
            return backup
    raise FileExistsError(f"no free backup name beside {target}")


def _random() -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789_"
    return "".join(secrets.choice(alphabet) for _ in range(8))


def _write_journal(journal: Path, moves: list[_Move]) -> None:
    base = journal.parent
    payload = {
        "format": FORMAT,
        "pid": os.getpid(),
        "command": this_command(),
        "started": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "moves": [m.record(base) for m in moves],
    }
    fd, name = tempfile.mkstemp(prefix=own_prefix(journal.name, "new"), suffix=SUFFIX, dir=base)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=1)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(name, journal)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    _sync({base})


def _no_checkpoint(_step: str) -> None:
    return None


def _do(move: _Move, n: int, step: Callable[[str], None]) -> None:
    assert move.new is not None
    if move.kind == "file":
        os.replace(move.new, move.target)
        return
    if move.had_target:
        assert move.old is not None
        move.old.parent.mkdir(parents=True, exist_ok=True)
        move.target.rename(move.old)
        step(f"set-aside-{n}")
    move.new.rename(move.target)


def _undo(move: _Move) -> None:
    """Put the target of ``move`` back as it was, whatever part of the move was made.

    The new content is out of place when ``new`` is gone: it was moved to the target. A file is
    then put back from its backup (or removed, if it is new); a folder is moved back to ``new``,
    and the old one back from where it was set aside. Running this twice does no harm.
    """
    if move.new is None:  # never prepared: nothing was moved
        return
    moved = not move.new.exists()
    if move.kind == "file":
        if moved and move.had_target and move.old is not None and move.old.exists():
            os.replace(move.old, move.target)
        elif moved and not move.had_target:
            move.target.unlink(missing_ok=True)
        return
    if moved and move.target.exists():
        move.target.rename(move.new)
    if move.had_target and not move.target.exists() and move.old is not None and move.old.exists():
        move.old.rename(move.target)


def _clean(moves: list[_Move]) -> None:
    """Remove the temporary files and backups of file moves (folders: see hlhbayes.atomic)."""
    for move in moves:
        if move.kind == "file":
            for path in (move.new, move.old):
                if path is not None:  # if it cannot go, the next writer removes it
                    with contextlib.suppress(OSError):
                        path.unlink(missing_ok=True)


def _sync(folders: set[Path]) -> None:
    """Flush the renames in ``folders`` to disk (where the system allows it)."""
    for folder in folders:
        try:
            fd = os.open(folder, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)


# --------------------------------------------------------------------------------------------
# recovery


def recover(journal: Path) -> str | None:
    """Undo the change a killed process left in ``journal``; say what was undone (``None``: none).

    Call it only while holding the lock of the place: then no live process is making the change.
    Raises :class:`HlhBayesError` when the journal cannot be read or the change cannot be undone
    (the journal then stays, for the next try).
    """
    journal = Path(journal)
    try:
        text = journal.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise HlhBayesError(
            f"{journal}: cannot read an unfinished change: {exc.strerror}"
        ) from None
    base = journal.parent
    try:
        payload = json.loads(text)
        moves = [_Move.from_record(r, base) for r in payload["moves"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise HlhBayesError(
            f"{journal}: an unfinished change that cannot be read ({exc}); check the files it "
            "names, then remove it"
        ) from None
    try:
        for move in reversed(moves):
            _undo(move)
        _sync({m.target.parent for m in moves})
        journal.unlink()  # undone: what is left now is only temporary files
    except OSError as exc:
        raise HlhBayesError(
            f"{journal}: cannot undo an unfinished change: {_reason(exc)}"
        ) from None
    _sync({base})
    _clean(moves)
    for move in moves:
        if move.kind == "folder" and move.new is not None:
            staging = move.new.parent
            if own_target(staging.name) is not None:
                shutil.rmtree(staging, ignore_errors=True)
    targets = ", ".join(os.path.relpath(m.target, base) for m in moves)
    who = f"pid {payload.get('pid', '?')}: {payload.get('command', '?')}, {payload.get('started', '?')}"
    return f"undid a change that was interrupted ({who}): {targets} as before it"
