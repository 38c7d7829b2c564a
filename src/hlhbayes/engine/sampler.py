"""Fitting with compiled programs: one data set, a batch of scenarios, or prior draws.

A warm fit imports ``jax``, ``numpy`` and ``xarray`` only (no PyMC, PyTensor, numpyro or ArviZ):
it reads the program from the compiled-fit cache, gets its machine code from the cache's
machine-code store, runs it and returns plain xarray Datasets. The sampler program runs a chunk
of iterations per call (:mod:`hlhbayes.engine.program`); between calls the fit reports its
progress through ``log`` (``sampling: 40% of 6000 iterations, 2 divergent``), and a
``KeyboardInterrupt`` (Ctrl-C, or raised by ``log``) stops it there. Coordinates (study ids, ...) are
given by the caller at run time: they are data, not part of the program. Where the caller's
coordinates for a dimension are shorter than the program's (padded) dimension, the padded
entries are dropped from the output.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np

from hlhbayes.engine import runtime
from hlhbayes.engine.assemble import posterior_dataset, sample_stats_dataset
from hlhbayes.engine.buckets import SCENARIO_BUCKETS, scenario_bucket
from hlhbayes.engine.cache import CompiledFitCache, cache_key
from hlhbayes.engine.layout import Layout, choose_layout
from hlhbayes.engine.model import CompiledModel, SamplerSettings
from hlhbayes.engine.program import (
    STATS,
    TASK_ARGUMENTS,
    StaticSettings,
    export_prior,
    export_sampler,
)
from hlhbayes.engine.programs import (
    Log,
    Program,
    data_arguments,
    data_digest,
    get_program,
    key_payload,
    signature_of,
    silent,
)
from hlhbayes.engine.results import BatchFit, Fit, Gate, PriorDraws, ScenarioFit, convergence
from hlhbayes.engine.timing import Timings

PRIOR_DRAWS = 1000
DRAWS_FILE = "draws.npz"
DEFAULT_SETTINGS = SamplerSettings()
DEFAULT_GATE = Gate()
Coords = Mapping[str, Sequence[Any]]


def fit(
    model: CompiledModel,
    data: Mapping[str, Any],
    *,
    settings: SamplerSettings = DEFAULT_SETTINGS,
    seed: int = 1,
    coords: Coords | None = None,
    prior_draws: int = PRIOR_DRAWS,
    gate: Gate = DEFAULT_GATE,
    log: Log = silent,
    cache: CompiledFitCache | None = None,
) -> Fit:
    """Posterior (NUTS) and prior draws of ``model`` for one data set.

    The prior program is prepared and run in a second thread while the NUTS program is
    loaded (or compiled, on a cold start) and run.
    """
    cache = cache or CompiledFitCache()
    timings = Timings()
    with timings.phase("jax_import"):
        runtime.configure()
    prior_box: dict[str, Any] = {}

    def prior_worker() -> None:
        try:
            prior_box["result"] = sample_prior(
                model, data, draws=prior_draws, seed=seed, coords=coords, log=log, cache=cache
            )
        except BaseException as error:  # handed to the caller's thread below
            prior_box["error"] = error

    batch = sample_batch(
        model,
        [data],
        settings=settings,
        seeds=seed,
        coords=coords,
        gate=gate,
        log=log,
        cache=cache,
        before_compile=lambda: _start(prior_worker, prior_box),
    )
    with timings.phase("prior_wait"):
        if "thread" not in prior_box:  # no program ran
            prior_worker()
        else:
            prior_box["thread"].join()
    if "error" in prior_box:
        raise prior_box["error"]
    prior: PriorDraws = prior_box["result"]
    timings.merge(batch.timings)
    for name, seconds in prior.timings.wall.items():
        timings.wall[f"prior_{name}"] = seconds
        timings.cpu[f"prior_{name}"] = prior.timings.cpu[name]
    only = batch.fits[0]
    return Fit(
        posterior=only.posterior,
        sample_stats=only.sample_stats,
        convergence=only.convergence,
        prior=prior.prior,
        prior_predictive=prior.prior_predictive,
        seed=seed,
        target_accept=only.target_accept,
        tune=only.tune,
        timings=timings,
    )


def _start(worker: Callable[[], None], box: dict[str, Any]) -> None:
    if "thread" not in box:
        box["thread"] = threading.Thread(target=worker, name="hlhbayes-prior", daemon=True)
        box["thread"].start()


def sample_batch(
    model: CompiledModel,
    scenarios: Sequence[Mapping[str, Any]],
    *,
    settings: SamplerSettings = DEFAULT_SETTINGS,
    seeds: int | Sequence[int] = 1,
    target_accept: float | Sequence[float] | None = None,
    coords: Coords | None = None,
    gate: Gate = DEFAULT_GATE,
    log: Log = silent,
    cache: CompiledFitCache | None = None,
    scenario_slots: int | None = None,
    before_compile: Callable[[], None] | None = None,
) -> BatchFit:
    """NUTS for every scenario (data set) through one compiled program per bucket of 64.

    ``seeds`` and ``target_accept`` (default: ``settings.target_accept``) are one value for
    all scenarios or one per scenario. Every scenario's fit carries its own convergence
    verdict. ``scenario_slots``: run in a program for at least this many scenarios (a bucket
    size), e.g. to re-run a few scenarios of a batch in the batch's own program.
    ``before_compile`` is called once, before the first program is loaded or compiled.
    """
    scenarios = list(scenarios)
    n = len(scenarios)
    seed_list = _per_scenario(seeds, n, "seeds", int)
    accept_list = _per_scenario(
        settings.target_accept if target_accept is None else target_accept,
        n,
        "target_accept",
        float,
    )
    for value in accept_list:
        if not 0 < value < 1:
            raise ValueError(f"target_accept must lie in (0, 1), got {value}")
    cache = cache or CompiledFitCache()
    timings = Timings()
    with timings.phase("jax_import"):
        runtime.configure()
    signature = signature_of(scenarios)
    chunk = SCENARIO_BUCKETS[-1]
    fits: list[ScenarioFit] = []
    for start in range(0, n, chunk):
        part = slice(start, min(n, start + chunk))
        if n > chunk:
            log(
                f"batch {start // chunk + 1} of {-(-n // chunk)}: scenarios {part.start + 1}-{part.stop}"
            )
        slots = scenario_bucket(max(part.stop - part.start, scenario_slots or 1))
        layout = choose_layout(slots, settings.chains, runtime.available_devices())
        payload = key_payload(
            "sampler",
            model,
            signature,
            {"sampler": settings.static().as_dict(), "layout": layout.as_dict()},
        )
        program = get_program(
            payload,
            model,
            signature,
            partial(export_sampler, layout=layout, settings=settings.static()),
            cache,
            log,
            timings,
        )
        fits += _run_sampler(
            program,
            layout,
            scenarios[part],
            seed_list[part],
            accept_list[part],
            settings,
            coords,
            gate,
            log,
            timings,
            before_compile,
        )
        before_compile = None
    return BatchFit(fits, timings)


def sample_prior(
    model: CompiledModel,
    data: Mapping[str, Any],
    *,
    draws: int = PRIOR_DRAWS,
    seed: int = 1,
    coords: Coords | None = None,
    log: Log = silent,
    cache: CompiledFitCache | None = None,
) -> PriorDraws:
    """``draws`` independent prior draws of every variable (one chain), as PyMC draws them.

    The draws are a function of the program, the data and the seed: they are stored in the
    compiled-fit cache under a key made of all three, and a later call with the same inputs
    reads them back (the same bytes) instead of running the program again.
    """
    cache = cache or CompiledFitCache()
    timings = Timings()
    signature = signature_of([data])
    payload = key_payload("prior", model, signature, {"draws": int(draws)})
    stored_payload = {
        "kind": "prior draws",
        "program": cache_key(payload),
        "data": data_digest(data),
        "seed": int(seed),
    }
    with timings.phase("cache_load"):
        stored = cache.load(cache_key(stored_payload), on_problem=log)
    if stored is not None:
        log(f"reading the stored prior draws of {model.name}")
        meta = stored.meta
        outputs = _unpack(stored.files[DRAWS_FILE], len(meta["prior"]) + len(meta["predictive"]))
    else:
        with timings.phase("jax_import"):
            runtime.configure()
        program = get_program(
            payload, model, signature, partial(export_prior, draws=int(draws)), cache, log, timings
        )
        meta = program.meta
        args = [np.int64(seed), *data_arguments(meta, [data], None)]
        compiled = program.ensure_compiled(args, log, timings)
        with timings.phase("sampling"):
            outputs = [np.asarray(o) for o in compiled(*args)]
        with timings.phase("cache_store"):
            cache.store(
                cache_key(stored_payload),
                stored_payload,
                {
                    "kind": "prior draws",
                    "model": model.name,
                    "prior": meta["prior"],
                    "predictive": meta["predictive"],
                },
                {DRAWS_FILE: _pack(outputs)},
                log,
            )
    with timings.phase("postprocess"):
        n_prior = len(meta["prior"])
        one_chain = [o[None] for o in outputs]
        prior = posterior_dataset(meta["prior"], one_chain[:n_prior], coords)
        predictive = posterior_dataset(meta["predictive"], one_chain[n_prior:], coords)
    return PriorDraws(prior, predictive, timings)


def _pack(arrays: list[np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, *arrays)
    return buffer.getvalue()


def _unpack(data: bytes, count: int) -> list[np.ndarray]:
    with np.load(io.BytesIO(data), allow_pickle=False) as stored:
        return [stored[f"arr_{i}"] for i in range(count)]


def _run_sampler(
    program: Program,
    layout: Layout,
    scenarios: list[Mapping[str, Any]],
    seeds: list[int],
    target_accept: list[float],
    settings: SamplerSettings,
    coords: Coords | None,
    gate: Gate,
    log: Log,
    timings: Timings,
    before_compile: Callable[[], None] | None,
) -> list[ScenarioFit]:
    import jax

    n = len(scenarios)
    static = settings.static()
    slots = layout.scenarios
    scenario, chain, active = layout.task_table(n)
    seed_arg = np.array(seeds + [seeds[0]] * (slots - n), dtype=np.int64)
    accept_arg = np.array(target_accept + [target_accept[0]] * (slots - n), dtype=np.float64)
    data = data_arguments(program.meta, scenarios, slots)
    state_avals = program.exported.in_avals[len(TASK_ARGUMENTS) : -len(data) or None]
    state = [np.zeros(a.shape, a.dtype) for a in state_avals]  # ignored by the first call
    host_args = [np.bool_(True), scenario, chain, active, seed_arg, accept_arg, *state, *data]
    shardings = program.exported.in_shardings_jax(layout.mesh())
    args = [jax.device_put(a, s) for a, s in zip(host_args, shardings, strict=True)]
    if before_compile is not None:
        before_compile()
    compiled = program.ensure_compiled(args, log, timings)
    what = f"{n} scenarios x " if n > 1 else ""
    log(
        f"sampling {what}{settings.chains} chains x {settings.draws} draws "
        f"({settings.tune} tuning) on {layout.devices} devices"
    )
    total = n * settings.chains * static.iterations

    def report(iterations: int, divergent: int) -> None:
        done = n * settings.chains * iterations
        log(f"sampling: {100 * done // total}% of {total} iterations, {divergent} divergent")

    with timings.phase("sampling"):
        started = jax.device_put(np.bool_(False), shardings[0])
        draws, stats = _run_chunks(compiled, args, started, len(state), static, report)
    with timings.phase("postprocess"):
        draws = [layout.per_scenario(d, n) for d in draws]
        stats = [layout.per_scenario(x, n) for x in stats]
    fits = []
    for s in range(n):
        with timings.phase("postprocess"):
            posterior = posterior_dataset(program.meta["posterior"], [d[s] for d in draws], coords)
            sample_stats = sample_stats_dataset(
                program.meta["stats"], [x[s] for x in stats], settings.max_tree_depth
            )
        with timings.phase("diagnostics"):
            verdict = convergence(posterior, sample_stats, gate)
        fits.append(
            ScenarioFit(posterior, sample_stats, verdict, seeds[s], target_accept[s], settings.tune)
        )
    return fits


def _run_chunks(
    compiled: Any,
    args: list[Any],
    started: Any,
    n_state: int,
    settings: StaticSettings,
    report: Callable[[int, int], None],
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Every call of the program, each continuing the state the last one returned.

    The next call is queued (JAX dispatches asynchronously) before the last one's draws are
    read and reported, so the devices never wait for the host. ``report(iterations,
    divergent)`` after each call: iterations per chain done, divergent draws so far (after the
    warm-up: the draws that are kept). Returns the draws and statistics, warm-up dropped, as
    ``(task, draw, ...)`` arrays.
    """
    first, task, state = args[0], args[1 : len(TASK_ARGUMENTS)], args[len(TASK_ARGUMENTS) :]
    state, data = state[:n_state], state[n_state:]
    kept: tuple[list[list[np.ndarray]], list[list[np.ndarray]]] = ([], [])
    divergent = 0

    def read(call: int, draws: Any, stats: Any) -> None:
        nonlocal divergent
        offset = call * settings.chunk  # iteration of the call's first draw
        window = slice(
            max(settings.tune - offset, 0), max(settings.iterations - offset, 0)
        )  # the kept draws among the call's chunk
        for out, arrays in zip(kept, (draws, stats), strict=True):
            out.append([np.asarray(a)[:, window] for a in arrays])
        divergent += int(kept[1][-1][STATS.index("diverging")].sum())
        report(min(offset + settings.chunk, settings.iterations), divergent)

    pending = None
    for call in range(settings.chunks):
        state, draws, stats = compiled(first if call == 0 else started, *task, *state, *data)
        if pending is not None:
            read(*pending)
        pending = (call, draws, stats)
    read(*pending)
    return tuple(
        [np.concatenate(parts, axis=1) for parts in zip(*calls, strict=True)] for calls in kept
    )


def _per_scenario(value: Any, n: int, name: str, kind: Callable[[Any], Any]) -> list[Any]:
    if np.ndim(value) > 0:
        if len(value) != n:
            raise ValueError(f"{name}: {len(value)} values for {n} scenarios")
        return [kind(v) for v in value]
    return [kind(value)] * n
