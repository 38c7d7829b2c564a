"""One command at a time per place: the lock, its messages, stale locks and leftovers."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import pytest

from hlhbayes import locking
from hlhbayes.errors import HlhBayesError


@pytest.fixture(autouse=True)
def patience():
    yield
    locking.set_patience(locking.DEFAULT_PATIENCE)


def in_thread(function) -> BaseException | None:
    """Run ``function`` in another thread (which holds no lock); what it raised."""
    raised: list[BaseException] = []

    def run() -> None:
        try:
            function()
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=60)
    return raised[0] if raised else None


def test_the_lock_file_is_there_while_held_and_removed_after(tmp_path: Path) -> None:
    guard = locking.Guard.beside(tmp_path / "run")
    with locking.hold(guard) as held:
        assert held.locked
        assert guard.lock.name == ".run.lock"
        assert f'"pid": {os.getpid()}' in guard.lock.read_text()
        with locking.hold(guard):  # re-entrant in one thread
            pass
        assert guard.lock.exists()
    assert list(tmp_path.iterdir()) == []


def test_a_second_holder_is_refused_at_once_without_patience(tmp_path: Path) -> None:
    guard = locking.Guard.inside(tmp_path)
    locking.set_patience(0)
    with locking.hold(guard):

        def second() -> None:
            with locking.hold(guard):
                pass

        refused = in_thread(second)
    assert isinstance(refused, locking.Busy)
    assert str(refused).startswith(
        f"{tmp_path}/ is in use by another hlhbayes command (pid {os.getpid()}: "
    )


def test_a_waiting_holder_says_so_once_then_gets_the_lock(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    guard = locking.Guard.beside(tmp_path / "run")
    got: list[float] = []

    def second() -> None:
        with locking.hold(guard):
            got.append(time.monotonic())

    with caplog.at_level(logging.WARNING, logger="hlhbayes"), locking.hold(guard):
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.5)
        assert got == []
        released = time.monotonic()
    thread.join(timeout=30)
    assert got and got[0] >= released
    waiting = [r.getMessage() for r in caplog.records]
    assert len(waiting) == 1
    assert waiting[0].startswith(
        f"waiting for another hlhbayes command using {tmp_path / 'run'} (pid {os.getpid()}: "
    )


def _hold_then(guard: locking.Guard, reading: bool, seconds: float, second) -> list[float]:
    """Hold ``guard`` for ``seconds`` while ``second`` runs in another thread; when it got it."""
    got: list[float] = []

    def run() -> None:
        second()
        got.append(time.monotonic())

    with locking.hold(guard, reading=reading):
        thread = threading.Thread(target=run)
        thread.start()
        time.sleep(seconds)
        released = time.monotonic()
    thread.join(timeout=30)
    assert got and got[0] >= released
    return got


def test_a_reader_waits_for_another_reader_without_a_word_even_without_patience(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    guard = locking.Guard.inside(tmp_path)
    locking.set_patience(0)

    def read() -> None:
        with locking.hold(guard, reading=True):
            assert '"reading": true' in guard.lock.read_text()

    with caplog.at_level(logging.WARNING, logger="hlhbayes"):
        _hold_then(guard, True, 0.3, read)
    assert caplog.records == []
    assert not guard.lock.exists()


def test_a_reader_waits_for_a_writer_as_any_command(tmp_path: Path) -> None:
    guard = locking.Guard.inside(tmp_path)
    locking.set_patience(0)
    with locking.hold(guard):

        def read() -> None:
            with locking.hold(guard, reading=True):
                pass

        refused = in_thread(read)
    assert isinstance(refused, locking.Busy)
    assert str(refused).startswith(f"{tmp_path}/ is in use by another hlhbayes command (pid ")


def test_a_reader_held_up_longer_than_a_read_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(locking, "READER_GRACE", 0.1)
    guard = locking.Guard.inside(tmp_path)

    def read() -> None:
        with locking.hold(guard, reading=True):
            pass

    with caplog.at_level(logging.WARNING, logger="hlhbayes"):
        _hold_then(guard, True, 0.6, read)
    waiting = [r.getMessage() for r in caplog.records]
    assert len(waiting) == 1 and waiting[0].startswith("waiting for another hlhbayes command")


def test_a_lock_file_a_killed_process_left_is_taken_over(tmp_path: Path) -> None:
    guard = locking.Guard.inside(tmp_path)
    guard.lock.write_text('{"pid": 999999999, "command": "hlhbayes data add", "since": "x"}\n')
    locking.set_patience(0)
    with locking.hold(guard):  # the lock file is there, but nobody holds it
        assert f'"pid": {os.getpid()}' in guard.lock.read_text()
    assert not guard.lock.exists()


def test_tidy_removes_only_stale_leftovers_of_its_place(tmp_path: Path) -> None:
    history = tmp_path / "history" / "run"
    history.mkdir(parents=True)
    stale = [
        tmp_path / ".run.staging-aaaaaaaa.hlhbayes",
        tmp_path / ".run.journal.new-bbbbbbbb.hlhbayes",
        history / ".LATEST.old-cccccccc.hlhbayes",
    ]
    others = [
        tmp_path / ".run.v2.staging-dddddddd.hlhbayes",  # another folder's
        tmp_path / ".run.notes",  # not a name hlhbayes makes
        history / "20260101T000000Z-abc",
    ]
    for path in stale + others:
        path.mkdir() if "staging" in path.name or "Z-" in path.name else path.write_text("x")
    past = time.time() - 60
    for path in stale + others:
        os.utime(path, (past, past))
    guard = locking.Guard.beside(tmp_path / "run", history)
    with locking.hold(guard, tidy=True) as held:
        assert held.leftovers() == []
        young = tmp_path / ".run.staging-eeeeeeee.hlhbayes"
        young.mkdir()  # made after the lock was taken: not stale
        held.tidy()
        assert young.exists()
    assert all(not p.exists() for p in stale)
    assert all(p.exists() for p in others)


def test_a_reader_goes_on_without_a_lock_where_none_can_be_made(tmp_path: Path) -> None:
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as a user who may write anywhere")
        guard = locking.Guard.inside(folder)
        with locking.hold(guard, reading=True) as held:
            assert not held.locked
        denied = r"cannot lock .*read-only/: .*Permission denied"
        with pytest.raises(HlhBayesError, match=denied), locking.hold(guard):
            pass
    finally:
        folder.chmod(0o755)


def test_a_lock_makes_its_folder_and_removes_it_if_nothing_went_there(tmp_path: Path) -> None:
    guard = locking.Guard.beside(tmp_path / "runs" / "deep" / "run")
    with locking.hold(guard):
        assert (tmp_path / "runs" / "deep").is_dir()
    assert list(tmp_path.iterdir()) == []


def test_a_reader_of_a_place_that_cannot_hold_a_lock_file_goes_on(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    guard = locking.Guard.inside(not_a_folder)
    with locking.hold(guard, reading=True) as held:
        assert not held.locked
    with pytest.raises(HlhBayesError, match=r"cannot write in .*file"), locking.hold(guard):
        pass
