"""The compiled inference engine: export a PyMC model once, sample it without PyMC.

The first fit of a model structure builds the model with PyMC, turns its log-density, its
constrain-and-deterministics graph and its forward (prior) graph into JAX with the data as
arguments, traces numpyro's NUTS around them into one XLA program per batch layout, and stores
the serialised programs in the compiled-fit cache (:mod:`hlhbayes.engine.cache`). Every fit
then imports only ``jax``, ``numpy`` and ``xarray``, loads the program, loads its machine code
(compiled by XLA once per machine and stored in the cache: :mod:`hlhbayes.engine.machine_code`)
and runs it. The same seed gives the same numbers
whether the program was just built or loaded.

Entry points:

* :func:`fit`: posterior and prior draws for one data set;
* :func:`sample_batch`: many data sets (scenarios) through one program, each with its own
  convergence verdict; :func:`sample_batch_with_retry` re-runs failing scenarios;
* :func:`sample_prior`: prior and prior predictive draws;
* :mod:`~hlhbayes.engine.buckets`: padding data to bucket sizes;
* :func:`cache_info`, :func:`cache_clear`: the compiled-fit cache.

What a model must provide is stated in :mod:`hlhbayes.engine.model`.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "buckets": ("bucket_size", "pad_axis", "pad_data", "padded_sizes", "scenario_bucket"),
    "cache": ("CacheInfo", "CompiledFitCache", "cache_clear", "cache_info"),
    "fingerprint": ("source_fingerprint",),
    "model": ("CompiledModel", "SamplerSettings"),
    "results": ("BatchFit", "Convergence", "Fit", "Gate", "PriorDraws", "ScenarioFit"),
    "retry": ("RetryPolicy", "RetryStep", "sample_batch_with_retry"),
    "sampler": ("fit", "sample_batch", "sample_prior"),
    "timing": ("Timings",),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    """Import the public names on first use: ``hlhbayes.engine.cache`` alone stays light."""
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{_MODULE_OF[name]}"), name)
    globals()[name] = value
    return value
