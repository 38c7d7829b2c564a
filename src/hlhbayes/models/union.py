"""The union of the evidence units of several fits: one set of units, a weight vector per fit.

Multi-fit commands (cumulative, sensitivity, update) fit several subsets of the evidence. Each
becomes a weight vector over the union of their units (1 for its own units, 0 for the others),
so that one compiled program fits all of them. A unit is the same in two fits when its id and
its data are the same; a study's effect is shared by its units.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hlhbayes.models.units import Units


@dataclass(frozen=True)
class Union:
    """The union's units and, for each part, the position of each of its units in them.

    ``positions[k][i]`` is the union position (patients, then strata) of unit ``i`` of part
    ``k`` (its patients, then its strata).
    """

    units: Units
    positions: list[np.ndarray]

    def weights(self, part: int, weights: np.ndarray | None = None) -> np.ndarray:
        """Part ``part``'s likelihood weights over the union (its own ``weights``, default 1)."""
        own = self.positions[part]
        out = np.zeros(self.units.n_units)
        out[own] = 1.0 if weights is None else np.asarray(weights, dtype=float)
        return out


def union_units(parts: Sequence[Units], universe: Units | None = None) -> Union:
    """Every distinct unit of ``parts`` (in order of first appearance), studies sorted by id.

    ``universe``: units listed first (e.g. all the units of an analysis whose subsets the
    parts are), so that the union keeps their order. Two units with the same id but other data
    (e.g. a study's one count in two fits with other filters) are kept apart; the second gets
    `` (2)`` added to its id.
    """
    if not parts:
        raise ValueError("no units given")
    if universe is not None:
        whole = union_units([universe, *parts])
        return Union(whole.units, whole.positions[1:])
    studies = tuple(sorted({s for part in parts for s in part.studies}))
    study_index = {s: i for i, s in enumerate(studies)}
    patients: dict[tuple, int] = {}
    strata: dict[tuple, int] = {}
    pat_rows: list[tuple[Units, int]] = []
    agg_rows: list[tuple[Units, int]] = []
    part_keys = []
    for part in parts:
        pat_keys = [_patient_key(part, i) for i in range(len(part.pat_ids))]
        agg_keys = [_stratum_key(part, j) for j in range(len(part.agg_ids))]
        for i, key in enumerate(pat_keys):
            if key not in patients:
                patients[key] = len(pat_rows)
                pat_rows.append((part, i))
        for j, key in enumerate(agg_keys):
            if key not in strata:
                strata[key] = len(agg_rows)
                agg_rows.append((part, j))
        part_keys.append((pat_keys, agg_keys))
    n_pat = len(pat_rows)
    positions = [
        np.array([patients[k] for k in pk] + [n_pat + strata[k] for k in ak], dtype=np.int64)
        for pk, ak in part_keys
    ]
    first = parts[0]

    def pat(field: str) -> np.ndarray:
        values = [getattr(u, field)[i] for u, i in pat_rows]
        return np.array(values).reshape(len(values), *getattr(first, field).shape[1:])

    def agg(field: str) -> np.ndarray:
        values = [getattr(u, field)[j] for u, j in agg_rows]
        return np.array(values).reshape(len(values), *getattr(first, field).shape[1:])

    units = Units(
        studies=studies,
        pat_ids=_unique([u.pat_ids[i] for u, i in pat_rows]),
        pat_study=np.array(
            [study_index[u.studies[u.pat_study[i]]] for u, i in pat_rows], dtype=np.int64
        ),
        pat_y=pat("pat_y").astype(first.pat_y.dtype),
        pat_w=pat("pat_w").astype(float),
        pat_later=pat("pat_later").astype(float),
        agg_ids=_unique([u.agg_ids[j] for u, j in agg_rows]),
        agg_study=np.array(
            [study_index[u.studies[u.agg_study[j]]] for u, j in agg_rows], dtype=np.int64
        ),
        agg_events=agg("agg_events").astype(first.agg_events.dtype),
        agg_total=agg("agg_total").astype(first.agg_total.dtype),
        agg_w=agg("agg_w").astype(float),
        agg_v=agg("agg_v").astype(float),
        agg_derived=agg("agg_derived").astype(bool),
        excluded=dict(first.excluded),
        left_out=dict(first.left_out),
        death_timeframes=dict(first.death_timeframes),
    )
    return Union(units, positions)


def _patient_key(units: Units, i: int) -> tuple:
    return (
        units.pat_ids[i],
        units.studies[units.pat_study[i]],
        int(units.pat_y[i]),
        tuple(units.pat_w[i].tolist()),
        float(units.pat_later[i]),
    )


def _stratum_key(units: Units, j: int) -> tuple:
    return (
        units.agg_ids[j],
        units.studies[units.agg_study[j]],
        int(units.agg_events[j]),
        int(units.agg_total[j]),
        tuple(np.nan_to_num(units.agg_w[j], nan=-1.0).tolist()),
        float(np.nan_to_num(units.agg_v[j], nan=-1.0)),
        bool(units.agg_derived[j]),
    )


def _unique(ids: list[str]) -> tuple[str, ...]:
    seen: dict[str, int] = {}
    out = []
    for unit_id in ids:
        seen[unit_id] = seen.get(unit_id, 0) + 1
        out.append(unit_id if seen[unit_id] == 1 else f"{unit_id} ({seen[unit_id]})")
    return tuple(out)
