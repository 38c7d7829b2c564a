r"""How many patients and studies give direct data on each cell, counted from the evidence units.

For etiology :math:`e` and line :math:`l` (:math:`\lambda_l(v) = 1 - v` for the first line,
:math:`v` for the later line):

- a **patient** :math:`i` counts :math:`w_{ie}\,\lambda_l(v_i)`: its weight on the trigger (1, or
  1/2 for each of two triggers) if its line is :math:`l`, else 0;
- a **stratum** :math:`j` of :math:`n_j` patients whose etiology fractions :math:`w_{je}` and
  later-line fraction :math:`v_j` are both known counts
  :math:`n_j\,w_{je}\,\lambda_l(v_j)`: the stated composition, the two margins combined as if
  independent (the papers give the margins, not the joint table);
- a stratum with a **latent** (unknown) etiology mix or line mix counts the same product with the
  unknown part replaced by the mean of the model's prior for it
  (:meth:`~hlhbayes.models.base.Borrowing.expected_composition`; for ``etiology-line``
  :math:`(1 + c\,\bar w_e) / (K + c)` and :math:`(1 + c\,\bar v) / (2 + c)`). That expected share
  is **uncertain**, and is kept apart from the direct count.

A study gives direct (uncertain) data on a cell when one of its units has a direct (uncertain)
share above zero there. A model with one cell (``random-effects``) counts every patient and
study as direct. Strata left out by a filter (e.g. patients given anakinra after it failed) are
not in the units and count nowhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from hlhbayes.models import ModelDefinition
from hlhbayes.models.units import MODEL_ETIOLOGIES, MODEL_LINES, Units


@dataclass(frozen=True)
class CellCount:
    """The direct and the uncertain data of one cell (``None``, ``None`` for a model's one cell)."""

    etiology: str | None
    line: str | None
    direct_patients: float
    direct_studies: int
    uncertain_patients: float
    uncertain_studies: int


def cell_counts(
    model: ModelDefinition, units: Units, options: Mapping[str, Any]
) -> dict[tuple[str | None, str | None], CellCount]:
    """Every cell of ``model`` with its direct and uncertain patients and studies."""
    if not model.has_cells:
        patients = float(len(units.pat_ids) + units.agg_total.sum())
        return {(None, None): CellCount(None, None, patients, len(units.studies), 0.0, 0)}
    pat = _patient_shares(units)  # (patient, etiology, line)
    w, v = model.borrowing.expected_composition(units, options)
    latent = np.isnan(units.agg_w).any(axis=1) | np.isnan(units.agg_v)
    agg = units.agg_total[:, None, None] * w[:, :, None] * _line_weights(v)[:, None, :]
    out = {}
    for e, etiology in enumerate(MODEL_ETIOLOGIES):
        for k, line in enumerate(MODEL_LINES):
            direct_pat, direct_agg = pat[:, e, k], np.where(latent, 0.0, agg[:, e, k])
            uncertain = np.where(latent, agg[:, e, k], 0.0)
            studies = set(units.pat_study[direct_pat > 0]) | set(units.agg_study[direct_agg > 0])
            out[(etiology, line)] = CellCount(
                etiology,
                line,
                float(direct_pat.sum() + direct_agg.sum()),
                len(studies),
                float(uncertain.sum()),
                len(set(units.agg_study[uncertain > 0])),
            )
    return out


def _line_weights(later: np.ndarray) -> np.ndarray:
    """``(1 - v, v)`` per unit: its share in the first and in the later line."""
    return np.stack([1.0 - later, later], axis=-1)


def _patient_shares(units: Units) -> np.ndarray:
    """``w_ie (1 - v_i, v_i)``: each patient's weight per etiology and line."""
    return units.pat_w[:, :, None] * _line_weights(units.pat_later)[:, None, :]
