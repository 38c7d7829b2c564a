"""What a command shows while it works: a live line in a terminal, lines elsewhere, or nothing."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from conftest import SHORT
from hlhbayes.cli.progress_display import Feedback, about, choose_mode, step_of, time_left

HLHBAYES = Path(sys.executable).parent / "hlhbayes"


def live(width: int = 120) -> tuple[Feedback, io.StringIO]:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=width, color_system=None)
    return Feedback("live", console=console), buffer


def test_the_mode_follows_quiet_and_the_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert choose_mode(True, Tty()) == "quiet"
    assert choose_mode(False, Tty()) == "live"
    assert choose_mode(False, io.StringIO()) == "lines"


def test_steps_and_time_left() -> None:
    assert step_of("[3/16] loo-Kumar2017: 7 studies, fitted in 4.1 s, ok") == (3, 16)
    assert step_of("batch 2 of 3: scenarios 9-16") == (2, 3)
    assert step_of("sampling 4 chains x 1000 draws") is None
    assert time_left(4, 16, 20.0) == pytest.approx(60.0)
    assert time_left(0, 16, 5.0) is None and time_left(16, 16, 5.0) is None
    assert about(41) == "about 40 s left"
    assert about(2) == "under 5 s left" and about(6) == "about 5 s left"
    assert about(600) == "about 10 min left"


def test_a_heartbeat_updates_the_line_instead_of_adding_one() -> None:
    feedback, buffer = live()
    feedback("compiling the model: the first fit on a machine takes longest (15 s)")
    feedback("compiling the model: the first fit on a machine takes longest (30 s)")
    feedback("compiling the model: the first fit on a machine takes longest (45 s)")
    feedback("sampled in 50.0 s")
    feedback.finish()
    text = buffer.getvalue()
    # the finished phase stays above once, without its seconds; no "(30 s)" line at all
    assert text.count("  compiling the model: the first fit on a machine takes longest\n") == 1
    assert "(30 s)" not in text and "(45 s)" not in text
    assert "sampled in 50.0 s" in text


def test_multi_fit_steps_move_a_bar_with_time_left() -> None:
    feedback, buffer = live()
    feedback._started -= 60.0  # the command began a minute ago: its first step took that long
    feedback("[1/4] baseline: 8 studies, fitted in 2.0 s, ok")
    feedback("[2/4] tau-halfcauchy: 8 studies, fitted in 2.0 s, ok")
    feedback._progress.refresh()
    text = buffer.getvalue()
    assert "[2/4]" in text and "about 60 s left" in text  # two steps in 60 s, two to go
    feedback.finish()
    assert "  [1/4] baseline: 8 studies, fitted in 2.0 s, ok\n" in buffer.getvalue()


def test_a_sampler_share_moves_the_current_phase() -> None:
    feedback, buffer = live()
    feedback("sampling 4 chains x 200 draws (200 tuning) with pymc NUTS")
    feedback("sampling: 50% of 1600 iterations")
    feedback._progress.refresh()
    assert "sampling 4 chains " in buffer.getvalue()
    assert "800/1600 iterations" in buffer.getvalue()
    feedback.finish()
    assert "sampling: 50% of 1600" not in buffer.getvalue().replace("\r", "\n").splitlines()


def test_the_compiled_samplers_chunks_show_iterations_divergences_and_time_left() -> None:
    feedback, buffer = live(width=100)
    feedback("sampling 4 chains x 1000 draws (500 tuning) on 2 devices")
    feedback("sampling: 40% of 6000 iterations, 3 divergent")
    feedback._progress.refresh()
    line = buffer.getvalue().replace("\r", "\n").splitlines()[-1]
    assert "sampling 4 chains " in line
    assert "2400/6000 iterations, 3 divergent" in line and "s left" in line
    assert len(line.rstrip()) <= 100
    feedback("sampling: 100% of 6000 iterations, 5 divergent")
    feedback("sampled in 1.5 s")
    feedback.finish()
    text = buffer.getvalue()
    # the phase stays above as its message; no share of it becomes a line of its own
    assert "  sampling 4 chains x 1000 draws (500 tuning) on 2 devices\n" in text
    assert "  sampling: " not in text


def test_another_threads_message_goes_above_the_sampling_bar() -> None:
    import threading

    feedback, buffer = live()
    feedback("sampling 4 chains x 1000 draws (500 tuning) on 2 devices")
    feedback("sampling: 20% of 6000 iterations, 0 divergent")
    beside = threading.Thread(
        target=feedback, args=("compiling for this machine (first fit of this model here)",)
    )
    beside.start()
    beside.join()
    feedback("sampling: 60% of 6000 iterations, 0 divergent")
    feedback._progress.refresh()
    line = buffer.getvalue().replace("\r", "\n").splitlines()[-1]
    assert "sampling 4 chains " in line and "3600/6000 iterations" in line
    assert "  compiling for this machine (first fit of this model here)\n" in buffer.getvalue()
    feedback("sampling: 100% of 6000 iterations, 0 divergent")
    feedback("sampled in 1.5 s")  # the sampling thread's own next message ends the phase
    feedback.finish()
    assert "  sampling 4 chains x 1000 draws (500 tuning) on 2 devices\n" in buffer.getvalue()
    assert "sampled in 1.5 s" in buffer.getvalue()


def test_outside_a_terminal_the_chunks_are_a_line_each_quarter(capsys) -> None:
    feedback = Feedback("lines")
    feedback("sampling 4 chains x 1000 draws (500 tuning) on 2 devices")
    for k in range(1, 16):  # 15 chunks of 100 iterations per chain
        feedback(f"sampling: {100 * k // 15}% of 6000 iterations, {k // 5} divergent")
    feedback("1 of 1 scenarios failed the convergence gate; running them again")
    for k in range(1, 16):  # a second run reports its quarters again
        feedback(f"sampling: {100 * k // 15}% of 6000 iterations, 0 divergent")
    lines = capsys.readouterr().err.splitlines()
    shares = [line for line in lines if line.startswith("sampling: ")]
    assert shares == [
        "sampling: 26% of 6000 iterations, 0 divergent",
        "sampling: 53% of 6000 iterations, 1 divergent",
        "sampling: 80% of 6000 iterations, 2 divergent",
        "sampling: 100% of 6000 iterations, 3 divergent",
        "sampling: 26% of 6000 iterations, 0 divergent",
        "sampling: 53% of 6000 iterations, 0 divergent",
        "sampling: 80% of 6000 iterations, 0 divergent",
        "sampling: 100% of 6000 iterations, 0 divergent",
    ]
    assert len(lines) == len(shares) + 2
    # PyMC's sampler reports its quarters itself: each is a line, as before
    Feedback("lines")("sampling: 25% of 1600 iterations")
    assert capsys.readouterr().err == "sampling: 25% of 1600 iterations\n"


def test_after_finish_messages_are_plain_lines(capsys) -> None:
    feedback, _ = live()
    feedback("reading")
    feedback.finish()
    feedback("diagnostics: converged")
    assert capsys.readouterr().err == "diagnostics: converged\n"


def test_lines_and_quiet(capsys) -> None:
    Feedback("lines")("compiling (15 s)")
    Feedback("quiet")("compiling (30 s)")
    assert capsys.readouterr().err == "compiling (15 s)\n"


def run_in_a_terminal(args: list[str], cwd: Path, timeout: float = 240.0) -> tuple[int, str]:
    """Run ``hlhbayes ARGS`` with stdout and stderr on a pseudo-terminal; its exit and output."""
    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": "100", "LINES": "40", "TERM": "xterm"}
    process = subprocess.Popen(
        [str(HLHBAYES), *args],
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        cwd=cwd,
        env=env,
    )
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], timeout)
        if not ready:
            process.kill()
            raise AssertionError("no output from the command in time")
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the command has ended and closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return process.wait(timeout), b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.sampling
def test_a_fit_in_a_terminal_draws_a_live_line(tmp_path) -> None:
    code, output = run_in_a_terminal(
        [
            "fit",
            "--etiology",
            "infection",
            *SHORT,
            "--no-sensitivity",
            "--out",
            str(tmp_path / "run"),
        ],
        tmp_path,
    )
    assert code in (0, 3), output
    assert "\x1b[?25l" in output  # rich's live display hides the cursor while it draws
    assert "\r" in output or "\x1b[2K" in output  # and redraws its line in place
    assert "etiology-line, outcome response" in output  # the phases stay above as lines
    assert "rate_typical" in output  # the results follow, after the live line has ended


def test_a_fit_in_a_pipe_writes_plain_lines(tmp_path) -> None:
    result = subprocess.run(
        [str(HLHBAYES), "fit", "--etiology", "infection", "--dry-run"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    assert "\x1b[" not in result.stderr and "\x1b[" not in result.stdout
