"""The compiled-fit cache: it never serves a wrong or damaged program.

Entries here hold arbitrary bytes (the cache does not interpret programs), so these tests need
no JAX; tests/test_engine_sampler.py checks a damaged real program is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import time
from pathlib import Path

import pytest

from hlhbayes.engine.cache import (
    CACHE_DIR_ENV,
    MAX_BYTES_ENV,
    UNUSED_OTHER_VERSION_SECONDS,
    CompiledFitCache,
    cache_clear,
    cache_info,
    cache_key,
    default_cache_dir,
)
from hlhbayes.engine.fingerprint import package_versions

PROGRAM = "program.jaxexport"


def _store(cache: CompiledFitCache, name: str, size: int = 1000) -> str:
    payload = {"kind": "sampler", "model": name}
    key = cache_key(payload)
    cache.store(key, payload, {"kind": "sampler", "model": name}, {PROGRAM: name.encode() * size})
    return key


def test_round_trip_and_info(tmp_path):
    cache = CompiledFitCache(tmp_path)
    key = _store(cache, "a")
    entry = cache.load(key)
    assert entry is not None
    assert entry.files[PROGRAM] == b"a" * 1000
    assert entry.meta["payload"] == {"kind": "sampler", "model": "a"}
    assert entry.meta["versions"] == package_versions()
    info = cache_info(tmp_path)
    assert info.location == tmp_path
    assert [e.key for e in info.entries] == [key]
    assert info.entries[0].model == "a" and info.entries[0].size_bytes > 1000
    assert info.total_bytes == info.entries_bytes + info.xla_bytes


def test_unknown_key_is_a_miss(tmp_path):
    assert CompiledFitCache(tmp_path).load(cache_key({"x": 1})) is None


def _damage_truncate(path: Path) -> None:
    data = (path / PROGRAM).read_bytes()
    (path / PROGRAM).write_bytes(data[: len(data) // 2])


def _damage_flip(path: Path) -> None:
    data = bytearray((path / PROGRAM).read_bytes())
    data[10] ^= 0xFF
    (path / PROGRAM).write_bytes(bytes(data))


def _damage_delete(path: Path) -> None:
    (path / PROGRAM).unlink()


def _damage_meta(path: Path) -> None:
    (path / "meta.json").write_text("{not json", encoding="utf-8")


def _damage_versions(path: Path) -> None:
    meta = json.loads((path / "meta.json").read_text())
    meta["versions"] = {**meta["versions"], "jax": "0.0.1"}
    (path / "meta.json").write_text(json.dumps(meta))


def _damage_other_key(path: Path) -> None:
    meta = json.loads((path / "meta.json").read_text())
    meta["payload"] = {"kind": "sampler", "model": "something else"}
    (path / "meta.json").write_text(json.dumps(meta))


@pytest.mark.parametrize(
    "damage",
    [
        _damage_truncate,
        _damage_flip,
        _damage_delete,
        _damage_meta,
        _damage_versions,
        _damage_other_key,
    ],
)
def test_damaged_or_stale_entry_is_discarded_and_can_be_rebuilt(tmp_path, damage):
    cache = CompiledFitCache(tmp_path)
    key = _store(cache, "a")
    damage(cache.entries_dir / key)
    problems: list[str] = []
    assert cache.load(key, on_problem=problems.append) is None
    assert len(problems) == 1 and key[:12] in problems[0]
    assert not (cache.entries_dir / key).exists()
    _store(cache, "a")
    assert cache.load(key).files[PROGRAM] == b"a" * 1000


def test_a_folder_that_cannot_be_written_gives_the_entry_unkept_and_says_so_once(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")  # no folder can be made below a file, whoever runs the test
    cache = CompiledFitCache(blocker / "cache")
    said: list[str] = []
    payload = {"kind": "sampler", "model": "a"}
    key = cache_key(payload)
    entry = cache.store(key, payload, {"kind": "sampler"}, {PROGRAM: b"a"}, said.append)
    assert entry.key == key and entry.path is None and entry.files == {PROGRAM: b"a"}
    assert entry.meta["payload"] == payload
    cache.store(key, payload, {"kind": "sampler"}, {PROGRAM: b"a"}, said.append)
    cache.machine_code.store(key, payload, {"kind": "machine code"}, {PROGRAM: b"b"}, said.append)
    assert len(said) == 1  # once for the cache and its machine-code store
    assert f"{blocker / 'cache'}" in said[0] and "HLHBAYES_CACHE_DIR" in said[0]
    assert cache.load(key) is None
    cache.discard(entry)  # an unkept entry has nothing to remove
    assert not (blocker / "cache").exists()


def test_store_refuses_a_key_that_is_not_its_payloads(tmp_path):
    with pytest.raises(ValueError, match="does not match"):
        CompiledFitCache(tmp_path).store("0" * 64, {"a": 1}, {}, {PROGRAM: b"x"})


def test_key_changes_with_every_part_of_the_payload():
    base = {"model": {"name": "m", "structure": {"k": 1}}, "sampler": {"tune": 500}}
    variants = [
        {"model": {"name": "m", "structure": {"k": 2}}, "sampler": {"tune": 500}},
        {"model": {"name": "n", "structure": {"k": 1}}, "sampler": {"tune": 500}},
        {"model": {"name": "m", "structure": {"k": 1}}, "sampler": {"tune": 1000}},
        {**base, "versions": {"jax": "0.12"}},
    ]
    keys = {cache_key(base), *(cache_key(v) for v in variants)}
    assert len(keys) == 1 + len(variants)
    assert cache_key(base) == cache_key(json.loads(json.dumps(base)))  # order-independent


def _stale(cache: CompiledFitCache, key: str, seconds_ago: float) -> None:
    stamp = time.time() - seconds_ago
    os.utime(cache.entries_dir / key / "last_used", (stamp, stamp))


def test_least_recently_used_entries_are_evicted(tmp_path):
    entry_bytes = 10_000
    # programs may take half the bound: room for two entries of ~10 kB, not three
    cache = CompiledFitCache(tmp_path, max_bytes=2 * 25_000)
    a = _store(cache, "a", entry_bytes)
    b = _store(cache, "b", entry_bytes)
    _stale(cache, a, 100)
    _stale(cache, b, 200)
    assert cache.load(a) is not None  # a use makes `a` the most recent
    c = _store(cache, "c", entry_bytes)
    assert cache.load(b) is None
    assert cache.load(a) is not None and cache.load(c) is not None


def test_entries_of_other_versions_stay_while_used_and_go_after_a_week_unused(tmp_path):
    cache = CompiledFitCache(tmp_path)
    in_use, unused = _store(cache, "in use"), _store(cache, "unused")
    for key in (in_use, unused):
        _damage_versions(cache.entries_dir / key)  # as if built by another installed version
    week_ago = time.time() - UNUSED_OTHER_VERSION_SECONDS - 60
    os.utime(cache.entries_dir / unused / "last_used", (week_ago, week_ago))
    new = _store(cache, "new")
    # the other version's recent entry is kept for it; this version is never served it
    assert sorted(e.key for e in cache.info().entries) == sorted([in_use, new])
    os.utime(cache.entries_dir / in_use / "last_used", (week_ago, week_ago))
    _store(cache, "newer")
    assert in_use not in [e.key for e in cache.info().entries]


def test_clear_empties_programs_machine_code_and_a_legacy_compilation_cache(tmp_path):
    cache = CompiledFitCache(tmp_path)
    _store(cache, "a")
    _store(cache.machine_code, "a", 50)
    cache.legacy_xla_dir.mkdir(parents=True)  # JAX's own cache, as earlier versions kept it
    (cache.legacy_xla_dir / "jit_x-cache").write_bytes(b"x" * 100)
    assert cache.info().xla_bytes == 100 + sum(
        e.size_bytes for e in cache.machine_code.info().entries
    )
    cache_clear(tmp_path)
    info = cache.info()
    assert info.entries == [] and info.total_bytes == 0


def test_location_and_bound_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "c"))
    monkeypatch.setenv(MAX_BYTES_ENV, "12345")
    cache = CompiledFitCache()
    assert default_cache_dir() == tmp_path / "c" == cache.root
    assert cache.max_bytes == 12345
    monkeypatch.setenv(MAX_BYTES_ENV, "lots")
    with pytest.raises(ValueError, match=MAX_BYTES_ENV):
        CompiledFitCache()


def _race(root: str, barrier, results) -> None:
    cache = CompiledFitCache(Path(root))
    payload = {"kind": "sampler", "model": "raced"}
    key = cache_key(payload)
    data = os.urandom(16) * 100_000  # each writer its own bytes: the loser's must vanish
    barrier.wait()
    entry = cache.store(key, payload, {"kind": "sampler", "model": "raced"}, {PROGRAM: data})
    results.put(
        (
            entry.files[PROGRAM] == data,
            hashlib.sha256(entry.files[PROGRAM]).hexdigest(),
        )
    )


def test_concurrent_writers_leave_one_intact_entry(tmp_path):
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    results = context.Queue()
    workers = [
        context.Process(target=_race, args=(str(tmp_path), barrier, results)) for _ in range(2)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
        assert w.exitcode == 0
    outcomes = [results.get(timeout=10) for _ in workers]
    # one writer won; both processes got the winner's (complete) program
    assert sorted(own for own, _ in outcomes) == [False, True]
    assert outcomes[0][1] == outcomes[1][1]
    cache = CompiledFitCache(tmp_path)
    entry = cache.load(cache_key({"kind": "sampler", "model": "raced"}))
    assert entry is not None
    assert hashlib.sha256(entry.files[PROGRAM]).hexdigest() == outcomes[0][1]
    assert not any(cache.tmp_dir.iterdir())


def _note(log: Path, line: str) -> None:
    with log.open("a") as f:
        f.write(line + "\n")


def _hold_the_build_lock(root: str, key: str, holding, release, log: str) -> None:
    cache = CompiledFitCache(Path(root))
    with cache.building(key):
        _note(Path(log), "first in")
        holding.set()
        release.wait(60)
        _note(Path(log), "first out")


def test_a_program_is_built_by_one_process_while_the_others_wait(tmp_path):
    context = multiprocessing.get_context("spawn")
    holding, release = context.Event(), context.Event()
    log = tmp_path / "order"
    key = cache_key({"kind": "sampler", "model": "built-once"})
    first = context.Process(
        target=_hold_the_build_lock, args=(str(tmp_path), key, holding, release, str(log))
    )
    first.start()
    assert holding.wait(60)
    waited = []
    cache = CompiledFitCache(tmp_path)

    def on_wait() -> None:
        waited.append(True)
        release.set()  # the other process goes on only once this one is waiting

    with cache.building(key, on_wait):
        _note(log, "second in")
    first.join(timeout=60)
    assert first.exitcode == 0
    assert waited == [True]
    assert log.read_text().splitlines() == ["first in", "first out", "second in"]
    with cache.building(cache_key({"kind": "sampler", "model": "other"}), on_wait):
        pass  # another program's lock is free
    assert waited == [True]
    cache_clear(tmp_path)
    assert not cache.locks_dir.exists()


def test_a_legacy_compilation_cache_goes_once_unused_for_a_week(tmp_path):
    """JAX's own cache, as earlier versions kept it in ``xla/``: left while it may be in use."""
    cache = CompiledFitCache(tmp_path)
    legacy = cache.legacy_xla_dir
    legacy.mkdir()
    (legacy / "jit_x-cache").write_bytes(b"x" * 100)
    _store(cache, "a")
    assert legacy.is_dir()  # written just now
    week_ago = time.time() - 8 * 24 * 3600
    for path in (legacy / "jit_x-cache", legacy):
        os.utime(path, (week_ago, week_ago))
    _store(cache, "b")
    assert not legacy.exists()


def test_machine_code_outlives_an_engine_source_change_and_programs_do_not(tmp_path, monkeypatch):
    """A program is keyed on the engine's source; its machine code on the program's bytes, so
    an edit to the engine that leaves a program's bytes alone does not compile it again."""
    from hlhbayes.engine import cache as cache_module

    cache = CompiledFitCache(tmp_path)
    program, machine_code = _store(cache, "a"), _store(cache.machine_code, "a")
    monkeypatch.setattr(cache_module, "engine_fingerprint", lambda: "edited")
    assert cache.load(program) is None
    assert cache.machine_code.load(machine_code) is not None
