"""``kill -9`` at every step of a change; the next command finds each place whole, old or new.

A command is started with a pause at a named step (:mod:`processes`), killed there, and the
next command that uses the place is run: the evidence base must be exactly as before the
change or exactly as after it (never a study without its patients, never a new study file with
the old patient table), validate, and hold no journal or lock; a run folder must be the earlier
run or the new one. Temporary files a kill leaves are listed by ``data validate`` and removed by
the next command that writes there.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from fuzz_harness import small_base
from fuzz_inputs import PATIENTS, STUDY

from hlhbayes import runs
from hlhbayes.cli import main
from hlhbayes.locking import hold
from processes import Command

# every pause point of `data add --patients`, in order (moved-N: the N-th file is in place)
ADD_STEPS = ["locked", "prepared", "journaled", "moved-1", "moved-2", "moved", "committed"]
UNDONE = {"journaled", "moved-1", "moved-2", "moved"}  # a journal is left: the change is undone


def visible(root: Path) -> dict[str, bytes]:
    """The files of a base a reader sees (hidden names left out), with their bytes."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    }


def hidden(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob(".*"))


def cli(*args: str | Path):
    return CliRunner().invoke(main, [str(a) for a in args])


def addition(tmp_path: Path, data: Path, replace: bool) -> tuple[Path, Path, dict[str, bytes]]:
    """The two input files of an addition and the base's files after it."""
    after = visible(data)
    if replace:  # Baverez2022 again, its study file and its patient table both changed
        text = (data / "studies" / "Baverez2022.yaml").read_text(encoding="utf-8")
        assert text.count("  country: France\n") == 1
        study_text = text.replace("  country: France\n", "  country: FR\n")
        table = (data / "patients" / "Baverez2022.csv").read_text(encoding="utf-8")
        assert table.count("Baverez2022,7,20,M,") == 1
        patients_text = table.replace("Baverez2022,7,20,M,", "Baverez2022,7,21,M,")
        sid = "Baverez2022"
    else:
        study_text, patients_text, sid = STUDY, PATIENTS, "Example2024"
    study, patients = tmp_path / "new.yaml", tmp_path / "new.csv"
    study.write_text(study_text, encoding="utf-8")
    patients.write_text(patients_text, encoding="utf-8")
    after[f"studies/{sid}.yaml"] = study.read_bytes()
    after[f"patients/{sid}.csv"] = patients.read_bytes()
    return study, patients, after


@pytest.mark.parametrize("replace", [False, True], ids=["new", "replace"])
@pytest.mark.parametrize("step", ADD_STEPS)
def test_a_killed_data_add_leaves_the_base_old_or_new(
    tmp_path: Path, step: str, replace: bool
) -> None:
    data = small_base(tmp_path)
    before = visible(data)
    study, patients, after = addition(tmp_path, data, replace)
    args = ["data", "add", study, "--patients", patients, "--data", data]
    add = Command([str(a) for a in args] + (["--replace"] if replace else []), tmp_path, step)
    add.paused().kill()

    # the next command: data validate finds a whole base (undoing a change left half done)
    checked = cli("data", "validate", data)
    assert checked.exit_code == 0, checked.output
    expected = before if step in UNDONE or step in ("locked", "prepared") else after
    assert visible(data) == expected
    assert (step in UNDONE) == ("undid a change that was interrupted" in checked.stderr)
    assert not (data / ".hlhbayes.journal").exists()
    assert not (data / ".hlhbayes.lock").exists()
    left = hidden(data)
    for name in left:  # each listed by validate, as left by an interrupted command
        assert f"{data / name}: left by an interrupted hlhbayes command" in checked.stderr
    if step == "prepared" or (step == "committed" and replace):
        assert left, "a kill between writing and cleaning up leaves temporary files"

    # the next command that writes there removes them
    again = cli(*args, "--replace", "--dry-run")
    assert again.exit_code == 0, again.output
    assert hidden(data) == left  # a dry run writes nothing, removes nothing
    done = cli(*args, "--replace")
    assert done.exit_code == 0, done.output
    assert visible(data) == after
    assert hidden(data) == []


FIT = ["fit", "--model", "random-effects", "--method", "exact", "-q"]
FIT_STEPS = ["locked", "staged", "journaled", "set-aside-1", "moved-1", "moved", "committed"]


@pytest.fixture(scope="module")
def one_run(tmp_path_factory) -> Path:
    """A working folder whose runs/ holds one run of random-effects (seed 1)."""
    work = tmp_path_factory.mktemp("one-run")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)
        assert cli(*FIT, "--seed", "1").exit_code == 0
    return work


@pytest.mark.parametrize("step", FIT_STEPS)
def test_a_killed_fit_leaves_the_earlier_run_or_the_new_one(
    one_run: Path, tmp_path: Path, step: str
) -> None:
    shutil.copytree(one_run / "runs", tmp_path / "runs")
    target = tmp_path / "runs" / "random-effects-response"
    earlier = visible(target)
    Command([*FIT, "--seed", "2"], tmp_path, step).paused().kill()

    # the next command that takes the folder's lock finds it whole
    with hold(runs.guard(target), tidy=True):
        pass
    now = visible(target)
    history = sorted((tmp_path / "runs" / "history" / target.name).glob("*/summary.json"))
    if step == "committed":
        assert b'"seed": 2' in now["summary.json"]
        assert [visible(h.parent) for h in history] == [earlier]  # archived, whole
    else:
        assert now == earlier
        assert history == []
    assert hidden(tmp_path / "runs") == []  # no journal, no lock, no staging folder


def test_a_fit_after_a_killed_one_keeps_every_run(one_run: Path, tmp_path: Path) -> None:
    shutil.copytree(one_run / "runs", tmp_path / "runs")
    Command([*FIT, "--seed", "2"], tmp_path, "set-aside-1").paused().kill()
    assert not (tmp_path / "runs" / "random-effects-response").exists()  # half done
    code, _, stderr = Command([*FIT, "--seed", "3"], tmp_path).finish()
    assert code == 0, stderr
    assert "undid a change that was interrupted" in stderr
    seeds = sorted(
        p.read_text().count('"seed": 1') + 10 * p.read_text().count('"seed": 3')
        for p in (tmp_path / "runs").rglob("summary.json")
    )
    assert seeds == [1, 10]  # the earlier run (archived) and the new one; nothing half
    assert hidden(tmp_path / "runs") == []


def test_a_base_whose_change_cannot_be_read_is_refused_with_one_line(tmp_path: Path) -> None:
    data = small_base(tmp_path)
    (data / ".hlhbayes.journal").write_text("{not json", encoding="utf-8")
    before = visible(data)
    result = cli("data", "validate", data)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {data / '.hlhbayes.journal'}: an unfinished change")
    assert len(result.stderr.splitlines()) == 1
    assert visible(data) == before


def test_an_interrupted_base_copied_elsewhere_is_undone_there(tmp_path: Path) -> None:
    # a journal names its files relative to the base: a base moved (or copied) after a kill is
    # still put back
    data = small_base(tmp_path)
    before = visible(data)
    study, patients, _ = addition(tmp_path, data, replace=True)
    args = ["data", "add", study, "--patients", patients, "--data", data, "--replace"]
    Command([str(a) for a in args], tmp_path, "moved-1").paused().kill()
    moved = tmp_path / "elsewhere"
    shutil.move(data, moved)
    assert cli("data", "validate", moved).exit_code == 0
    assert visible(moved) == before
