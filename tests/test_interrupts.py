"""Ctrl-C: exit status 130, one line on stderr, nothing half-written left anywhere."""

from __future__ import annotations

import contextlib
import signal
from pathlib import Path

import pytest

from hlhbayes import interrupts
from processes import Command

INTERRUPTED = "interrupted: nothing half-written is kept\n"


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".*") if not p.name.startswith(".pause-"))


@pytest.mark.sampling
def test_ctrl_c_while_sampling_exits_130_and_writes_no_run(tmp_path: Path) -> None:
    # PyMC's sampler catches KeyboardInterrupt and returns the draws it has: the fit must still
    # stop, not summarise and write a run of a cut chain
    args = [
        "fit",
        "--model",
        "random-effects",
        "--sampler",
        "pymc",
        "--chains",
        "2",
        "--tune",
        "500",
        "--no-sensitivity",
    ]
    fit = Command([*args, "--draws", "50000", "--out", "run"], tmp_path)
    fit.said("; sampling").interrupt()
    code, stdout, stderr = fit.finish()
    assert code == 130, stderr
    assert stderr.endswith(INTERRUPTED), stderr
    assert "Traceback" not in stderr and stdout == ""
    assert not (tmp_path / "run").exists()
    assert hidden(tmp_path) == []


@pytest.mark.sampling
def test_ctrl_c_while_the_compiled_engine_samples_stops_it_between_two_chunks(
    tmp_path: Path,
) -> None:
    # the compiled program runs a chunk of iterations per call: Ctrl-C takes effect at the end
    # of the chunk, not of the sampling
    args = ["fit", "--model", "random-effects", "--chains", "2", "--no-sensitivity"]
    fit = Command([*args, "--tune", "500", "--draws", "100000", "--out", "run"], tmp_path)
    fit.said("tuning) on ").interrupt()  # the engine has started sampling
    code, stdout, stderr = fit.finish()
    assert code == 130, stderr
    assert stderr.endswith(INTERRUPTED), stderr
    assert "sampling: 100%" not in stderr and "sampled in" not in stderr
    assert "Traceback" not in stderr and stdout == ""
    assert not (tmp_path / "run").exists()
    assert hidden(tmp_path) == []


@pytest.mark.sampling
def test_ctrl_c_while_a_run_folder_is_staged_removes_it(tmp_path: Path) -> None:
    args = ["fit", "--model", "random-effects", "--method", "exact", "--out", "run", "-q"]
    fit = Command(args, tmp_path, pause_at="staged").paused()
    assert [p.name for p in tmp_path.glob(".run.staging-*")], "nothing staged at the pause"
    code, stdout, stderr = fit.interrupt().finish()
    assert (code, stdout, stderr) == (130, "", INTERRUPTED)
    assert not (tmp_path / "run").exists()
    assert hidden(tmp_path) == []


def test_an_interrupt_during_the_renames_of_a_change_waits_for_their_end() -> None:
    with pytest.raises(KeyboardInterrupt), interrupts.deferred():
        signal.raise_signal(signal.SIGINT)
        reached = True  # not interrupted in the middle
    assert reached


def test_an_interrupt_a_library_swallowed_is_raised_again() -> None:
    with interrupts.watching():
        with contextlib.suppress(KeyboardInterrupt):  # as PyMC's sampler does
            signal.raise_signal(signal.SIGINT)
        with pytest.raises(KeyboardInterrupt):
            interrupts.check()
    interrupts.check()  # outside a command: nothing recorded


def test_ctrl_c_while_waiting_for_the_evidence_base_exits_130(
    tmp_path: Path, data_copy: Path
) -> None:
    study = Path(__file__).parent / "fixtures" / "example_study.yaml"
    add = ["data", "add", str(study), "--data", str(data_copy)]
    holder = Command(add, tmp_path, pause_at="locked").paused()
    waiting = Command([*add, "--dry-run"], tmp_path).said("waiting for another")
    code, stdout, stderr = waiting.interrupt().finish()
    assert code == 130 and stdout == ""
    assert stderr.splitlines()[-1] == INTERRUPTED.strip()
    assert len(stderr.splitlines()) == 2  # the waiting line, then this one
    holder.resume()
    assert holder.finish()[0] == 0
