"""Shape buckets: pad data to a few sizes so that one compiled program serves many data sets.

A compiled program has fixed shapes. Padding every dimension that grows with the evidence
(studies, patients, strata) to the next bucket size (8, 16, 32, 64, ...) means that adding a
study usually keeps the shapes, and so the cached program. Padded units get likelihood weight
0 (the caller's fill value for its inclusion weights), so they add nothing to the posterior;
parameters indexed by a padded dimension (e.g. the effect of a padded study) are then sampled
from their prior, and the engine drops them from its output when the caller's coordinates are
shorter than the padded dimension. Padding always goes at the end of an axis.

The number of scenarios of a batch is bucketed the same way (:data:`SCENARIO_BUCKETS`); padded
scenarios are not sampled at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

SIZE_BUCKET_MIN = 8
SCENARIO_BUCKETS = (1, 2, 4, 8, 16, 32, 64)
"""Scenario counts a batch program is compiled for; bigger batches run in chunks of 64."""


def bucket_size(n: int, minimum: int = SIZE_BUCKET_MIN) -> int:
    """The smallest power of two that is at least ``n`` and at least ``minimum``."""
    if n < 0:
        raise ValueError(f"a size cannot be negative, got {n}")
    size = max(1, minimum)
    while size < n:
        size *= 2
    return size


def scenario_bucket(n: int) -> int:
    """The scenario count of the program that runs ``n`` scenarios (1 <= n <= 64)."""
    for size in SCENARIO_BUCKETS:
        if n <= size:
            return size
    raise ValueError(f"at most {SCENARIO_BUCKETS[-1]} scenarios run in one program, got {n}")


def pad_axis(array: np.ndarray, axis: int, size: int, fill: Any) -> np.ndarray:
    """``array`` padded with ``fill`` at the end of ``axis`` to length ``size``."""
    array = np.asarray(array)
    current = array.shape[axis]
    if current > size:
        raise ValueError(f"cannot pad axis {axis} of length {current} down to {size}")
    if current == size:
        return array
    widths = [(0, 0)] * array.ndim
    widths[axis] = (0, size - current)
    return np.pad(array, widths, mode="constant", constant_values=fill)


def pad_data(
    data: Mapping[str, Any],
    dims: Mapping[str, Sequence[str]],
    sizes: Mapping[str, int],
    fill: Mapping[str, Any],
) -> dict[str, np.ndarray]:
    """Pad every array of ``data`` along each of its ``dims`` that has a size in ``sizes``.

    ``dims[name]`` names the axes of ``data[name]``; ``sizes[dim]`` is the padded length of a
    dimension (dimensions not in ``sizes`` are left alone); ``fill[name]`` is the value padded
    entries of ``data[name]`` get (required for every array that is padded). Raises
    ``ValueError`` for a missing fill value or dims that do not match an array's rank.
    """
    out = {}
    for name, value in data.items():
        array = np.asarray(value)
        names = tuple(dims.get(name, ()))
        if len(names) != array.ndim:
            raise ValueError(
                f"data {name!r} has {array.ndim} axes but dims {names} name {len(names)}"
            )
        for axis, dim in enumerate(names):
            if dim in sizes and array.shape[axis] != sizes[dim]:
                if name not in fill:
                    raise ValueError(f"data {name!r} is padded along {dim!r} but has no fill value")
                array = pad_axis(array, axis, sizes[dim], fill[name])
        out[name] = array
    return out


def padded_sizes(sizes: Mapping[str, int], minimum: int = SIZE_BUCKET_MIN) -> dict[str, int]:
    """The bucket size of every dimension in ``sizes`` (real lengths)."""
    return {dim: bucket_size(n, minimum) for dim, n in sizes.items()}
