r"""The two exported programs: NUTS for a batch of scenarios, in chunks, and the prior draws.

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

A call of the program advances every task by one chunk of ``K`` iterations
(:attr:`StaticSettings.chunk`, static) and returns the NUTS state (numpyro's state pytree
flattened to plain arrays, so that the caller needs no numpyro), which the next call continues
from: between calls the caller reports progress and can be interrupted. The first call
(``start`` true) ignores the state it is given and starts every task (steps 1 and 2). The
chunks run the same iterations one scan over all of them would. The caller keeps the draws
after the warm-up and drops the last chunk's surplus iterations (beyond ``tune + draws``).

``target_accept`` is an argument (per scenario): numpyro uses it only in arithmetic of the
step-size adaptation, so it can be a traced value. Signature of the exported program::

    (start bool, task_scenario int32[T], task_chain int32[T], task_active bool[T],
     seed int64[S], target_accept float64[S], *state[T, ...], *data[S, ...])
    -> (state: tuple of [T, ...],
        posterior: tuple of float64[T, K, ...], stats: tuple of [T, K])

with ``T`` task slots sharded over the layout's devices (``shard_map``), each device running
its tasks one after another; inactive slots (padding) return their state unchanged and zero
draws without sampling. The state's shapes and dtypes are the program's own (its
``in_avals``).

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
TASK_ARGUMENTS = ("start", "task_scenario", "task_chain", "task_active", "seed", "target_accept")
"""The sampler program's first arguments; the NUTS state and the data follow."""
JITTER_ATTEMPTS = 50
CHUNK_ITERATIONS = 100
"""Most iterations a call of the sampler program runs (see :attr:`StaticSettings.chunk`)."""


@dataclass(frozen=True)
class StaticSettings:
    """Sampler settings that shape the program (and so are part of its cache key)."""

    chains: int
    draws: int
    tune: int
    max_tree_depth: int

    @property
    def iterations(self) -> int:
        """Iterations of each chain: warm-up and draws."""
        return self.tune + self.draws

    @property
    def chunks(self) -> int:
        """Calls of the program a run takes: chunks of at most :data:`CHUNK_ITERATIONS`."""
        return -(-self.iterations // CHUNK_ITERATIONS)

    @property
    def chunk(self) -> int:
        """Iterations per call: the run split as evenly as the calls allow.

        ``chunks x chunk`` may exceed the iterations by fewer than ``chunks``: the last call's
        surplus iterations come after the last draw and are dropped.
        """
        return -(-self.iterations // self.chunks)

    def as_dict(self) -> dict[str, int]:
        """For cache keys and metadata."""
        return {
            "chains": self.chains,
            "draws": self.draws,
            "tune": self.tune,
            "max_tree_depth": self.max_tree_depth,
            "chunk": self.chunk,
        }


def export_sampler(functions: ModelFunctions, layout: Layout, settings: StaticSettings) -> bytes:
    """Trace one chunk of NUTS for ``layout`` and serialise it with ``jax.export``."""
    import jax
    import jax.numpy as jnp
    from jax import lax
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec as P
    from numpyro.infer.hmc import hmc

    slots = functions.values
    dimension = functions.dimension
    chunk = settings.chunk

    def unflatten(x):
        return [jnp.reshape(x[s.offset : s.offset + s.size], s.shape) for s in slots]

    def kernels(data):
        """The potential of one data set, and numpyro's NUTS kernels on it.

        ``sample_kernel`` uses what ``init_kernel`` set up when it was traced (numpyro keeps it
        in the closure): ``init_kernel`` must be traced first, with no value local to a branch.
        """

        def potential(x):
            return -functions.logp(*unflatten(x), *data)[0]

        return potential, *hmc(potential_fn=potential, algo="NUTS")

    def initial_state(seed, chain, target_accept, data, potential, init_kernel):
        key = jax.random.fold_in(jax.random.PRNGKey(seed), chain)
        jitter_key, nuts_key = jax.random.split(key)
        start = jnp.concatenate(
            [jnp.ravel(jnp.asarray(v, jnp.float64)) for v in functions.initial_point(*data)]
        )

        def jittered(i):
            noise = jax.random.uniform(jax.random.fold_in(jitter_key, i), (dimension,), minval=-1)
            return start + noise

        def needs_another(carry):
            i, x = carry
            return (i < JITTER_ATTEMPTS) & ~jnp.isfinite(potential(x))

        _, x0 = lax.while_loop(
            needs_another, lambda c: (c[0] + 1, jittered(c[0] + 1)), (0, jittered(0))
        )
        return init_kernel(
            x0,
            settings.tune,
            target_accept_prob=target_accept,
            max_tree_depth=settings.max_tree_depth,
            rng_key=nuts_key,
        )

    def state_shapes():
        """Shapes and dtypes of one task's flattened NUTS state (traces only the start)."""

        def one(seed, chain, target_accept, *data):
            potential, init_kernel, _ = kernels(data)
            return jax.tree.leaves(
                initial_state(seed, chain, target_accept, data, potential, init_kernel)
            )

        scalars = (
            jax.ShapeDtypeStruct((), np.int64),
            jax.ShapeDtypeStruct((), np.int32),
            jax.ShapeDtypeStruct((), np.float64),
        )
        data = [jax.ShapeDtypeStruct(d.shape, d.dtype) for d in functions.data]
        return jax.eval_shape(one, *scalars, *data)

    def run_task(start, state, seed, chain, target_accept, data):
        potential, init_kernel, sample_kernel = kernels(data)
        tree = {}

        def started():
            # closes over target_accept and data (operands of this branch would be values
            # local to it, and numpyro keeps them for sample_kernel)
            leaves, tree["def"] = jax.tree.flatten(
                initial_state(seed, chain, target_accept, data, potential, init_kernel)
            )
            return leaves

        leaves = lax.cond(start, started, lambda: list(state))
        nuts_state = jax.tree.unflatten(tree["def"], leaves)

        # One scan: the NUTS kernel appears once in the program (a second loop for the
        # warm-up would double XLA's compile time).
        def step(nuts_state, _):
            nuts_state = sample_kernel(nuts_state)
            stats = (
                nuts_state.diverging,
                nuts_state.energy,
                -nuts_state.potential_energy,
                nuts_state.adapt_state.step_size,
                nuts_state.accept_prob,
                nuts_state.num_steps,
            )
            return nuts_state, (nuts_state.z, stats)

        nuts_state, (z, stats) = lax.scan(step, nuts_state, None, length=chunk)
        constrained = lax.map(lambda x: tuple(functions.constrain(*unflatten(x), *data)), z)
        return tuple(jax.tree.leaves(nuts_state)), constrained, stats

    def skipped(start, state, seed, chain, target_accept, data):
        # Written out rather than taken from jax.eval_shape(run_task, ...), which would trace
        # NUTS a second time; lax.cond checks that both branches agree.
        constrained = tuple(jnp.zeros((chunk, *v.shape), jnp.float64) for v in functions.posterior)
        stats = tuple(jnp.zeros(chunk, dtype) for dtype in STAT_DTYPES)
        return tuple(state), constrained, stats

    def device_tasks(start, task_scenario, task_chain, task_active, seeds, target_accept, *rest):
        state, data = rest[:n_state], rest[n_state:]

        def one(task):
            s, chain, active, task_state = task
            args = (start, task_state, seeds[s], chain, target_accept[s], [d[s] for d in data])
            return lax.cond(active, run_task, skipped, *args)

        return lax.map(one, (task_scenario, task_chain, task_active, tuple(state)))

    shapes = state_shapes()
    n_state = len(shapes)
    mesh = layout.mesh()
    by_task, replicated = P(AXIS), P()
    n_data = len(functions.data)
    sharded = jax.shard_map(
        device_tasks,
        mesh=mesh,
        in_specs=(
            replicated,
            *[by_task] * 3,
            replicated,
            replicated,
            *[by_task] * n_state,
            *[replicated] * n_data,
        ),
        out_specs=by_task,
        check_vma=False,
    )
    task_sharding, data_sharding = NamedSharding(mesh, by_task), NamedSharding(mesh, replicated)
    program = jax.jit(
        sharded,
        in_shardings=(
            data_sharding,
            *(task_sharding,) * 3,
            *(data_sharding,) * 2,
            *(task_sharding,) * n_state,
            *(data_sharding,) * n_data,
        ),
        out_shardings=task_sharding,
    )
    T, S = layout.tasks, layout.scenarios
    structs = [
        jax.ShapeDtypeStruct((), np.bool_, sharding=data_sharding),
        jax.ShapeDtypeStruct((T,), np.int32, sharding=task_sharding),
        jax.ShapeDtypeStruct((T,), np.int32, sharding=task_sharding),
        jax.ShapeDtypeStruct((T,), np.bool_, sharding=task_sharding),
        jax.ShapeDtypeStruct((S,), np.int64, sharding=data_sharding),
        jax.ShapeDtypeStruct((S,), np.float64, sharding=data_sharding),
        *[jax.ShapeDtypeStruct((T, *a.shape), a.dtype, sharding=task_sharding) for a in shapes],
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
