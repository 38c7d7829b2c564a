"""Feedback during long silent work: a heartbeat while the model compiles, milestones while sampling.

PyMC prints nothing while it compiles the model (about a minute and a half the first time on a
machine, a few seconds once PyTensor's cache is warm), and its own progress bar is off (the
command's display shows progress). :class:`Heartbeat` says every few seconds that compiling is
still going on; :class:`SamplingProgress`, passed to ``pm.sample(callback=...)``, stops the
heartbeat at the first draw and reports each quarter of the iterations.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

Log = Callable[[str], None]


class Heartbeat:
    """Log ``message`` with the elapsed seconds every ``every`` seconds until stopped."""

    def __init__(self, log: Log, message: str, every: float = 15.0) -> None:
        self.log = log
        self.message = message
        self.every = every
        self.start_time = time.perf_counter()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hlhbayes-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self.start_time = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def elapsed(self) -> float:
        """Seconds since the heartbeat started."""
        return time.perf_counter() - self.start_time

    def stop(self) -> None:
        """Stop (idempotent); returns once the thread has finished."""
        self._stopped.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    def _run(self) -> None:
        while not self._stopped.wait(self.every):
            self.log(f"{self.message} ({self.elapsed:.0f} s)")


class SamplingProgress:
    """A ``pm.sample`` callback: the end of compiling, then each ``1/steps`` of the iterations.

    ``total`` is the number of iterations over all chains (tuning included): PyMC calls the
    callback once per iteration and chain.
    """

    def __init__(
        self,
        log: Log,
        total: int,
        heartbeat: Heartbeat | None = None,
        steps: int = 4,
    ) -> None:
        self.log = log
        self.total = max(1, int(total))
        self.heartbeat = heartbeat
        self.marks = {round(self.total * k / steps): k for k in range(1, steps)}
        self.steps = steps
        self.count = 0

    def __call__(self, trace: Any = None, draw: Any = None) -> None:
        """Count one iteration (PyMC's callback signature)."""
        self.count += 1
        if self.count == 1 and self.heartbeat is not None:
            self.heartbeat.stop()
            self.log(f"compiled and initialised in {self.heartbeat.elapsed:.1f} s; sampling")
        if self.count in self.marks:
            share = 100 * self.marks[self.count] // self.steps
            self.log(f"sampling: {share}% of {self.total} iterations")
