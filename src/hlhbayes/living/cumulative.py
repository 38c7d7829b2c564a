"""Cumulative meta-analysis: the estimates after each study, in order of publication.

Step k fits the first k studies of the order (publication year, ties by id, or the order given).
The PyMC model is **built and compiled once**, on every unit of the analysis, with likelihood
inclusion weights (:mod:`hlhbayes.models.include`): a step only sets the weights (1 for the units
of the studies so far, 0 for the others) and samples again with the same NUTS step object
(:class:`hlhbayes.inference.IncludeSampler`), so the cost of a step is its sampling time.
Studies not yet included keep their study effects and latent compositions in the model; with
weight 0 these are drawn from their priors and touch nothing else.

One difference from refitting each subset from scratch: the Dirichlet / Beta priors of unknown
stratum compositions have their mode at the pooled mix of *all* the analysis's units at every step
(a fixed prior choice), not of the studies so far.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from hlhbayes import pipeline
from hlhbayes.errors import HlhBayesError
from hlhbayes.inference import IncludeSampler
from hlhbayes.living.output import write_output
from hlhbayes.living.subset import include_weights
from hlhbayes.summary import Diagnostics, diagnose, summarise

Log = Callable[[str], None]


def _silent(_message: str) -> None:
    return None


@dataclass
class Step:
    """The fit after adding one study."""

    step: int
    study: str
    year: int | None
    studies: list[str]
    records: list[dict[str, Any]]
    diagnostics: Diagnostics
    seconds: float

    @property
    def label(self) -> str:
        """``3 +Wohlfarth2019 (2017)``."""
        year = f" ({self.year})" if self.year is not None else ""
        return f"{self.step} +{self.study}{year}"


@dataclass
class CumulativeResult:
    """All steps of a cumulative meta-analysis."""

    model: str
    outcome: str
    order: list[tuple[str, int | None]]
    steps: list[Step] = field(default_factory=list)
    setup_seconds: float = 0.0
    provenance: dict[str, Any] = field(default_factory=dict)

    def frame(self) -> pd.DataFrame:
        """One row per step and summary record."""
        rows = []
        for st in self.steps:
            for rec in st.records:
                rows.append(
                    {
                        "step": st.step,
                        "study": st.study,
                        "year": st.year,
                        "studies": len(st.studies),
                        "label": st.label,
                        **rec,
                        "converged": st.diagnostics.converged,
                        "step_max_r_hat": st.diagnostics.max_r_hat,
                        "step_min_ess_bulk": st.diagnostics.min_ess_bulk,
                        "step_divergences": st.diagnostics.divergences,
                        "seconds": round(st.seconds, 2),
                    }
                )
        return pd.DataFrame(rows)

    @property
    def converged(self) -> bool:
        """True if every step passed its convergence gate."""
        return all(st.diagnostics.converged for st in self.steps)

    def shown(self, cells: list[tuple[str | None, str | None]]) -> pd.DataFrame:
        """The rows of the requested ``cells`` (and ``tau``, and records of no cell)."""
        frame = self.frame()
        if frame.empty:
            return frame
        keep = [
            (e if isinstance(e, str) else None, ln if isinstance(ln, str) else None) in cells
            or q == "tau"
            for e, ln, q in zip(frame["etiology"], frame["line"], frame["quantity"], strict=True)
        ]
        return frame[keep]


def write_cumulative(
    result: CumulativeResult,
    out: Path,
    cells: list[tuple[str | None, str | None]],
    force: bool = False,
) -> None:
    """Write the output folder whole or not at all (an existing one only with ``force``).

    ``cumulative.csv`` and ``cumulative.json`` (every summary record of every step),
    ``cumulative.png`` (the requested ``cells`` and ``tau``) and ``provenance.json``.
    """
    from hlhbayes.living.figures import cumulative_figure

    title = f"cumulative {result.model}, {result.outcome}"
    write_output(
        out,
        "cumulative",
        result.frame(),
        result.provenance,
        lambda path: cumulative_figure(result.shown(cells), path, title),
        force,
    )


def study_order(
    prepared: pipeline.Prepared, order: tuple[str, ...] = ()
) -> list[tuple[str, int | None]]:
    """The order of the steps: ``order`` first (as given), then the rest by (year, id).

    Studies whose year is not stated come last, by id. Studies of a user's table
    (``random-effects --data table.csv``) have no year: their default order is the table's.
    Raises :class:`~hlhbayes.errors.HlhBayesError` for an id that is not in the analysis, or
    named twice.
    """
    units = prepared.units
    years = _years(prepared)
    problems = [s for s in order if s not in units.studies]
    if problems:
        raise HlhBayesError(
            f"--order: {', '.join(problems)} not in this analysis; its studies are "
            f"{', '.join(units.studies)}"
        )
    twice = sorted({s for s in order if order.count(s) > 1})
    if twice:
        raise HlhBayesError(f"--order: {', '.join(twice)} named more than once")
    rest = [s for s in units.studies if s not in order]
    if years:
        rest.sort(key=lambda s: (years.get(s) is None, years.get(s) or 0, s))
    return [(s, years.get(s)) for s in [*order, *rest]]


def _years(prepared: pipeline.Prepared) -> dict[str, int | None]:
    base = prepared.base
    if base is None:  # a user's table
        return {}
    return {sid: base.studies[sid].study.year for sid in prepared.units.studies}


def run_cumulative(
    prepared: pipeline.Prepared,
    order: tuple[str, ...] = (),
    log: Log = _silent,
    progress: bool = False,
) -> CumulativeResult:
    """Fit the analysis after each study of the order, with one compiled model."""
    from hlhbayes.provenance import provenance

    spec, units, seed = prepared.request.spec, prepared.units, prepared.request.seed
    steps = study_order(prepared, order)
    result = CumulativeResult(spec.model, spec.filters.outcome, steps)
    if spec.sampler.get("sampler") != "pymc":
        log(f"note: cumulative uses PyMC's NUTS (the spec asks for {spec.sampler['sampler']})")
    start = time.perf_counter()
    sampler = IncludeSampler(prepared.model, units, spec)
    result.setup_seconds = time.perf_counter() - start
    log(
        f"model built and compiled once in {result.setup_seconds:.1f} s "
        f"({units.n_units} units of {len(units.studies)} studies)"
    )
    so_far: list[str] = []
    for k, (sid, year) in enumerate(steps, start=1):
        so_far.append(sid)
        t0 = time.perf_counter()
        idata = sampler.sample(include_weights(units, so_far), seed, progress)
        posterior = idata["posterior"].to_dataset()
        records = summarise(posterior, prepared.model.hyperparameters)
        diagnostics = diagnose(idata, records)
        seconds = time.perf_counter() - t0
        st = Step(k, sid, year, list(so_far), records, diagnostics, seconds)
        result.steps.append(st)
        state = "converged" if diagnostics.converged else "NOT CONVERGED"
        if not diagnostics.converged:
            state += f" ({'; '.join(p.split(':')[0] for p in diagnostics.problems())})"
        log(f"[{k}/{len(steps)}] +{sid}: {k} studies, sampled in {seconds:.1f} s, {state}")
    result.provenance = provenance(
        data_hash=prepared.data_hash,
        data_source=prepared.data_source,
        spec=spec.to_dict(),
        seed=seed,
        method="mcmc (one compiled model, likelihood inclusion weights)",
        units=units.describe(),
        excluded=units.excluded,
        command=prepared.request.command,
    )
    result.provenance["order"] = [s for s, _ in steps]
    return result
