"""What a command shows on stderr while it works: a live line in a terminal, milestones elsewhere.

The library reports its progress as plain messages through a ``log(message)`` callable (the
header of a fit, "loading the compiled sampler program ...", "sampling 4 chains x 1000 draws
...", "[3/16] scenario ...: fitted in 4.1 s"). :class:`Feedback` is that callable for the
command line, in one of three modes:

- ``quiet`` (``--quiet``): nothing.
- ``lines`` (stderr is not a terminal: a log file, CI): each message on its own line, as
  before. The compiling heartbeat stays a line every few seconds there (a log has no cursor).
- ``live`` (stderr is a terminal): a ``rich`` progress display. Each message becomes the
  current phase, with a spinner and the seconds spent in it; the phase before it stays above as
  a finished line. A heartbeat (the same message with ``(N s)`` appended) updates the current
  line instead of adding one. A message that starts ``[k/N]`` (a multi-fit command's scenario
  ``k`` of ``N``) or ``batch k of N`` moves a bar: ``[3/16] ... about 40 s left``, the time left
  estimated from the mean time of the steps finished so far. While a sampling bar moves, a
  message from another thread (the prior draws a fit prepares beside its sampling) is a line
  above it and leaves the bar in place.

A sampler reports its share of the iterations done: the compiled engine after each chunk of
iterations, with the divergent draws so far (``sampling: 40% of 6000 iterations, 2
divergent``), PyMC's sampler each quarter (``sampling: 50% of N iterations``). In a terminal a
share moves the sampling phase's bar: ``sampling 4 chains``, the iterations done of all chains,
the divergent draws, the elapsed time and the time left. As plain lines only the first share
past each quarter is written (a few lines per fit, not one per chunk). Before a command writes
its results to stdout it calls :func:`finish` (the output helpers of :mod:`hlhbayes.cli.common`
do), so a table never lands inside the live display; messages after that are plain lines.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from typing import Any, Literal, TextIO

import click

Mode = Literal["quiet", "lines", "live"]

_HEARTBEAT = re.compile(r"^(?P<text>.*?) \(\d+ s\)$")
_SHARE = re.compile(
    r"^sampling: (?P<share>\d+)% of (?P<total>\d+) iterations"
    r"(?:, (?P<divergent>\d+) divergent)?$"
)
_SAMPLED = re.compile(r"^sampling (\d+ scenarios x )?\d+ chains")
MILESTONE_PERCENT = 25
"""Outside a terminal, a sampler's progress is a line each time it passes a multiple of this."""
_STEP = re.compile(r"^\[(?P<k>\d+)/(?P<n>\d+)\]\s*|^batch (?P<bk>\d+) of (?P<bn>\d+)\b")

_current: Feedback | None = None


def choose_mode(quiet: bool, stream: TextIO | None = None) -> Mode:
    """``quiet`` with ``--quiet``, ``live`` when ``stream`` (stderr) is a terminal, else ``lines``."""
    if quiet:
        return "quiet"
    stream = stream if stream is not None else sys.stderr
    try:
        return "live" if stream.isatty() else "lines"
    except (AttributeError, ValueError):  # a closed or unusual stream: plain lines
        return "lines"


def step_of(message: str) -> tuple[int, int] | None:
    """``(k, n)`` of a message that reports step ``k`` of ``n`` (``[k/n] ...``, ``batch k of n``)."""
    match = _STEP.match(message)
    if match is None:
        return None
    k, n = (match["k"], match["n"]) if match["k"] else (match["bk"], match["bn"])
    return int(k), int(n)


def time_left(done: int, total: int, elapsed: float) -> float | None:
    """Seconds left for ``total - done`` steps at the mean pace of the ``done`` finished ones."""
    if done <= 0 or total <= done:
        return None
    return elapsed / done * (total - done)


def about(seconds: float) -> str:
    """``about 40 s left`` / ``about 3 min left``, rounded as a person would say it.

    Under 5 s there is nothing to round to: ``under 5 s left``.
    """
    if seconds < 5:
        return "under 5 s left"
    if seconds < 90:
        return f"about {max(5, 5 * round(seconds / 5)):.0f} s left"
    return f"about {round(seconds / 60):.0f} min left"


def _time_left_column() -> Any:
    from rich.progress import ProgressColumn
    from rich.text import Text

    class TimeLeft(ProgressColumn):
        """``about 40 s left``, counted down from the expected end (``task.fields["end"]``)."""

        def render(self, task: Any) -> Text:
            end = task.fields.get("end")
            if end is None:
                return Text("")
            left = end - time.perf_counter()
            return Text(about(left) if left > 0 else "finishing")

    return TimeLeft()


class Feedback:
    """The ``log`` of a command: see the module docstring for the three modes."""

    def __init__(self, mode: Mode, console: Any = None) -> None:
        self.mode: Mode = mode
        self._console = console
        self._progress: Any = None
        self._phase: Any = None
        self._phase_text = ""
        self._phase_started = 0.0
        self._phase_thread: int | None = None  # the thread whose message began the phase
        self._steps: Any = None
        self._steps_started = 0.0
        self._started = time.perf_counter()  # the command's start: the first step's too
        self._last_share = 0
        self._last_milestone = 0
        self._lock = threading.RLock()

    # -- the log callable ------------------------------------------------------------------
    def __call__(self, message: str) -> None:
        """Show one progress message (see the module docstring)."""
        if self.mode == "quiet":
            return
        with self._lock:  # heartbeats and timers log from their own threads
            if self.mode == "lines" or self._progress is False:
                if self._milestone(message):
                    click.echo(message, err=True)
                return
            self._live(message)

    def _milestone(self, message: str) -> bool:
        """Whether a plain line shows ``message``: a sampler's share only at each quarter.

        A share below the last one starts another sampling run (a re-run, the next batch).
        """
        share = _SHARE.match(message)
        if share is None:
            return True
        percent = int(share["share"])
        if percent < self._last_share:
            self._last_milestone = 0
        self._last_share = percent
        milestone = percent // MILESTONE_PERCENT
        if milestone <= self._last_milestone:
            return False
        self._last_milestone = milestone
        return True

    # -- live mode -------------------------------------------------------------------------
    def _start(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        console = self._console or Console(stderr=True)
        self._progress = Progress(
            SpinnerColumn(finished_text="-"),
            TextColumn("{task.description}"),
            BarColumn(bar_width=16),
            TextColumn("{task.fields[count]}"),
            TimeElapsedColumn(),
            _time_left_column(),
            console=console,
            redirect_stdout=False,  # results go to stdout untouched (they may be piped)
            redirect_stderr=False,
            transient=False,
        )
        self._progress.start()

    def _live(self, message: str) -> None:
        if self._progress is None:
            self._start()
        progress = self._progress
        beat = _HEARTBEAT.match(message)
        if beat is not None:  # the live line counts the seconds itself
            message = beat["text"]
            if self._phase is not None and message == self._phase_text:
                return
        step = step_of(message)
        if step is not None:
            self._step(*step, message)
            return
        share = _SHARE.match(message)
        if share is not None and self._phase is not None:
            self._share(int(share["share"]), int(share["total"]), share["divergent"])
            return
        if self._beside_sampling():
            progress.console.print(f"  {message}", highlight=False, markup=False)
            return
        if self._phase is not None:
            progress.console.print(f"  {self._phase_text}", highlight=False, markup=False)
            progress.remove_task(self._phase)
        self._phase_text = message
        self._phase_started = time.perf_counter()
        self._phase_thread = threading.get_ident()
        self._phase = progress.add_task(self._label(message), total=None, end=None, count="")

    def _beside_sampling(self) -> bool:
        """Whether a message comes from other work while the sampling bar moves.

        A fit prepares its prior draws in a second thread while it samples: that thread's
        messages ("compiling for this machine ...") go above as lines, and the sampling bar
        stays the current line.
        """
        return (
            self._phase is not None
            and _SAMPLED.match(self._phase_text) is not None
            and threading.get_ident() != self._phase_thread
        )

    def _share(self, percent: int, total: int, divergent: str | None) -> None:
        """A sampler's "sampling: 50% of N iterations[, D divergent]": the phase's bar moves.

        The bar's line: what is sampled ("sampling 4 chains", "sampling 8 scenarios x 4
        chains"), the bar, the iterations done of all chains and the divergent draws so far,
        the elapsed time and the time left.
        """
        now = time.perf_counter()
        left = time_left(percent, 100, now - self._phase_started)
        count = f"{total * percent // 100}/{total} iterations"
        if divergent is not None:
            count += f", {divergent} divergent"
        self._progress.update(
            self._phase,
            completed=percent,
            total=100,
            description=self._label(_what_is_sampled(self._phase_text), len(count)),
            count=count,
            end=None if left is None else now + left,
        )

    def _step(self, k: int, n: int, message: str) -> None:
        progress = self._progress
        now = time.perf_counter()
        if self._phase is not None:
            progress.console.print(f"  {self._phase_text}", highlight=False, markup=False)
            progress.remove_task(self._phase)
            self._phase = None
        # a "[k/n]" message reports step k finished or starting: steps before k are done
        done = k if _finished(message) else k - 1
        if self._steps is None or k == 1:
            if self._steps is not None:
                progress.remove_task(self._steps)
            self._steps = progress.add_task("", total=n, end=None, count="")
            # a first step reported when it ends began with the command
            self._steps_started = self._started if done == 1 else now
        left = time_left(done, n, now - self._steps_started)
        progress.console.print(f"  {message}", highlight=False, markup=False)
        progress.update(
            self._steps,
            completed=done,
            total=n,
            description=self._label(f"{done} of {n} done" if done == k else message),
            count=f"[{done}/{n}]",
            end=None if left is None else now + left,
        )

    def _label(self, message: str, count: int = 4) -> str:
        """``message`` cut to leave room for the bar, a ``count``-character count and the times."""
        room = max(20, self._progress.console.width - 46 - count)
        return _plain(_short(message, room))

    # -- the end ---------------------------------------------------------------------------
    def finish(self) -> None:
        """Stop the live display (idempotent); later messages are plain lines on stderr."""
        with self._lock:
            self._finish()

    def _finish(self) -> None:
        progress = self._progress
        if progress is None or progress is False:
            self._progress = False
            return
        if self._phase is not None:
            progress.remove_task(self._phase)
            progress.console.print(f"  {self._phase_text}", highlight=False, markup=False)
            self._phase = None
        if self._steps is not None:
            progress.remove_task(self._steps)
            self._steps = None
        progress.stop()
        self._progress = False


def _finished(message: str) -> bool:
    """Whether a step message reports its step done rather than starting it.

    ``[2/5] base: fitting on the current base (...)`` starts step 2; ``[2/5] +X: ..., sampled in
    3.1 s`` and ``[2/5] base: up to date`` end it.
    """
    if re.search(r"\bin \d", message):
        return True
    return re.search(r"\b(fitting|sampling|starting|scenarios \d)", message) is None


def _what_is_sampled(phase: str) -> str:
    """``sampling 4 chains`` of ``sampling 4 chains x 1000 draws (500 tuning) on 2 devices``."""
    match = _SAMPLED.match(phase)
    return match[0] if match else phase.split(" (")[0]


def _short(message: str, width: int = 60) -> str:
    return message if len(message) <= width else message[: width - 3].rstrip() + "..."


def _plain(text: str) -> str:
    """``text`` with rich markup made literal (study names may hold brackets)."""
    from rich.markup import escape

    return escape(text)


def feedback(quiet: bool) -> Feedback:
    """The ``log`` of the running command; its live display stops when the command ends."""
    global _current
    if _current is not None:
        _current.finish()
    _current = Feedback(choose_mode(quiet))
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.call_on_close(_current.finish)
    return _current


def finish() -> None:
    """Stop the running command's live display before its results go to stdout."""
    if _current is not None:
        _current.finish()
