"""Progress feedback: a heartbeat while compiling, milestones while sampling."""

from __future__ import annotations

import threading
import time

from hlhbayes.progress import Heartbeat, SamplingProgress


def test_heartbeat_repeats_until_stopped_then_falls_silent():
    lines: list[str] = []
    with Heartbeat(lines.append, "compiling", every=0.02) as beat:
        deadline = time.perf_counter() + 5
        while len(lines) < 3 and time.perf_counter() < deadline:
            time.sleep(0.01)
    assert len(lines) >= 3
    assert all(line.startswith("compiling (") and line.endswith(" s)") for line in lines)
    count = len(lines)
    time.sleep(0.1)
    assert len(lines) == count  # stopped on exit
    assert not any(t.name == "hlhbayes-heartbeat" and t.is_alive() for t in threading.enumerate())
    beat.stop()  # idempotent


def test_a_quick_step_logs_no_heartbeat():
    lines: list[str] = []
    with Heartbeat(lines.append, "compiling", every=10.0):
        pass
    assert lines == []


def test_sampling_progress_ends_the_heartbeat_at_the_first_draw_and_logs_quarters():
    lines: list[str] = []
    beat = Heartbeat(lambda _m: None, "compiling", every=10.0)
    with beat:
        progress = SamplingProgress(lines.append, total=8, heartbeat=beat)
        for _ in range(8):
            progress(trace=None, draw=None)
        assert not beat._thread.is_alive()
    assert lines[0].startswith("compiled and initialised in ") and lines[0].endswith(" s; sampling")
    assert lines[1:] == [
        "sampling: 25% of 8 iterations",
        "sampling: 50% of 8 iterations",
        "sampling: 75% of 8 iterations",
    ]
