"""The DataTree of a fit as ArviZ 1.x users expect it: labelled draws, one log-likelihood.

:func:`conform` is applied once, where a fit's tree is finished (:func:`hlhbayes.pipeline.run_fit`):

- every group with ``chain`` / ``draw`` dimensions gets coordinates on them (``0 .. n-1``), so
  that groups align by label and ``sel(draw=...)`` works in each;
- the ``log_likelihood`` group holds one variable, :data:`LOG_LIKELIHOOD` (``y``), the
  pointwise log-likelihood of every evidence unit along the dimension :data:`UNIT` (patients
  first, then aggregate strata), so that ``arviz.loo(tree)`` needs no ``var_name``. The
  coordinate ``observed`` along ``unit`` names the observed variable each unit belongs to
  (``y_patient`` or ``y_stratum``, as in ``observed_data`` and ``posterior_predictive``);
  :func:`observed_log_likelihood` takes one of them back out.

Units are conditionally independent given the parameters, so the log-likelihood of the whole
data is the sum over ``unit``, and PSIS-LOO over ``unit`` leaves out one patient or one
stratum at a time.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

SAMPLE_DIMS = ("chain", "draw")
LOG_LIKELIHOOD = "y"
"""The one variable of the ``log_likelihood`` group: every evidence unit's log-likelihood."""
UNIT = "unit"
"""Its dimension: the evidence units (patient and stratum ids)."""
OBSERVED = "observed"
"""The coordinate along :data:`UNIT` naming each unit's observed variable."""


def conform(tree: xr.DataTree) -> xr.DataTree:
    """Label ``chain`` / ``draw`` in every group and combine the log-likelihood (in place).

    Returns ``tree``. A group that already has its coordinates, and a ``log_likelihood`` group
    with one variable, are left as they are.
    """
    for name, node in list(tree.children.items()):
        ds = node.to_dataset()
        missing = {
            d: np.arange(ds.sizes[d]) for d in SAMPLE_DIMS if d in ds.dims and d not in ds.coords
        }
        if missing:
            ds = ds.assign_coords(missing)
        if name == "log_likelihood":
            ds = _combined(ds)
        tree[name] = xr.DataTree(ds)
    return tree


def _combined(ds: xr.Dataset) -> xr.Dataset:
    """One variable along :data:`UNIT` from the per-variable pointwise log-likelihoods."""
    if len(ds.data_vars) <= 1:
        return ds
    parts = []
    for name, da in ds.data_vars.items():
        (dim,) = (d for d in da.dims if d not in SAMPLE_DIMS)  # one observation dimension each
        labels = da[dim].values if dim in da.coords else np.arange(da.sizes[dim])
        parts.append(
            da.drop_vars(dim, errors="ignore")
            .rename({dim: UNIT})
            .assign_coords(
                {
                    UNIT: [str(label) for label in labels],
                    OBSERVED: (UNIT, [str(name)] * da.sizes[dim]),
                }
            )
        )
    combined = xr.concat(parts, dim=UNIT).transpose(*SAMPLE_DIMS, UNIT)
    return xr.Dataset({LOG_LIKELIHOOD: combined}, attrs=ds.attrs)


def observed_log_likelihood(log_likelihood: xr.Dataset, name: str) -> xr.DataArray | None:
    """The pointwise log-likelihood of the observed variable ``name`` (``None`` if it has none).

    Reads both layouts: the combined :data:`LOG_LIKELIHOOD` of :func:`conform`, and one
    variable per observed variable (run folders written before the combined one).
    """
    if name in log_likelihood.data_vars:
        return log_likelihood[name]
    if LOG_LIKELIHOOD not in log_likelihood.data_vars or OBSERVED not in log_likelihood.coords:
        return None
    combined = log_likelihood[LOG_LIKELIHOOD]
    where = np.flatnonzero(combined[OBSERVED].values == name)
    if where.size == 0:
        return None
    return combined.isel({UNIT: where}).drop_vars(OBSERVED)
