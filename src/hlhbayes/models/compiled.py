"""A model's fit as the compiled engine takes it: the engine's model, padded data, coordinates.

The model says what its data are (:class:`~hlhbayes.models.base.CompiledForm`); here they are
padded to bucket sizes (:mod:`hlhbayes.engine.buckets`), so that adding a study usually keeps
the shapes and so the compiled program, and the model is wrapped for the engine. The key of a
program covers the model's name, its :meth:`~hlhbayes.models.base.CompiledForm.structure`,
the padded length of every dimension, the data's shapes and dtypes and the source
fingerprint; everything else (the evidence, the weights, the prior parameters) is an argument.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from hlhbayes.models.base import ModelDefinition
from hlhbayes.models.units import Units
from hlhbayes.priors import Prior

MIN_SIZE = 8
"""Smallest padded length of a dimension of units or studies."""
MIN_LATENT_SIZE = 2
"""Smallest padded length of a dimension of latent compositions (each slot is a free
parameter: more padding costs sampling time, not just memory)."""
LATENT_PREFIX = "stratum_unknown"


@dataclass(frozen=True)
class CompiledInputs:
    """One fit for the engine: its model, its (padded) data and the coordinates of its output."""

    model: Any  # hlhbayes.engine.CompiledModel
    data: dict[str, np.ndarray]
    coords: dict[str, list[Any]]


def padded_sizes(sizes: Mapping[str, int]) -> dict[str, int]:
    """The bucket size of every dimension: 8, 16, 32, ...; latent ones 2, 4, ... (0 stays 0)."""
    from hlhbayes.engine import bucket_size

    out = {}
    for dim, n in sizes.items():
        latent = dim.startswith(LATENT_PREFIX)
        out[dim] = (
            0 if latent and n == 0 else bucket_size(n, MIN_LATENT_SIZE if latent else MIN_SIZE)
        )
    return out


def compiled_inputs(
    model: ModelDefinition,
    units: Units,
    priors: Mapping[str, Prior],
    options: Mapping[str, Any],
    include: np.ndarray | None = None,
    sizes: Mapping[str, int] | None = None,
) -> CompiledInputs:
    """``model``'s fit of ``units`` for the engine, padded to ``sizes`` (default: buckets).

    ``include``: one likelihood weight per unit (default 1).
    """
    from hlhbayes.engine import CompiledModel, pad_data

    form: Any = model
    coords = form.coords(units)
    sizes = dict(sizes or padded_sizes(form.dim_sizes(units)))
    data = pad_data(
        form.data(units, priors, options, include), form.data_dims, sizes, form.data_fill
    )
    padded_coords = {dim: _padded_labels(labels, sizes.get(dim)) for dim, labels in coords.items()}
    structure = {**form.structure(units, priors, options), "sizes": sizes}
    compiled = CompiledModel(
        model.name,
        lambda: form.model_from_data(structure, data, padded_coords),
        structure,
        form.source,
    )
    return CompiledInputs(compiled, data, coords)


def _padded_labels(labels: list[Any], size: int | None) -> list[Any]:
    if size is None or size == len(labels):
        return list(labels)
    return [*labels, *(f"(padding {i + 1})" for i in range(size - len(labels)))]
