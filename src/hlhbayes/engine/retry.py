"""Automatic re-runs of the scenarios of a batch that fail the convergence gate.

Sparse scenarios (an early step of a cumulative analysis, a leave-one-out with few units) can
leave a funnel between a study effect and its scale that NUTS crosses only with a small step
size. The policy re-runs exactly the failing scenarios, first with a higher target acceptance
rate (an argument of the compiled program: the batch's own program runs them, its other
scenario slots skipped), then also with a longer warm-up (a second program, compiled once).
Each scenario's fit says which ``target_accept`` and ``tune`` it finally used and after how
many runs; a scenario that still fails keeps its last fit and its failing verdict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from hlhbayes.engine.buckets import SCENARIO_BUCKETS, scenario_bucket
from hlhbayes.engine.cache import CompiledFitCache
from hlhbayes.engine.model import CompiledModel, SamplerSettings
from hlhbayes.engine.programs import Log, silent
from hlhbayes.engine.results import BatchFit, Gate
from hlhbayes.engine.sampler import DEFAULT_GATE, DEFAULT_SETTINGS, Coords, sample_batch


@dataclass(frozen=True)
class RetryStep:
    """Settings of one re-run: a target acceptance rate and a warm-up length multiplier."""

    target_accept: float
    tune_factor: int = 1


@dataclass(frozen=True)
class RetryPolicy:
    """The re-runs to try, in order, for scenarios that still fail the gate."""

    steps: tuple[RetryStep, ...] = (RetryStep(0.99), RetryStep(0.99, tune_factor=2))


DEFAULT_POLICY = RetryPolicy()


def sample_batch_with_retry(
    model: CompiledModel,
    scenarios: Sequence[Mapping[str, Any]],
    *,
    settings: SamplerSettings = DEFAULT_SETTINGS,
    seeds: int | Sequence[int] = 1,
    target_accept: float | Sequence[float] | None = None,
    coords: Coords | None = None,
    gate: Gate = DEFAULT_GATE,
    policy: RetryPolicy = DEFAULT_POLICY,
    log: Log = silent,
    cache: CompiledFitCache | None = None,
    scenario_slots: int | None = None,
) -> BatchFit:
    """:func:`~hlhbayes.engine.sampler.sample_batch`, then the policy's re-runs of failures.

    ``scenario_slots``: run in a program for at least this many scenarios (see
    :func:`~hlhbayes.engine.sampler.sample_batch`); the re-runs use the same program size.
    """
    scenarios = list(scenarios)
    n = len(scenarios)
    seed_list = list(seeds) if isinstance(seeds, Sequence) else [int(seeds)] * n
    batch = sample_batch(
        model,
        scenarios,
        settings=settings,
        seeds=seed_list,
        target_accept=target_accept,
        coords=coords,
        gate=gate,
        log=log,
        cache=cache,
        scenario_slots=scenario_slots,
    )
    # re-runs use the batch's own program size: at the first step, the very same program
    slots = scenario_bucket(min(max(n, scenario_slots or 1), SCENARIO_BUCKETS[-1]))
    for step in policy.steps:
        failing = batch.failed
        if not failing:
            break
        tune = settings.tune * step.tune_factor
        log(
            f"{len(failing)} of {n} scenarios failed the convergence gate; running them again "
            f"with target_accept {step.target_accept} and {tune} tuning iterations"
        )
        rerun = sample_batch(
            model,
            [scenarios[i] for i in failing],
            settings=replace(settings, tune=tune),
            seeds=[seed_list[i] for i in failing],
            target_accept=step.target_accept,
            coords=coords,
            gate=gate,
            log=log,
            cache=cache,
            scenario_slots=slots,
        )
        batch.timings.merge(rerun.timings)
        for i, new in zip(failing, rerun.fits, strict=True):
            new.attempts = batch.fits[i].attempts + 1
            batch.fits[i] = new
    return batch
