r"""The two exported programs: NUTS for a batch of scenarios, and the prior draws (cold path).

**Sampler.** Each task (a scenario and a chain) runs numpyro's functional NUTS
(``numpyro.infer.hmc.hmc(potential_fn=..., algo="NUTS")``: Stan-style windowed adaptation of
the step size and a diagonal mass matrix) on the potential :math:`-\log p(x \mid \text{data}_s)`
of the model's unconstrained vector :math:`x`:

1. key = ``fold_in(PRNGKey(seed_s), chain)``;
2. start: PyMC's initial point (a function of the data) plus :math:`U(-1, 1)` jitter, drawn
   again (up to 50 times) while the log-density there is not finite, as PyMC does;
3. ``tune`` warm-up iterations (static: part of the program), then ``draws`` iterations, whose
   positions are mapped to the constrained scale with the deterministics, and the sample
   statistics.

``target_accept`` is an argument (per scenario): numpyro uses it only in arithmetic of the
step-size adaptation, so it can be a traced value. Signature of the exported program::

    (task_scenario int32[T], task_chain int32[T], task_active bool[T],
     seed int64[S], target_accept float64[S], *data[S, ...])
    -> (posterior: tuple of float64[T, draws, ...], stats: tuple of [T, draws])

with ``T`` task slots sharded over the layout's devices (``shard_map``), each device running
its tasks one after another; inactive slots (padding) return zeros without sampling.

**Prior.** ``(seed int64, *data) -> tuple of [draws, ...]``: independent draws of every free
variable, deterministic and observed variable (:func:`graph.model_functions` ``forward``),
draw :math:`i` from key ``split(PRNGKey(seed), draws)[i]``, one draw after another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hlhbayes.engine.graph import ModelFunctions
from hlhbayes.engine.layout import AXIS, Layout

STATS = ("diverging", "energy", "lp", "step_size", "acceptance_rate", "n_steps")
"""Sample statistics the sampler returns per draw, in this order."""
STAT_DTYPES = (np.bool_, np.float64, np.float64, np.float64, np.float64, np.int64)
JITTER_ATTEMPTS = 50


@dataclass(frozen=True)
class StaticSettings:
    """Sampler settings that shape the program (and so are part of its cache key)."""

    chains: int
    draws: int
    tune: int
    max_tree_depth: int

    def as_dict(self) -> dict[str, int]:
        """For cache keys and metadata."""
        return {
            "chains": self.chains,
            "draws": self.draws,
            "tune": self.tune,
            "max_tree_depth": self.max_tree_depth,
        }


def export_sampler(functions: ModelFunctions, layout: Layout, settings: StaticSettings) -> bytes:
    """Trace NUTS for ``layout`` and serialise it with ``jax.export``."""
    import jax
    import jax.numpy as jnp
    from jax import lax
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec as P
    from numpyro.infer.hmc import hmc

    slots = functions.values
    dimension = functions.dimension

    def unflatten(x):
        return [jnp.reshape(x[s.offset : s.offset + s.size], s.shape) for s in slots]

    def run_task(seed, chain, target_accept, data):
        key = jax.random.fold_in(jax.random.PRNGKey(seed), chain)
        jitter_key, nuts_key = jax.random.split(key)
        start = jnp.concatenate(
            [jnp.ravel(jnp.asarray(v, jnp.float64)) for v in functions.initial_point(*data)]
        )

        def potential(x):
            return -functions.logp(*unflatten(x), *data)[0]

        def jittered(i):
            noise = jax.random.uniform(jax.random.fold_in(jitter_key, i), (dimension,), minval=-1)
            return start + noise

        def needs_another(carry):
            i, x = carry
            return (i < JITTER_ATTEMPTS) & ~jnp.isfinite(potential(x))

        _, x0 = lax.while_loop(
            needs_another, lambda c: (c[0] + 1, jittered(c[0] + 1)), (0, jittered(0))
        )
        init_kernel, sample_kernel = hmc(potential_fn=potential, algo="NUTS")
        state = init_kernel(
            x0,
            settings.tune,
            target_accept_prob=target_accept,
            max_tree_depth=settings.max_tree_depth,
            rng_key=nuts_key,
        )

        # One scan over warm-up and draws: the NUTS kernel appears once in the program (a
        # second loop for the warm-up would double XLA's compile time).
        def step(state, _):
            state = sample_kernel(state)
            stats = (
                state.diverging,
                state.energy,
                -state.potential_energy,
                state.adapt_state.step_size,
                state.accept_prob,
                state.num_steps,
            )
            return state, (state.z, stats)

        _, (z, stats) = lax.scan(step, state, None, length=settings.tune + settings.draws)
        z, stats = jax.tree.map(lambda a: a[settings.tune :], (z, stats))
        constrained = lax.map(lambda x: tuple(functions.constrain(*unflatten(x), *data)), z)
        return constrained, stats

    def skipped(seed, chain, target_accept, data):
        # Written out rather than taken from jax.eval_shape(run_task, ...), which would trace
        # NUTS a second time; lax.cond checks that both branches agree.
        draws = settings.draws
        constrained = tuple(jnp.zeros((draws, *v.shape), jnp.float64) for v in functions.posterior)
        return constrained, tuple(jnp.zeros(draws, dtype) for dtype in STAT_DTYPES)

    def device_tasks(task_scenario, task_chain, task_active, seeds, target_accept, *data):
        def one(task):
            s, chain, active = task
            args = (seeds[s], chain, target_accept[s], [d[s] for d in data])
            return lax.cond(active, run_task, skipped, *args)

        return lax.map(one, (task_scenario, task_chain, task_active))

    mesh = layout.mesh()
    by_task, replicated = P(AXIS), P()
    n_data = len(functions.data)
    sharded = jax.shard_map(
        device_tasks,
        mesh=mesh,
        in_specs=(by_task, by_task, by_task, replicated, replicated, *[replicated] * n_data),
        out_specs=by_task,
        check_vma=False,
    )
    task_sharding, data_sharding = NamedSharding(mesh, by_task), NamedSharding(mesh, replicated)
    program = jax.jit(
        sharded,
        in_shardings=(task_sharding,) * 3 + (data_sharding,) * (2 + n_data),
        out_shardings=task_sharding,
    )
    T, S = layout.tasks, layout.scenarios
    structs = [
        jax.ShapeDtypeStruct((T,), np.int32, sharding=task_sharding),
        jax.ShapeDtypeStruct((T,), np.int32, sharding=task_sharding),
        jax.ShapeDtypeStruct((T,), np.bool_, sharding=task_sharding),
        jax.ShapeDtypeStruct((S,), np.int64, sharding=data_sharding),
        jax.ShapeDtypeStruct((S,), np.float64, sharding=data_sharding),
        *[
            jax.ShapeDtypeStruct((S, *d.shape), d.dtype, sharding=data_sharding)
            for d in functions.data
        ],
    ]
    return bytes(jax.export.export(program)(*structs).serialize())


def export_prior(functions: ModelFunctions, draws: int) -> bytes:
    """Trace ``draws`` prior draws and serialise them with ``jax.export``."""
    import jax

    def prior(seed, *data):
        def one(key):
            keys = jax.random.split(key, functions.n_rngs)
            states = ({"jax_state": keys[i]} for i in range(functions.n_rngs))
            return tuple(functions.forward(*states, *data))

        # lax.map, not vmap: numpyro's binomial sampler (a while loop) compiles three times
        # faster unbatched, and the draws are identical.
        return jax.lax.map(one, jax.random.split(jax.random.PRNGKey(seed), draws))

    structs = [
        jax.ShapeDtypeStruct((), np.int64),
        *[jax.ShapeDtypeStruct(d.shape, d.dtype) for d in functions.data],
    ]
    return bytes(jax.export.export(jax.jit(prior))(*structs).serialize())


def program_meta(functions: ModelFunctions) -> dict[str, Any]:
    """What the warm path needs to feed and read a program (JSON-serialisable)."""
    return {
        "data": [
            {"name": d.name, "dims": list(d.dims), "shape": list(d.shape), "dtype": d.dtype}
            for d in functions.data
        ],
        "values": [
            {"name": s.name, "shape": list(s.shape), "offset": s.offset} for s in functions.values
        ],
        "posterior": _variables(functions.posterior),
        "prior": _variables(functions.prior),
        "predictive": _variables(functions.predictive),
        "stats": list(STATS),
    }


def _variables(specs: list[Any]) -> list[dict[str, Any]]:
    return [{"name": v.name, "dims": list(v.dims), "shape": list(v.shape)} for v in specs]
