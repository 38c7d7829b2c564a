"""The JAX runtime the compiled programs run in: host devices, float64, no compilation cache.

Four settings must be in place before JAX first touches its CPU backend, and must be the same
in every process, because they change the programs or their machine code:

* ``--xla_force_host_platform_device_count`` in ``XLA_FLAGS``: one XLA host device per core
  (at most :data:`MAX_HOST_DEVICES`), so that chains run in parallel on separate devices.
  Importing ``pymc.sampling.jax`` rewrites ``XLA_FLAGS`` to 100 devices;
  :func:`pinned_xla_flags` puts the engine's value back for the duration of a compilation, and
  the machine code is keyed on the engine's value (:func:`engine_flags`).
* ``jax_enable_x64``: PyMC models are written in float64.
* no Python source locations in the programs (``jax_traceback_in_locations_limit`` 0): by
  default JAX writes the file path and line of the traced code into every operation, so the
  same program built in two checkouts (or installs) would have different bytes, and the
  machine code, which is keyed on the program's bytes, would be compiled once per folder.
* JAX's persistent compilation cache off: the engine stores the machine code of its programs
  itself (:mod:`hlhbayes.engine.machine_code`), and only machine code that XLA has just
  compiled can be stored that way (an executable JAX read from its own cache cannot be
  serialised again).

``--xla_backend_optimization_level=0`` is deliberately not used: it changes the numbers and
makes NUTS several times slower.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from types import ModuleType

MAX_HOST_DEVICES = 8
"""More host devices than this bring nothing for a few chains and cost start-up time."""

_DEVICE_FLAG = re.compile(r"--xla_force_host_platform_device_count=\S+")
_state: dict[str, str] = {}


def usable_cores() -> int:
    """The number of CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def host_device_count() -> int:
    """How many XLA host devices the engine asks for: one per core, at most 8."""
    return min(usable_cores(), MAX_HOST_DEVICES)


def engine_xla_flags(current: str | None, devices: int) -> str:
    """``current`` XLA flags with the host device count set to ``devices`` (other flags kept)."""
    kept = _DEVICE_FLAG.sub("", current or "").split()
    return " ".join([f"--xla_force_host_platform_device_count={devices}", *kept])


def configure() -> ModuleType:
    """Set up JAX for the engine (idempotent) and return the ``jax`` module.

    Must run before anything else initialises JAX's CPU backend in this process; if something
    did, the devices it created are used as they are (the layout then adapts to them).
    """
    if "xla_flags" not in _state:
        _state["xla_flags"] = engine_xla_flags(os.environ.get("XLA_FLAGS"), host_device_count())
    os.environ["XLA_FLAGS"] = _state["xla_flags"]

    import jax

    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_traceback_in_locations_limit", 0)
    if jax.config.jax_enable_compilation_cache:  # on by default, or by the user's settings
        jax.config.update("jax_enable_compilation_cache", False)
        _reset_compilation_cache()
    return jax


def engine_flags() -> str:
    """The ``XLA_FLAGS`` the engine compiles under (after :func:`configure`)."""
    return _state["xla_flags"]


def _reset_compilation_cache() -> None:
    """Make JAX re-read the cache settings (it reads them once, at the first compilation)."""
    from jax.experimental import compilation_cache

    compilation_cache.compilation_cache.reset_cache()


def available_devices() -> int:
    """The number of CPU devices JAX has in this process."""
    import jax

    return len(jax.devices("cpu"))


@contextlib.contextmanager
def pinned_xla_flags() -> Iterator[None]:
    """Keep ``XLA_FLAGS`` at the engine's value while XLA compiles."""
    saved = os.environ.get("XLA_FLAGS")
    if "xla_flags" in _state:
        os.environ["XLA_FLAGS"] = _state["xla_flags"]
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("XLA_FLAGS", None)
        else:
            os.environ["XLA_FLAGS"] = saved
