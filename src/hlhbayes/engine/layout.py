"""How the tasks of a batch (one per scenario and chain) are spread over XLA host devices.

A program runs ``tasks = scenarios x chains`` NUTS chains. They are split over ``devices``
XLA host devices (one per core, the devices run in parallel); each device runs its share one
after another (``lax.map``), which on a few cores beats running chains in lock-step
(``vmap``, where every chain waits for the longest tree of the step). Tasks are dealt to the
devices round-robin, so that when only some scenarios of a bucket are real (the rest are
padding and are skipped) every device still gets the same number of real tasks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

AXIS = "tasks"
"""Name of the mesh axis the tasks are sharded along."""


@dataclass(frozen=True)
class Layout:
    """``scenarios`` (the bucket size) x ``chains`` tasks on ``devices`` devices."""

    scenarios: int
    chains: int
    devices: int

    @property
    def tasks(self) -> int:
        """Task slots: scenarios x chains, rounded up to a multiple of the device count."""
        real = self.scenarios * self.chains
        return -(-real // self.devices) * self.devices

    @property
    def tasks_per_device(self) -> int:
        """Tasks each device runs one after another."""
        return self.tasks // self.devices

    def slot_of_task(self) -> np.ndarray:
        """Slot (position in the program's task axis) of each task ``s * chains + c``.

        Device ``d`` owns slots ``d * tasks_per_device ...``; task ``t`` goes to device
        ``t % devices``, position ``t // devices``.
        """
        t = np.arange(self.tasks)
        return (t % self.devices) * self.tasks_per_device + t // self.devices

    def task_table(self, active_scenarios: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per slot: its scenario, its chain and whether it runs (int32, int32, bool)."""
        if not 1 <= active_scenarios <= self.scenarios:
            raise ValueError(
                f"{active_scenarios} scenarios do not fit a bucket of {self.scenarios}"
            )
        t = np.arange(self.tasks)
        scenario = np.zeros(self.tasks, dtype=np.int32)
        chain = np.zeros(self.tasks, dtype=np.int32)
        active = np.zeros(self.tasks, dtype=bool)
        slots = self.slot_of_task()
        real = t < self.scenarios * self.chains
        scenario[slots[real]] = t[real] // self.chains
        chain[slots[real]] = t[real] % self.chains
        active[slots[real]] = t[real] < active_scenarios * self.chains
        return scenario, chain, active

    def per_scenario(self, array: np.ndarray, active_scenarios: int) -> np.ndarray:
        """``(tasks, ...)`` program output -> ``(active_scenarios, chains, ...)``."""
        slots = self.slot_of_task()[: active_scenarios * self.chains]
        return np.asarray(array)[slots].reshape(active_scenarios, self.chains, *array.shape[1:])

    def mesh(self) -> Any:
        """The device mesh of this layout (the first ``devices`` CPU devices)."""
        import jax
        from jax.sharding import Mesh

        return Mesh(np.array(jax.devices("cpu")[: self.devices]), (AXIS,))

    def as_dict(self) -> dict[str, int]:
        """For cache keys and metadata."""
        return {"scenarios": self.scenarios, "chains": self.chains, "devices": self.devices}


def choose_layout(scenarios: int, chains: int, available_devices: int) -> Layout:
    """As many devices as there are devices and tasks (at least one)."""
    return Layout(scenarios, chains, max(1, min(available_devices, scenarios * chains)))
