"""Subsets of evidence units: the units of some studies, or any selection of patients/strata."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from hlhbayes.errors import HlhBayesError
from hlhbayes.models.units import Units


def subset_units(units: Units, keep_patients: np.ndarray, keep_strata: np.ndarray) -> Units:
    """The units selected by two boolean masks, with studies re-indexed to those left.

    Raises :class:`~hlhbayes.errors.HlhBayesError` when nothing is selected.
    """
    kp = np.asarray(keep_patients, dtype=bool)
    ks = np.asarray(keep_strata, dtype=bool)
    if kp.shape != (len(units.pat_ids),) or ks.shape != (len(units.agg_ids),):
        raise ValueError("one mask value per patient and one per stratum are needed")
    used = sorted(set(units.pat_study[kp].tolist()) | set(units.agg_study[ks].tolist()))
    if not used:
        raise HlhBayesError("no evidence unit is selected")
    remap = np.full(len(units.studies), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    excluded = dict(units.excluded)
    for i, sid in enumerate(units.studies):
        if i not in used:
            excluded[sid] = "not in this subset"
    return Units(
        studies=tuple(units.studies[i] for i in used),
        pat_ids=tuple(pid for pid, k in zip(units.pat_ids, kp, strict=True) if k),
        pat_study=remap[units.pat_study[kp]],
        pat_y=units.pat_y[kp],
        pat_w=units.pat_w[kp],
        pat_later=units.pat_later[kp],
        agg_ids=tuple(aid for aid, k in zip(units.agg_ids, ks, strict=True) if k),
        agg_study=remap[units.agg_study[ks]],
        agg_events=units.agg_events[ks],
        agg_total=units.agg_total[ks],
        agg_w=units.agg_w[ks],
        agg_v=units.agg_v[ks],
        agg_derived=units.agg_derived[ks],
        excluded=excluded,
    )


def study_masks(units: Units, studies: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks (patients, strata) of the units that belong to ``studies``."""
    wanted = set(studies)
    index = np.array([sid in wanted for sid in units.studies], dtype=bool)
    return index[units.pat_study], index[units.agg_study]


def units_of_studies(units: Units, studies: Iterable[str]) -> Units:
    """The units of the named studies (which must have units in ``units``)."""
    studies = list(studies)
    missing = [s for s in studies if s not in units.studies]
    if missing:
        raise HlhBayesError(f"no evidence unit of {', '.join(missing)} in this analysis")
    return subset_units(units, *study_masks(units, studies))
