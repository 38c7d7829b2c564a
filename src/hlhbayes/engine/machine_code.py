"""XLA's machine code for a program: loaded from the compiled-fit cache, or compiled and stored.

The engine stores the compiled executable itself (``jax.experimental.serialize_executable``) in
the cache's ``machine-code/`` store and loads it back directly. Handing the program to JAX
instead would lower it again in every process (about 0.3 s, and the import of ``scipy.linalg``
for LAPACK kernels the programs never call, about 0.2 s) only to compute the key under which
JAX's own persistent cache holds the machine code.

The store is keyed by what the machine code depends on:

* the program: the SHA-256 of its serialised bytes (``jax.export``), so that two programs with
  the same bytes share machine code and a program built differently is compiled anew;
* the devices it runs on (their ids) and the number of host devices of the process;
* the ``XLA_FLAGS`` it was compiled under, and the package versions (JAX and jaxlib among
  them);
* this machine: machine code is compiled for the CPU it runs on (its instruction-set
  extensions), and a cache folder may be shared between machines.

Only machine code XLA has just compiled can be serialised (an executable that JAX read from its
own persistent cache cannot be stored again), so JAX's persistent cache is off in the engine
(:mod:`hlhbayes.engine.runtime`). Machine code that cannot be loaded (a stored entry that passed
its checksums but that this JAX refuses) is removed and compiled again. Of several processes
that need the same machine code, one compiles it under the store's lock and the others load it.
"""

from __future__ import annotations

import contextlib
import hashlib
import platform
import threading
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

from hlhbayes.engine import runtime
from hlhbayes.engine.cache import CompiledFitCache, Entry, cache_key
from hlhbayes.engine.fingerprint import package_versions
from hlhbayes.engine.timing import Timings

Log = Callable[[str], None]

EXECUTABLE_FILE = "executable.xla"
SLOW_COMPILE_NOTICE_SECONDS = 1.0


@cache
def machine_fingerprint() -> str:
    """SHA-256 of what identifies this machine's CPU to a compiler.

    On Linux: the processor's model name and its instruction-set flags (``/proc/cpuinfo``);
    elsewhere: the architecture and processor name Python reports.
    """
    described = f"{platform.machine()}\0{platform.processor()}"
    with contextlib.suppress(OSError):
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        first = text.split("\n\n", 1)[0]
        wanted = ("model name", "flags", "Features", "CPU part", "CPU implementer")
        lines = sorted(
            line.split(":", 1)[0].strip() + ":" + " ".join(sorted(line.split(":", 1)[1].split()))
            for line in first.splitlines()
            if ":" in line and line.split(":", 1)[0].strip() in wanted
        )
        described += "\0" + "\n".join(lines)
    return hashlib.sha256(described.encode()).hexdigest()


def payload_of(program_sha256: str, device_ids: list[int], host_devices: int) -> dict[str, Any]:
    """Everything the machine code of a program depends on (hashed into its key)."""
    return {
        "kind": "machine code",
        "program": program_sha256,
        "devices": device_ids,
        "host_devices": host_devices,
        "xla_flags": runtime.engine_flags(),
        "machine": machine_fingerprint(),
        "versions": package_versions(),
    }


def executable_for(
    exported: Any,
    program_sha256: str,
    model: str,
    args: list[Any],
    cache: CompiledFitCache,
    log: Log,
    timings: Timings,
) -> Any:
    """The compiled executable of ``exported`` for ``args``: stored, or compiled and stored."""
    import jax

    devices = _execution_devices(args)
    payload = payload_of(program_sha256, [d.id for d in devices], runtime.available_devices())
    key = cache_key(payload)
    store = cache.machine_code
    in_tree = jax.tree_util.tree_structure((tuple(args), {}))

    def stored() -> Any:
        """The stored executable, or None (code this JAX refuses is removed)."""
        with timings.phase("machine_code_load"):
            entry = store.load(key, on_problem=log)
            if entry is None:
                return None
            try:
                return _load(entry, in_tree, exported.out_tree, devices)
            except Exception as exc:  # any refusal of stored machine code: compile it again
                log(
                    f"stored machine code {key[:12]} could not be loaded ({exc}); compiling it again"
                )
                store.discard(entry)
                return None

    compiled = stored()
    if compiled is None:
        with store.building(key, store.waiting_notice(log)):
            compiled = stored()  # compiled by another process meanwhile?
            if compiled is None:
                compiled = _compile_and_store(
                    exported, model, args, payload, key, store, log, timings
                )
    return compiled


def _compile_and_store(
    exported: Any,
    model: str,
    args: list[Any],
    payload: dict[str, Any],
    key: str,
    store: CompiledFitCache,
    log: Log,
    timings: Timings,
) -> Any:
    import jax
    from jax.experimental.serialize_executable import serialize

    with runtime.pinned_xla_flags():
        with timings.phase("xla_lower"):
            lowered = jax.jit(exported.call).lower(*args)
        notice = "compiling for this machine (first fit of this model here)"
        with timings.phase("xla"), _notice_if_slow(log, notice):
            compiled = lowered.compile()
    with timings.phase("cache_store"):
        blob, in_tree, _ = serialize(compiled)
        if in_tree != jax.tree_util.tree_structure((tuple(args), {})):
            raise RuntimeError(f"machine code of {model}: unexpected argument structure {in_tree}")
        store.store(
            key, payload, {"kind": "machine code", "model": model}, {EXECUTABLE_FILE: blob}, log
        )
    return compiled


def _load(entry: Entry, in_tree: Any, out_tree: Any, devices: list[Any]) -> Any:
    from jax.experimental.serialize_executable import deserialize_and_load

    return deserialize_and_load(
        entry.files[EXECUTABLE_FILE], in_tree, out_tree, execution_devices=devices
    )


def _execution_devices(args: list[Any]) -> list[Any]:
    """The devices ``args`` live on (by id); the default CPU device for host arrays."""
    import jax

    found = {d for a in args if isinstance(a, jax.Array) for d in a.sharding.device_set}
    return sorted(found, key=lambda d: d.id) if found else [jax.devices("cpu")[0]]


@contextlib.contextmanager
def _notice_if_slow(log: Log, message: str) -> Iterator[None]:
    """Log ``message`` if the block still runs after a second: XLA is compiling, not loading."""
    timer = threading.Timer(SLOW_COMPILE_NOTICE_SECONDS, log, args=(message,))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
