"""From a program's output arrays to xarray Datasets with the model's dims and coordinates.

Program outputs are ``(chain, draw, *shape)`` per variable. The dims come from the model
(recorded in the program's metadata); the coordinates come from the caller at run time. A
dimension whose coordinates are shorter than the array is padding: its tail is dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

LEAD_DIMS = ("chain", "draw")


def posterior_dataset(
    variables: list[dict[str, Any]],
    arrays: list[np.ndarray],
    coords: Mapping[str, Sequence[Any]] | None,
) -> xr.Dataset:
    """One variable per ``variables`` entry (``name``, ``dims``), padded entries dropped.

    Raises ``ValueError`` when more coordinates are given than a dimension has entries.
    """
    coords = coords or {}
    chains, draws = arrays[0].shape[:2] if arrays else (0, 0)
    used: dict[str, Any] = {"chain": np.arange(chains), "draw": np.arange(draws)}
    data_vars = {}
    for spec, array in zip(variables, arrays, strict=True):
        dims = tuple(spec["dims"])
        index: list[slice] = [slice(None)] * len(LEAD_DIMS)
        for axis, dim in enumerate(dims):
            size = array.shape[len(LEAD_DIMS) + axis]
            if dim not in coords:
                index.append(slice(None))
                continue
            labels = list(coords[dim])
            if len(labels) > size:
                raise ValueError(
                    f"{len(labels)} coordinates given for dimension {dim!r} of length {size}"
                )
            index.append(slice(0, len(labels)))
            used[dim] = labels
        data_vars[spec["name"]] = ((*LEAD_DIMS, *dims), array[tuple(index)])
    return xr.Dataset(data_vars, coords=used)


def sample_stats_dataset(
    names: list[str], arrays: list[np.ndarray], max_tree_depth: int
) -> xr.Dataset:
    """The sampler's statistics, plus ``tree_depth`` and ``reached_max_treedepth``.

    NUTS doubles its trajectory per tree level, so a tree of depth d takes 2^(d-1) to 2^d - 1
    leapfrog steps: the depth is the bit length of ``n_steps``.
    """
    stats = dict(zip(names, arrays, strict=True))
    n_steps = stats["n_steps"].astype(np.int64)
    tree_depth = np.frexp(n_steps.astype(float))[1].astype(np.int64)
    stats["n_steps"] = n_steps
    stats["tree_depth"] = tree_depth
    stats["reached_max_treedepth"] = tree_depth >= max_tree_depth
    stats["diverging"] = stats["diverging"].astype(bool)
    chains, draws = n_steps.shape
    coords = {"chain": np.arange(chains), "draw": np.arange(draws)}
    return xr.Dataset({name: (LEAD_DIMS, value) for name, value in stats.items()}, coords=coords)
