"""What each estimate rests on, as report tables: the ``support`` block of the run.

The block is read from ``summary.json`` (written by ``fit``); a run written before it existed
gets it computed from its DataTree and spec (:func:`hlhbayes.support.estimate_support`). Every
sentence comes from :mod:`hlhbayes.support.words`. Self-contained: :func:`support_context` returns
the two tables and the sentences, and the templates show them as one block.
"""

from __future__ import annotations

from typing import Any

from hlhbayes.priors import Prior
from hlhbayes.reporting.loading import CheckedRun
from hlhbayes.reporting.tables import make_table, row
from hlhbayes.support import estimate_support, words

Cell = tuple[str | None, str | None]


def support_of(run: CheckedRun) -> dict[str, Any]:
    """The run's ``support`` block: from ``summary.json``, else computed from its draws."""
    if "support" in run.summary:
        return run.summary["support"]
    spec = run.provenance["model_spec"]
    priors = {name: Prior.from_dict(p) for name, p in spec["priors"].items()}
    return estimate_support(
        run.model, run.units, spec.get("options") or {}, priors, run.idata, run.provenance["seed"]
    )


def support_context(run: CheckedRun, cells: list[Cell]) -> dict[str, Any]:
    """The block for the report: its tables and sentences, and its records as data.

    ``tables`` (``support``, ``support_hyperparameters``) and ``lines`` are what the templates
    show; ``cells`` (the records of the reported cells, in their order), ``hyperparameters``
    and ``thresholds`` are the ``support`` records of ``summary.json`` as they are, for any
    part of the report that shows a figure of its own.
    """
    block = support_of(run)
    by_cell = {(c["etiology"], c["line"]): c for c in block["cells"]}
    chosen = [by_cell[cell] for cell in cells]
    lines = [f"{words.cell_label(c)}: {c['words']}" for c in chosen]
    lines += [h["words"] for h in block["hyperparameters"] if h["words"]]
    return {
        "tables": {
            "support": _cells_table(chosen),
            "support_hyperparameters": _hyperparameter_table(block["hyperparameters"]),
        },
        "lines": lines,
        "cells": chosen,
        "hyperparameters": block["hyperparameters"],
        "thresholds": block.get("thresholds", {}),
    }


def _cells_table(cells: list[dict[str, Any]]) -> dict[str, Any]:
    return make_table(
        "support",
        "What each estimate rests on",
        [
            "Etiology",
            "Line",
            "Patients with direct data",
            "Studies",
            "Uncertain patients (studies)",
            "Contraction",
            "Borrowed",
            "Flag",
        ],
        [
            row(
                [
                    c["etiology"] or "all",
                    c["line"] or "all",
                    words.number(c["direct_patients"]),
                    str(c["direct_studies"]),
                    f"{words.number(c['uncertain_patients'])} ({c['uncertain_studies']})",
                    words.fixed(c["contraction"]),
                    words.fixed(c["borrowed"]),
                    words.flag_text(c["flags"]),
                ],
                "flag" if c["flags"] else None,
            )
            for c in cells
        ],
        note=(
            "Patients with direct data: patients on the cell's trigger and line (a patient with "
            "two triggers counts 1/2 on each), and strata of stated composition (etiology "
            "fractions x line fractions x total). Uncertain: the expected share, under the "
            "model's prior for an unknown mix, of strata whose etiology or line mix is not "
            "stated. Contraction: 1 - posterior variance / prior variance of the cell's logit "
            f"(below {words.PRIOR_DOMINATED:g}: prior-dominated). Borrowed: posterior variance "
            "of the cell's logit / that of a trigger with no data of its own (1: wholly "
            f"borrowed; above {words.MOSTLY_BORROWED:g}: mostly borrowed)."
        ),
        numeric=(2, 3, 4, 5, 6),
    )


def _hyperparameter_table(records: list[dict[str, Any]]) -> dict[str, Any]:
    return make_table(
        "support_hyperparameters",
        "How much the data say about the hyperparameters",
        ["Parameter", "Contraction", "Prior sensitivity", "Likelihood sensitivity", "Diagnosis"],
        [
            row(
                [
                    h["quantity"],
                    words.fixed(h["contraction"]),
                    words.fixed(h["psense_prior"], 3),
                    words.fixed(h["psense_likelihood"], 3),
                    words.diagnosis_text(h["psense_diagnosis"]),
                ],
                "flag" if h["prior_dominated"] else None,
            )
            for h in records
        ],
        note=(
            "Contraction: 1 - posterior variance / prior variance. Sensitivity: power-scaling "
            "(arviz-stats psense; Kallioinen et al. 2024) of the hyperparameters' priors and of "
            "the likelihood, without refitting; at or above "
            f"{words.PSENSE_THRESHOLD:g} the prior (or likelihood) is influential, and both "
            "together diagnose a potential prior-data conflict."
        ),
        numeric=(1, 2, 3),
    )
