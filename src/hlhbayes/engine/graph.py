"""From a PyMC model to JAX functions that take the model's data as arguments (cold path only).

PyTensor's JAX backend turns a graph into a JAX function, but it treats shared variables as
constants: a program exported from it would have the evidence baked in. Here every ``pm.Data``
container becomes an explicit input of the graph (with its static shape), every random
generator becomes an explicit input too (PyTensor's JAX random variables then take their key as
``{"jax_state": key}``), and only the remaining shared variables (dimension lengths) are
folded to constants. Four functions come out, all of ``(*inputs, *data)``:

* ``logp(*values)``: the model's joint log-density on the unconstrained space (with the
  Jacobians of the transforms), as PyMC's NUTS sees it;
* ``constrain(*values)``: the free variables on their own scale, and the deterministics;
* ``initial_point()``: PyMC's initial point on the unconstrained space (support points, which
  may depend on the data, e.g. a Gamma centred on a pooled mix);
* ``forward(*rngs)``: one draw of every free variable, deterministic and observed variable
  from the prior (what ``pm.sample_prior_predictive`` draws; potentials are ignored there too).

Three rewrites make the JAX graph compute what PyMC computes:

* parameter checks become ``switch(check, logp, -inf)``, as in PyMC's compiled functions
  (assertions that cannot be evaluated while tracing are dropped, as in PyMC's JAX samplers);
* an elementwise operation whose inputs are all integers but whose output is a float gets
  its inputs cast to that float first: JAX would compute ``gammaln(int32)`` in float32 (a
  binomial log-density off by 1e-6), where PyTensor computes in float64;
* integer parameters of random variables are cast to int64: numpyro's binomial sampler, which
  PyTensor's JAX backend uses, fails on int32 counts (PyMC stores integer data as int32).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

NARROW_INTEGERS = ("int8", "int16", "int32", "uint8", "uint16", "uint32")


@dataclass(frozen=True)
class DataSpec:
    """A ``pm.Data`` input of the model: name, dims, shape and dtype (as the model holds it)."""

    name: str
    dims: tuple[str, ...]
    shape: tuple[int, ...]
    dtype: str


@dataclass(frozen=True)
class VariableSpec:
    """A variable the programs return (per draw): name, dims and shape."""

    name: str
    dims: tuple[str, ...]
    shape: tuple[int, ...]


@dataclass(frozen=True)
class ValueSlot:
    """Where a free variable's unconstrained value lies in the flat vector NUTS moves."""

    name: str
    shape: tuple[int, ...]
    offset: int

    @property
    def size(self) -> int:
        """Number of scalars."""
        return int(np.prod(self.shape, dtype=int))


@dataclass
class ModelFunctions:
    """The JAX functions of one model and the layout of their inputs and outputs."""

    data: list[DataSpec]
    values: list[ValueSlot]
    posterior: list[VariableSpec]
    prior: list[VariableSpec]
    predictive: list[VariableSpec]
    n_rngs: int
    logp: Callable[..., Any]
    constrain: Callable[..., Any]
    initial_point: Callable[..., Any]
    forward: Callable[..., Any]

    @property
    def dimension(self) -> int:
        """Length of the flat unconstrained vector."""
        return sum(slot.size for slot in self.values)


def model_functions(model: Any) -> ModelFunctions:
    """Jaxify ``model`` (a ``pm.Model``) with its data and random generators as inputs.

    Raises ``ValueError`` for a discrete free variable (NUTS needs continuous ones) and when a
    free variable's initial point is random (no support point and no initial value): the
    engine needs the initial point as a deterministic function of the data.
    """
    from pymc.initial_point import make_initial_point_expression
    from pymc.util import get_default_varnames

    free = list(model.free_RVs)
    discrete = [rv.name for rv in free if not rv.dtype.startswith("float")]
    if discrete:
        raise ValueError(f"NUTS needs continuous free variables; {discrete} are discrete")
    data, data_inputs = _data_inputs(model)
    value_vars = [model.rvs_to_values[rv] for rv in free]

    logp_fn = _jaxify([model.logp()], value_vars, data_inputs, model.check_bounds)
    constrained = list(get_default_varnames(model.unobserved_value_vars, include_transformed=False))
    constrain_fn = _jaxify(constrained, value_vars, data_inputs, model.check_bounds)
    initial = make_initial_point_expression(
        free_rvs=free,
        rvs_to_transforms=model.rvs_to_transforms,
        initval_strategies=model.rvs_to_initial_values,
        return_transformed=True,
    )
    if _random_generators(initial):
        raise ValueError(
            "the model's initial point is drawn at random (a variable without a support point "
            "or initial value); give every free variable a deterministic initial value"
        )
    initial_fn = _jaxify(initial, [], data_inputs, model.check_bounds)
    forward_outputs = [*free, *model.deterministics, *model.observed_RVs]
    rngs = _random_generators(forward_outputs)
    forward_fn = _jaxify(forward_outputs, [], data_inputs, model.check_bounds, rngs=rngs)

    import jax

    data_structs = [jax.ShapeDtypeStruct(d.shape, d.dtype) for d in data]
    initial_shapes = jax.eval_shape(lambda *d: tuple(initial_fn(*d)), *data_structs)
    values, offset = [], 0
    for value_var, struct in zip(value_vars, initial_shapes, strict=True):
        values.append(ValueSlot(value_var.name, tuple(struct.shape), offset))
        offset += values[-1].size
    value_structs = [jax.ShapeDtypeStruct(slot.shape, "float64") for slot in values]
    constrained_shapes = jax.eval_shape(
        lambda *a: tuple(constrain_fn(*a)), *value_structs, *data_structs
    )
    key_struct = jax.ShapeDtypeStruct((2,), "uint32")
    forward_shapes = jax.eval_shape(
        lambda *a: tuple(forward_fn(*({"jax_state": k} for k in a[: len(rngs)]), *a[len(rngs) :])),
        *[key_struct] * len(rngs),
        *data_structs,
    )
    n_prior = len(free) + len(model.deterministics)
    return ModelFunctions(
        data=data,
        values=values,
        posterior=_specs(model, constrained, constrained_shapes),
        prior=_specs(model, forward_outputs[:n_prior], forward_shapes[:n_prior]),
        predictive=_specs(model, forward_outputs[n_prior:], forward_shapes[n_prior:]),
        n_rngs=len(rngs),
        logp=logp_fn,
        constrain=constrain_fn,
        initial_point=initial_fn,
        forward=forward_fn,
    )


def _data_inputs(model: Any) -> tuple[list[DataSpec], dict[Any, Any]]:
    """Each ``pm.Data``: its spec, and the explicit graph input (static shape) replacing it."""
    import pytensor.tensor as pt

    specs, inputs = [], {}
    for shared in model.data_vars:
        shape = tuple(int(n) for n in np.shape(shared.get_value(borrow=True)))
        specs.append(
            DataSpec(shared.name, _dims(model, shared.name, len(shape)), shape, str(shared.dtype))
        )
        inputs[shared] = pt.tensor(dtype=shared.dtype, shape=shape, name=shared.name)
    return specs, inputs


def _dims(model: Any, name: str, ndim: int) -> tuple[str, ...]:
    named = tuple(model.named_vars_to_dims.get(name) or ())
    if len(named) != ndim:
        named = (None,) * ndim
    return tuple(d if d is not None else f"{name}_dim_{i}" for i, d in enumerate(named))


def _specs(model: Any, variables: Sequence[Any], shapes: Sequence[Any]) -> list[VariableSpec]:
    out = []
    for variable, struct in zip(variables, shapes, strict=True):
        shape = tuple(int(n) for n in struct.shape)
        out.append(VariableSpec(variable.name, _dims(model, variable.name, len(shape)), shape))
    return out


def _random_generators(outputs: Sequence[Any]) -> list[Any]:
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph.traversal import graph_inputs
    from pytensor.tensor.random.type import RandomType

    return [
        v
        for v in graph_inputs(outputs)
        if isinstance(v, SharedVariable) and isinstance(v.type, RandomType)
    ]


def _jaxify(
    outputs: Sequence[Any],
    inputs: Sequence[Any],
    data_inputs: dict[Any, Any],
    check_bounds: bool,
    rngs: Sequence[Any] = (),
) -> Callable[..., Any]:
    """JAX function of ``(*inputs, *rngs, *data)``; other shared variables become constants."""
    import pytensor.tensor as pt
    from pymc.logprob.utils import (
        local_check_parameter_to_ninf_switch,
        local_remove_check_parameter,
    )
    from pytensor.compile.mode import get_mode
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph import FunctionGraph
    from pytensor.graph.replace import clone_replace
    from pytensor.graph.rewriting.basic import in2out
    from pytensor.graph.traversal import graph_inputs
    from pytensor.link.jax.dispatch import jax_funcify

    rng_inputs = {rng: rng.type() for rng in rngs}
    constants = {
        v: pt.constant(v.get_value(borrow=True))
        for v in graph_inputs(outputs)
        if isinstance(v, SharedVariable) and v not in data_inputs and v not in rng_inputs
    }
    replaced = clone_replace(list(outputs), replace={**data_inputs, **rng_inputs, **constants})
    fgraph = FunctionGraph(
        inputs=[*inputs, *rng_inputs.values(), *data_inputs.values()],
        outputs=replaced,
        clone=True,
    )
    check = local_check_parameter_to_ninf_switch if check_bounds else local_remove_check_parameter
    in2out(check).rewrite(fgraph)
    get_mode("JAX").optimizer.rewrite(fgraph)
    for rewrite in _engine_rewrites():
        in2out(rewrite).rewrite(fgraph)
    return jax_funcify(fgraph)


def _engine_rewrites() -> list[Any]:
    """The rewrites of the module docstring (built on first use: they need PyTensor)."""
    import pytensor.tensor as pt
    from pytensor.graph.rewriting.basic import node_rewriter
    from pytensor.raise_op import CheckAndRaise
    from pytensor.scalar.basic import Cast
    from pytensor.tensor.elemwise import Elemwise
    from pytensor.tensor.random.op import RandomVariable

    @node_rewriter([CheckAndRaise])
    def drop_assertion(fgraph, node):
        return [node.inputs[0]]

    @node_rewriter([Elemwise])
    def float_inputs_for_float_outputs(fgraph, node):
        dtype = node.outputs[0].dtype
        if isinstance(node.op.scalar_op, Cast) or not dtype.startswith("float"):
            return None
        if not all(i.dtype.startswith(("int", "uint")) for i in node.inputs):
            return None
        return node.op.make_node(*[pt.cast(i, dtype) for i in node.inputs]).outputs

    @node_rewriter([RandomVariable])
    def int64_random_parameters(fgraph, node):
        rng, size, *params = node.inputs
        if not any(p.dtype in NARROW_INTEGERS for p in params):
            return None
        params = [pt.cast(p, "int64") if p.dtype in NARROW_INTEGERS else p for p in params]
        return node.op.make_node(rng, size, *params).outputs

    return [drop_assertion, float_inputs_for_float_outputs, int64_random_parameters]
