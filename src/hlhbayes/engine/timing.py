"""Wall-clock and CPU time of each phase of a fit, for the speed benchmarks.

CPU time (``time.process_time``: all threads of this process) is the stable figure on a shared
machine; wall time is what a user waits. Both are kept per phase.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class Timings:
    """Seconds per phase: ``wall[phase]`` and ``cpu[phase]`` (repeated phases add up)."""

    wall: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time the ``with`` block as phase ``name``."""
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.wall[name] = self.wall.get(name, 0.0) + time.perf_counter() - wall
            self.cpu[name] = self.cpu.get(name, 0.0) + time.process_time() - cpu

    def merge(self, other: Timings) -> None:
        """Add ``other``'s phases to these."""
        for name, seconds in other.wall.items():
            self.wall[name] = self.wall.get(name, 0.0) + seconds
        for name, seconds in other.cpu.items():
            self.cpu[name] = self.cpu.get(name, 0.0) + seconds

    def as_dict(self) -> dict[str, dict[str, float]]:
        """``{phase: {"wall": s, "cpu": s}}`` in the order the phases first ran."""
        return {name: {"wall": self.wall[name], "cpu": self.cpu[name]} for name in self.wall}
