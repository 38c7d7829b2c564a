"""Getting a program ready to run: from the in-process memo, from the cache, or built once.

The first fit of a model structure builds the program (PyMC builds the model,
:mod:`hlhbayes.engine.graph` jaxifies it, :mod:`hlhbayes.engine.program` traces and exports it)
and stores it in the compiled-fit cache. Every fit, the first included, then runs the program
*deserialised from its bytes*, so that the first fit and every later one run the same program
and give the same numbers for the same seed. XLA's machine code for it comes from the cache's
machine-code store (or is compiled, the first time on a machine, and stored there:
:mod:`hlhbayes.engine.machine_code`).

Building a program holds its lock in the cache
(:meth:`~hlhbayes.engine.cache.CompiledFitCache.building`), and compiling it holds the lock of
its machine code: of several processes that need a new program at once, one builds and
compiles it, the others wait and then load it.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from hlhbayes.engine.cache import CompiledFitCache, Entry, cache_key
from hlhbayes.engine.fingerprint import engine_fingerprint, package_versions
from hlhbayes.engine.graph import ModelFunctions
from hlhbayes.engine.model import CompiledModel
from hlhbayes.engine.timing import Timings

Log = Callable[[str], None]


def silent(_message: str) -> None:
    """A log that drops every message."""


Signature = dict[str, tuple[tuple[int, ...], str]]
"""Data name -> (shape, dtype) of the arrays a caller passes for one scenario."""

PROGRAM_FILE = "program.jaxexport"

_programs: dict[tuple[str, str], Program] = {}
"""Programs loaded in this process, by (cache folder, key)."""
_functions: dict[str, ModelFunctions] = {}
_lock = threading.Lock()


@dataclass
class Program:
    """A deserialised program and its metadata; ``compiled`` once XLA code is loaded."""

    key: str
    meta: dict[str, Any]
    exported: Any
    cache: CompiledFitCache
    compiled: Any = None

    def ensure_compiled(self, args: list[Any], log: Log, timings: Timings) -> Any:
        """XLA code for ``args``' devices: from the machine-code store, or compiled and stored."""
        if self.compiled is None:
            from hlhbayes.engine.machine_code import executable_for

            program_sha256 = self.meta["files"][PROGRAM_FILE]["sha256"]
            self.compiled = executable_for(
                self.exported, program_sha256, self.meta["model"], args, self.cache, log, timings
            )
        return self.compiled


def signature_of(scenarios: list[Mapping[str, Any]]) -> Signature:
    """The common data signature of ``scenarios``; ``ValueError`` if they differ."""
    if not scenarios:
        raise ValueError("no data given")
    first = {name: _shape_dtype(value) for name, value in scenarios[0].items()}
    for i, scenario in enumerate(scenarios[1:], start=1):
        other = {name: _shape_dtype(value) for name, value in scenario.items()}
        if other != first:
            raise ValueError(
                f"scenario {i} has other data names, shapes or dtypes than scenario 0: "
                f"{_describe(other)} != {_describe(first)}"
            )
    return first


def key_payload(
    kind: str, model: CompiledModel, signature: Signature, extra: Mapping[str, Any]
) -> dict[str, Any]:
    """Everything a program of ``kind`` depends on (hashed into its cache key)."""
    return {
        "kind": kind,
        "model": model.key_payload(),
        "data": {name: [list(shape), dtype] for name, (shape, dtype) in sorted(signature.items())},
        "engine_source": engine_fingerprint(),
        "versions": package_versions(),
        "x64": True,
        **extra,
    }


def get_program(
    payload: dict[str, Any],
    model: CompiledModel,
    signature: Signature,
    export: Callable[[ModelFunctions], bytes],
    cache: CompiledFitCache,
    log: Log,
    timings: Timings,
) -> Program:
    """The program for ``payload``: memo, else cache, else built with ``export`` and stored."""
    key = cache_key(payload)
    memo = (str(cache.root), key)
    with _lock:
        if memo in _programs:
            return _programs[memo]
    with timings.phase("cache_load"):
        entry = cache.load(key, on_problem=log)
    if entry is None:
        with cache.building(key, cache.waiting_notice(log)):
            with timings.phase("cache_load"):  # another process may have built it meanwhile
                entry = cache.load(key, on_problem=log)
            if entry is None:
                log(
                    f"building the compiled {payload['kind']} program for {model.name} "
                    "(once per model structure)"
                )
                with timings.phase("build"):
                    functions = model_functions(model, signature)
                    from hlhbayes.engine.program import program_meta

                    meta = {"kind": payload["kind"], "model": model.name, **program_meta(functions)}
                    blob = export(functions)
                with timings.phase("cache_store"):
                    entry = cache.store(key, payload, meta, {PROGRAM_FILE: blob}, log)
                return _deserialised(memo, entry, cache, timings)
    log(f"loading the compiled {payload['kind']} program for {model.name}")
    return _deserialised(memo, entry, cache, timings)


def _deserialised(
    memo: tuple[str, str], entry: Entry, cache: CompiledFitCache, timings: Timings
) -> Program:
    """The program stored in ``entry``, kept in this process's memo."""
    import jax

    with timings.phase("deserialize"):
        exported = jax.export.deserialize(bytearray(entry.files[PROGRAM_FILE]))
    program = Program(entry.key, entry.meta, exported, cache)
    with _lock:
        return _programs.setdefault(memo, program)


def model_functions(model: CompiledModel, signature: Signature) -> ModelFunctions:
    """Build and jaxify the PyMC model once per process and check it against ``signature``."""
    key = cache_key(key_payload("functions", model, signature, {}))
    with _lock:
        if key in _functions:
            return _functions[key]
    from hlhbayes.engine.graph import model_functions as jaxify_model

    functions = jaxify_model(model.build())
    expected = {d.name: d for d in functions.data}
    if set(expected) != set(signature):
        raise ValueError(
            f"model {model.name}: its pm.Data are {sorted(expected)}, the data given are "
            f"{sorted(signature)}"
        )
    for name, (shape, _) in signature.items():
        if tuple(expected[name].shape) != shape:
            raise ValueError(
                f"model {model.name}: data {name!r} has shape {shape}, the model built it with "
                f"{expected[name].shape} (build() must use the shapes of the data passed)"
            )
    with _lock:
        return _functions.setdefault(key, functions)


def data_arguments(
    meta: Mapping[str, Any], scenarios: list[Mapping[str, Any]], scenario_slots: int | None
) -> list[np.ndarray]:
    """The data arguments of a program, cast to the model's dtypes.

    ``scenario_slots``: stack the scenarios along a leading axis of that length (slots beyond
    the scenarios repeat scenario 0: they are padding, never sampled); None: one data set.
    """
    out = []
    for spec in meta["data"]:
        name, dtype = spec["name"], np.dtype(spec["dtype"])
        arrays = [_cast(np.asarray(s[name]), dtype, name) for s in scenarios]
        if scenario_slots is None:
            out.append(arrays[0])
        else:
            arrays += [arrays[0]] * (scenario_slots - len(arrays))
            out.append(np.stack(arrays))
    return out


def data_digest(data: Mapping[str, Any]) -> str:
    """SHA-256 over the names, dtypes, shapes and values of ``data``."""
    digest = hashlib.sha256()
    for name in sorted(data):
        array = np.ascontiguousarray(np.asarray(data[name]))
        digest.update(f"{name}\0{array.dtype.str}\0{array.shape}\0".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _cast(value: np.ndarray, dtype: np.dtype, name: str) -> np.ndarray:
    cast = value.astype(dtype, copy=False)
    if not np.array_equal(cast, value, equal_nan=dtype.kind == "f"):
        raise ValueError(f"data {name!r} has values that do not fit the model's {dtype}")
    return cast


def _shape_dtype(value: Any) -> tuple[tuple[int, ...], str]:
    array = np.asarray(value)
    return tuple(int(n) for n in array.shape), array.dtype.str


def _describe(signature: Signature) -> str:
    return ", ".join(f"{n}{list(s)}:{d}" for n, (s, d) in sorted(signature.items()))


def forget_programs() -> None:
    """Drop the in-process memo (the next fit reads the cache again)."""
    with _lock:
        _programs.clear()
        _functions.clear()
