"""The compiled-fit cache: serialised programs (and draws) on disk, keyed by what they depend on.

Layout of the cache folder (``platformdirs.user_cache_dir("hlhbayes")``, or
``$HLHBAYES_CACHE_DIR``)::

    entries/<key>/meta.json     what the entry is (for a program: names, dims, layout), the
                                payload its key hashes, package versions, and the byte length
                                and SHA-256 of every file
    entries/<key>/<file>        a serialised program (``jax.export``), or stored draws
    entries/<key>/last_used     its modification time is the entry's last use
    tmp/                        entries being written, and entries being deleted
    locks/<key>.lock            held by the process building program <key>
    machine-code/               XLA's machine code for the programs: a cache of the same kind
                                (entries/, tmp/, locks/), keyed by the program's bytes, this
                                machine and the devices (:mod:`hlhbayes.engine.machine_code`)

Safety rules, each tested:

* **The key covers everything the entry depends on** (for a program: the caller's structure
  payload, data shapes, sampler settings, device layout, package versions, source
  fingerprints): an entry is never served for anything it was not built for.
  :func:`cache_key` hashes the payload as canonical JSON, and the payload is stored in the
  entry and re-hashed when loading.
* **A corrupt, truncated or stale entry is detected, removed and rebuilt**: unreadable
  metadata, a wrong key, another format, other package versions or engine source, a missing
  file, a wrong length or checksum all make :meth:`CompiledFitCache.load` discard the entry.
  Entries of other package versions or engine sources (never served: the key covers them) stay
  while another version sharing the cache uses them, and go after a week unused.
* **Concurrent writers do not corrupt an entry**: an entry is written in full to ``tmp/`` and
  then renamed into place; renaming a folder onto an existing one fails, so the first writer
  wins and the others discard their copy and use the winner's.
* **One process builds a program at a time**: building a program holds its lock
  (:meth:`CompiledFitCache.building`), and compiling it the lock of its machine code in the
  machine-code store; a second process that needs either meanwhile waits, then loads what the
  first stored, instead of building or compiling the same program again. The lock is
  ``fcntl.flock``, which the system releases when its holder dies; without ``fcntl`` (or on a
  file system that refuses it) programs are built without it, which is only slower.
* **The size is bounded**: entries are evicted least-recently-used first when they take more
  than half of the bound; the machine code, by the same rule, when it takes more than the other
  half.
* **A folder that cannot be written costs speed, not the fit**: where an entry cannot be
  written (a read-only folder, a full disk, a path through a file), :meth:`CompiledFitCache.store`
  says so once per process and returns the entry unkept, and the caller uses it as if stored.

A folder ``xla/`` is JAX's own compilation cache as earlier versions used it: it is counted in
the size shown, removed by :meth:`CompiledFitCache.clear`, and removed when a week has passed
since anything in it was written or used (until then an earlier version sharing the cache may
still use it).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hlhbayes.engine.fingerprint import engine_fingerprint, package_versions

CACHE_DIR_ENV = "HLHBAYES_CACHE_DIR"
MAX_BYTES_ENV = "HLHBAYES_CACHE_MAX_BYTES"
DEFAULT_MAX_BYTES = 2 * 1024**3
FORMAT = 1
"""Version of the entry layout; entries of another format are discarded."""
STALE_TMP_SECONDS = 3600.0
"""A folder in ``tmp/`` older than this belongs to a writer that died; it is removed."""
UNUSED_OTHER_VERSION_SECONDS = 7 * 24 * 3600.0
"""An entry built by other package versions or another engine source is removed once unused
this long: until then another installed version (or checkout) sharing the cache may use it."""

META = "meta.json"
LAST_USED = "last_used"
MACHINE_CODE = "machine-code"
LEGACY_XLA = "xla"
_SAID_UNWRITABLE: set[Path] = set()
"""Cache folders this process has said cannot be written (said once each, with their stores)."""


def default_cache_dir() -> Path:
    """``$HLHBAYES_CACHE_DIR`` if set, else the user cache folder for hlhbayes."""
    env = os.environ.get(CACHE_DIR_ENV)
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("hlhbayes"))


def default_max_bytes() -> int:
    """``$HLHBAYES_CACHE_MAX_BYTES`` if set (bytes), else 2 GB."""
    env = os.environ.get(MAX_BYTES_ENV)
    if not env:
        return DEFAULT_MAX_BYTES
    try:
        value = int(env)
    except ValueError:
        raise ValueError(f"{MAX_BYTES_ENV} must be a whole number of bytes, got {env!r}") from None
    if value <= 0:
        raise ValueError(f"{MAX_BYTES_ENV} must be positive, got {value}")
    return value


def cache_key(payload: Mapping[str, Any]) -> str:
    """SHA-256 of ``payload`` as canonical JSON (sorted keys, no whitespace)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Entry:
    """A verified cache entry: its metadata and the bytes of its files.

    ``path`` is None for an entry that could not be written to the cache (used, not kept).
    """

    key: str
    path: Path | None
    meta: dict[str, Any]
    files: dict[str, bytes]


@dataclass(frozen=True)
class EntryInfo:
    """One entry as :func:`cache_info` lists it."""

    key: str
    kind: str
    model: str
    size_bytes: int
    created: float
    last_used: float


@dataclass(frozen=True)
class CacheInfo:
    """Where the cache is, what it holds and how big it is (bytes; times in epoch seconds)."""

    location: Path
    max_bytes: int
    entries: list[EntryInfo]
    entries_bytes: int
    xla_bytes: int
    """The programs' machine code (and a legacy ``xla/`` folder of JAX's own cache)."""

    @property
    def total_bytes(self) -> int:
        """Entries plus machine code."""
        return self.entries_bytes + self.xla_bytes


class CompiledFitCache:
    """The cache folder (see the module docstring for its layout and rules)."""

    def __init__(
        self,
        root: Path | None = None,
        max_bytes: int | None = None,
        budget: int | None = None,
        source_keyed: bool = True,
    ) -> None:
        """``budget``: bytes the entries may take (default: half of ``max_bytes``).

        ``source_keyed``: an entry built by another engine source is stale (programs are; the
        machine code, keyed on a program's bytes, is not).
        """
        self.root = Path(root) if root is not None else default_cache_dir()
        self.max_bytes = int(max_bytes) if max_bytes is not None else default_max_bytes()
        self.entry_budget = int(budget) if budget is not None else self.max_bytes // 2
        self.source_keyed = source_keyed
        self.entries_dir = self.root / "entries"
        self.tmp_dir = self.root / "tmp"
        self.locks_dir = self.root / "locks"
        self.machine_code_dir = self.root / MACHINE_CODE
        self.legacy_xla_dir = self.root / LEGACY_XLA

    @property
    def machine_code(self) -> CompiledFitCache:
        """The store of the programs' machine code: a cache of its own, with the other half."""
        return CompiledFitCache(
            self.machine_code_dir,
            self.max_bytes,
            self.max_bytes - self.max_bytes // 2,
            source_keyed=False,
        )

    def load(self, key: str, on_problem: Callable[[str], None] | None = None) -> Entry | None:
        """The verified entry for ``key``, or None (a bad entry is removed, and said why)."""
        path = self.entries_dir / key
        if not path.is_dir():
            return None
        try:
            entry = self._read(key, path)
        except _BadEntry as problem:
            if on_problem is not None:
                on_problem(f"compiled-fit cache entry {key[:12]} discarded: {problem}")
            self._discard_refused(path)
            return None
        except FileNotFoundError:  # removed by another process while being read
            return None
        self._touch(path)
        return entry

    @staticmethod
    def waiting_notice(log: Callable[[str], None]) -> Callable[[], None]:
        """The ``on_wait`` of :meth:`building` that tells the user why nothing moves."""
        return lambda: log("waiting for another hlhbayes process building the same program")

    @contextlib.contextmanager
    def building(self, key: str, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
        """Hold the lock of program ``key`` (exclusive among processes) for the ``with`` block.

        ``on_wait`` is called once if another process holds it, before waiting for it. Where no
        lock can be taken (no ``fcntl``, a read-only cache folder, a file system without
        ``flock``) the block runs without one.
        """
        fd = self._lock_file(key)
        try:
            if fd is not None:
                _flock(fd, on_wait)
            yield
        finally:
            if fd is not None:
                os.close(fd)  # releases the lock

    def _lock_file(self, key: str) -> int | None:
        try:
            self.locks_dir.mkdir(parents=True, exist_ok=True)
            return os.open(self.locks_dir / f"{key}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:  # a read-only cache folder: nothing is stored there either
            return None

    def store(
        self,
        key: str,
        payload: Mapping[str, Any],
        meta: Mapping[str, Any],
        files: Mapping[str, bytes],
        on_problem: Callable[[str], None] | None = None,
    ) -> Entry:
        """Write an entry atomically and return the entry now in place for ``key``.

        When another process stored the same key first, its (verified) entry is returned and
        this copy is discarded. Evicts least-recently-used entries beyond the size bound. Where
        the folder cannot be written, ``on_problem`` is told so (once per process) and the entry
        is returned unkept (``path`` None).
        """
        if cache_key(payload) != key:
            raise ValueError("cache key does not match its payload")
        for name in files:
            if name in (META, LAST_USED) or "/" in name or name.startswith("."):
                raise ValueError(f"invalid file name {name!r}")
        full_meta = {
            **meta,
            "format": FORMAT,
            "key": key,
            "payload": dict(payload),
            "created": time.time(),
            "versions": package_versions(),
            "engine_source": engine_fingerprint(),
            "files": {
                name: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                for name, data in files.items()
            },
        }
        staging = self.tmp_dir / f"{key}.{os.getpid()}.{uuid.uuid4().hex}"
        try:
            self.tmp_dir.mkdir(parents=True, exist_ok=True)
            self.entries_dir.mkdir(parents=True, exist_ok=True)
            staging.mkdir()
            for name, data in files.items():
                _write_synced(staging / name, data)
            _write_synced(staging / META, json.dumps(full_meta, sort_keys=True).encode())
            _write_synced(staging / LAST_USED, b"")
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            self._say_unwritable(exc, on_problem)
            return Entry(key, None, full_meta, dict(files))
        target = self.entries_dir / key
        for _ in range(2):
            try:
                staging.rename(target)
            except OSError:  # another writer won, or a bad entry is in the way
                winner = self.load(key)
                if winner is not None:
                    shutil.rmtree(staging, ignore_errors=True)
                    return winner
                continue
            break
        else:
            shutil.rmtree(staging, ignore_errors=True)
            raise OSError(f"cannot store compiled-fit cache entry {key} in {self.entries_dir}")
        self.evict(keep=key)
        return Entry(key, target, full_meta, dict(files))

    def evict(self, keep: str | None = None) -> list[str]:
        """Remove unreadable or long-unused stale entries, then the least recently used ones.

        Least recently used entries go while the entries take more than the entry budget. An
        entry of other package versions or another engine source is never served (its key
        differs), but it is kept while it is in use: two installed versions, or two checkouts,
        sharing one cache would otherwise delete each other's programs at every store. Also
        removes folders that dead writers left in ``tmp/``. Returns the removed keys.
        """
        removed = []
        entries = []
        now = time.time()
        for path in self._entry_paths():
            if path.name == keep:
                continue
            meta = _read_meta(path)
            last_used = _last_used(path)
            unused = now - last_used > UNUSED_OTHER_VERSION_SECONDS
            if meta is None or (unused and not self._is_current(meta)):
                self._discard(path)
                removed.append(path.name)
            else:
                entries.append((last_used, _folder_size(path), path))
        total = sum(size for _, size, _ in entries)
        if keep is not None:
            total += _folder_size(self.entries_dir / keep)
        for _, size, path in sorted(entries):
            if total <= self.entry_budget:
                break
            self._discard(path)
            removed.append(path.name)
            total -= size
        self._remove_dead_tmp()
        if self.legacy_xla_dir.is_dir() and now - _newest(self.legacy_xla_dir) > (
            UNUSED_OTHER_VERSION_SECONDS
        ):
            self._discard(self.legacy_xla_dir)
            removed.append(LEGACY_XLA)
        return removed

    def info(self) -> CacheInfo:
        """What the cache holds (see :class:`CacheInfo`)."""
        entries = []
        for path in self._entry_paths():
            meta = _read_meta(path) or {}
            entries.append(
                EntryInfo(
                    key=path.name,
                    kind=str(meta.get("kind", "unreadable")),
                    model=str(meta.get("model", "")),
                    size_bytes=_folder_size(path),
                    created=float(meta.get("created", 0.0)),
                    last_used=_last_used(path),
                )
            )
        entries.sort(key=lambda e: e.last_used, reverse=True)
        return CacheInfo(
            location=self.root,
            max_bytes=self.max_bytes,
            entries=entries,
            entries_bytes=sum(e.size_bytes for e in entries),
            xla_bytes=_folder_size(self.machine_code_dir) + _folder_size(self.legacy_xla_dir),
        )

    def clear(self) -> None:
        """Remove every entry, the machine code and a legacy ``xla/`` folder."""
        for path in self._entry_paths():
            self._discard(path)
        for folder in (self.machine_code_dir, self.legacy_xla_dir):
            if folder.is_dir():
                self._discard(folder)
        shutil.rmtree(self.locks_dir, ignore_errors=True)
        self._remove_dead_tmp(max_age=0.0)

    def discard(self, entry: Entry) -> None:
        """Remove ``entry`` (found unusable after it was read); an unkept entry has no folder."""
        if entry.path is not None:
            self._discard_refused(entry.path)

    def _say_unwritable(self, problem: OSError, on_problem: Callable[[str], None] | None) -> None:
        """Tell ``on_problem``, once per process and cache folder, that it cannot be written."""
        said = any(self.root == r or r in self.root.parents for r in _SAID_UNWRITABLE)
        if said or on_problem is None:
            return
        _SAID_UNWRITABLE.add(self.root)
        reason = problem.strerror or str(problem)
        where = problem.filename or self.root
        on_problem(
            f"the compiled-fit cache cannot be written ({where}: {reason}): programs are "
            f"built for this process only, and the next fit builds them again; set "
            f"{CACHE_DIR_ENV} to a folder that can be written"
        )

    def _read(self, key: str, path: Path) -> Entry:
        meta = _read_meta(path)
        if meta is None:
            raise _BadEntry("unreadable metadata")
        if meta.get("format") != FORMAT:
            raise _BadEntry(f"format {meta.get('format')!r}, expected {FORMAT}")
        if meta.get("key") != key or cache_key(meta.get("payload", {})) != key:
            raise _BadEntry("its metadata belongs to another key")
        if not self._is_current(meta):
            raise _BadEntry("built by other package versions or another engine source")
        listed = meta.get("files")
        if not isinstance(listed, dict) or not listed:
            raise _BadEntry("lists no files")
        files = {}
        for name, expected in listed.items():
            try:
                data = (path / name).read_bytes()
            except FileNotFoundError:
                raise _BadEntry(f"{name} is missing") from None
            if len(data) != expected.get("bytes") or (
                hashlib.sha256(data).hexdigest() != expected.get("sha256")
            ):
                raise _BadEntry(f"{name} has the wrong length or checksum")
            files[name] = data
        return Entry(key, path, meta, files)

    def _is_current(self, meta: Mapping[str, Any]) -> bool:
        return (
            meta.get("format") == FORMAT
            and meta.get("versions") == package_versions()
            and (not self.source_keyed or meta.get("engine_source") == engine_fingerprint())
        )

    def _entry_paths(self) -> list[Path]:
        if not self.entries_dir.is_dir():
            return []
        return sorted(p for p in self.entries_dir.iterdir() if p.is_dir())

    def _discard(self, path: Path) -> None:
        """Remove a folder so that no reader ever sees it half-deleted: rename, then delete."""
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        trash = self.tmp_dir / f"{path.name}.deleted.{uuid.uuid4().hex}"
        try:
            path.rename(trash)
        except FileNotFoundError:
            return
        shutil.rmtree(trash, ignore_errors=True)

    def _discard_refused(self, path: Path) -> None:
        """Remove an entry found unusable (where the folder cannot be written, it stays)."""
        with contextlib.suppress(OSError):
            self._discard(path)

    def _touch(self, path: Path) -> None:
        with contextlib.suppress(OSError):
            (path / LAST_USED).touch()

    def _remove_dead_tmp(self, max_age: float = STALE_TMP_SECONDS) -> None:
        if not self.tmp_dir.is_dir():
            return
        now = time.time()
        for path in self.tmp_dir.iterdir():
            with contextlib.suppress(OSError):
                if now - path.stat().st_mtime >= max_age:
                    shutil.rmtree(path, ignore_errors=True)


def _flock(fd: int, on_wait: Callable[[], None] | None) -> None:
    """``flock`` ``fd`` exclusively, calling ``on_wait`` first if another process holds it."""
    try:
        import fcntl
    except ImportError:  # not on a POSIX system: each process builds its own
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        if on_wait is not None:
            on_wait()
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError:  # a file system without flock
        pass


class _BadEntry(Exception):
    """An entry that must not be used (the message says why)."""


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _read_meta(path: Path) -> dict[str, Any] | None:
    try:
        meta = json.loads((path / META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def _last_used(path: Path) -> float:
    for name in (LAST_USED, META):
        with contextlib.suppress(OSError):
            return (path / name).stat().st_mtime
    return 0.0


def _newest(path: Path) -> float:
    """The latest modification time of ``path`` and everything below it."""
    newest = 0.0
    for p in [path, *path.rglob("*")]:
        with contextlib.suppress(OSError):
            newest = max(newest, p.stat().st_mtime)
    return newest


def _folder_size(path: Path) -> int:
    if not path.is_dir():
        return 0
    total = 0
    for p in path.rglob("*"):
        with contextlib.suppress(OSError):
            if p.is_file():
                total += p.stat().st_size
    return total


def cache_info(root: Path | None = None) -> CacheInfo:
    """Location, entries (kind, model, size, last use) and sizes of the compiled-fit cache."""
    return CompiledFitCache(root).info()


def cache_clear(root: Path | None = None) -> None:
    """Empty the compiled-fit cache (its entries and the machine code)."""
    CompiledFitCache(root).clear()
