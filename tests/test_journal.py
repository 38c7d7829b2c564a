"""A change of files and folders with a journal: killed at any step, it is undone by recover()."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import snapshot
from hlhbayes import journal
from hlhbayes.errors import HlhBayesError

# A change of three moves: a file replaced, a file created, a folder replaced (the old one set
# aside inside its staging folder), with its journal in the place.
CHANGE = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from hlhbayes import atomic

    place = Path(sys.argv[1])
    staged = atomic.stage(place / "run", lambda f: (f / "a.txt").write_text("new run"))
    atomic.commit(
        [staged],
        {place / "kept.txt": b"new kept", place / "added.txt": b"added"},
        force=True,
        journal=place / ".place.journal",
    )
    """
)
STEPS = ["prepared", "journaled", "set-aside-1", "moved-1", "moved-2", "moved-3", "moved"]


def place_with_content(root: Path) -> Path:
    place = root / "place"
    (place / "run").mkdir(parents=True)
    (place / "run" / "a.txt").write_text("old run")
    (place / "kept.txt").write_text("old kept")
    os.chmod(place / "kept.txt", 0o640)
    return place


def killed_at(place: Path, step: str) -> None:
    flag = place.parent / "flag"
    env = {**os.environ, journal.PAUSE_AT: f"{step}={flag}"}
    process = subprocess.Popen([sys.executable, "-c", CHANGE, str(place)], env=env)
    deadline = time.monotonic() + 60
    while not flag.exists():
        assert process.poll() is None, "ended before its pause"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()


def visible(root: Path) -> dict[str, bytes]:
    """The files a reader sees (no hidden name on the way), with their bytes."""
    return {
        k: v for k, v in snapshot(root).items() if not any(p.startswith(".") for p in Path(k).parts)
    }


def modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mode for p in root.rglob("*")}


@pytest.mark.parametrize("step", STEPS)
def test_a_change_killed_at_any_step_is_undone(tmp_path: Path, step: str) -> None:
    place = place_with_content(tmp_path)
    before, before_modes = snapshot(place), modes(place)
    killed_at(place, step)
    note = journal.recover(place / ".place.journal")
    assert (note is not None) == (step != "prepared")  # no journal yet: nothing to undo
    if note is not None:
        assert note.startswith("undid a change that was interrupted (pid ")
        assert note.endswith(": run, kept.txt, added.txt as before it")
    assert visible(place) == before
    assert {k: v for k, v in modes(place).items() if not k.startswith(".")} == before_modes
    left = [p.name for p in place.iterdir() if p.name.startswith(".")]
    if step == "prepared":  # temporary files a later writer removes
        assert left and all(journal.own_target(n) for n in left)
    else:
        assert left == []


def test_a_change_killed_after_its_end_is_kept(tmp_path: Path) -> None:
    place = place_with_content(tmp_path)
    killed_at(place, "committed")
    assert journal.recover(place / ".place.journal") is None
    assert (place / "run" / "a.txt").read_text() == "new run"
    assert (place / "kept.txt").read_text() == "new kept"
    assert (place / "kept.txt").stat().st_mode & 0o777 == 0o640  # a replaced file keeps its mode
    assert (place / "added.txt").read_text() == "added"


def test_undoing_can_itself_be_interrupted_and_run_again(tmp_path: Path) -> None:
    place = place_with_content(tmp_path)
    before = snapshot(place)
    killed_at(place, "moved-2")
    real = Path.unlink

    class Killed(BaseException):
        pass

    def killed_before_the_journal_goes(self, missing_ok=False):
        if self.name == ".place.journal":
            raise Killed
        return real(self, missing_ok=missing_ok)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Path, "unlink", killed_before_the_journal_goes)
        with pytest.raises(Killed):
            journal.recover(place / ".place.journal")
    assert journal.recover(place / ".place.journal")  # undone again: no harm
    assert visible(place) == before
    assert [p.name for p in place.iterdir() if p.name.startswith(".")] == []


def test_a_change_of_a_process_killed_mid_undo_is_finished(tmp_path: Path) -> None:
    # the undo of a folder is two renames: killed between them, the next recovery finishes
    place = place_with_content(tmp_path)
    before = snapshot(place)
    killed_at(place, "moved-1")
    real = Path.rename
    calls = []

    def die_on_second(self, target):
        calls.append(target)
        if len(calls) == 2:
            raise OSError(5, "Input/output error")
        return real(self, target)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Path, "rename", die_on_second)
        with pytest.raises(HlhBayesError, match="cannot undo an unfinished change"):
            journal.recover(place / ".place.journal")
    assert (place / ".place.journal").exists()
    assert journal.recover(place / ".place.journal")
    assert visible(place) == before


def test_own_names_are_recognised_exactly() -> None:
    assert journal.own_target(".run.staging-abcd1234.hlhbayes") == "run"
    assert journal.own_target(".run.v2.staging-abcd1234.hlhbayes") == "run.v2"
    assert journal.own_target(".X.yaml.new-a_c4e6g8.hlhbayes") == "X.yaml"
    assert journal.own_target(".hlhbayes.journal.new-abcd1234.hlhbayes") == "hlhbayes.journal"
    for other in (
        ".X.yaml.swp",
        ".X.yaml.bak",
        "X.yaml",
        ".run.staging.abcd1234",
        ".x.new-1.hlhbayes",
    ):
        assert journal.own_target(other) is None


def test_leftovers_of_one_target_leave_the_others_alone(tmp_path: Path) -> None:
    for name in (".run.staging-aaaaaaaa.hlhbayes", ".run.v2.staging-bbbbbbbb.hlhbayes", ".notes"):
        (tmp_path / name).mkdir()
    assert [p.name for p in journal.leftovers(tmp_path, frozenset({"run"}))] == [
        ".run.staging-aaaaaaaa.hlhbayes"
    ]
    assert len(journal.leftovers(tmp_path)) == 2
    shutil.rmtree(tmp_path)
    assert journal.leftovers(tmp_path) == []  # a folder that is not there has none
