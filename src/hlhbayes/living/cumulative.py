"""Cumulative meta-analysis: the estimates after each study, in order of publication.

Step k fits the first k studies of the order (publication year, ties by id, or the order given).
Every step is a fit of its own units, as ``fit`` would fit them (the priors of unknown stratum
compositions centred on the pooled mix of the step's own units, each study's parameterisation
chosen from the step's data): the steps are likelihood weights over the analysis's units (1 for
the studies so far, 0 for the others) and run through one compiled program
(:func:`hlhbayes.inference.sample_scenarios`), a few steps per call. A step that fails the
convergence gate is run again automatically (a higher target_accept, then a longer warm-up);
one that still fails is marked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from hlhbayes import pipeline
from hlhbayes.errors import HlhBayesError
from hlhbayes.living.output import write_output
from hlhbayes.living.subset import units_of_studies
from hlhbayes.summary import Diagnostics, diagnose, summarise

if TYPE_CHECKING:
    from hlhbayes.inference import ScenarioFit

Log = Callable[[str], None]


def _silent(_message: str) -> None:
    return None


@dataclass
class Step:
    """The fit after adding one study, and the sampler settings it finally needed."""

    step: int
    study: str
    year: int | None
    studies: list[str]
    records: list[dict[str, Any]]
    diagnostics: Diagnostics
    seconds: float
    target_accept: float | None = None
    tune: int | None = None
    attempts: int = 1

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
                        "target_accept": st.target_accept,
                        "tune": st.tune,
                        "attempts": st.attempts,
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
) -> CumulativeResult:
    """Fit the analysis after each study of the order: every step in one compiled program."""
    from hlhbayes.inference import Scenario, sample_scenarios
    from hlhbayes.provenance import provenance

    spec, units, seed = prepared.request.spec, prepared.units, prepared.request.seed
    steps = study_order(prepared, order)
    result = CumulativeResult(spec.model, spec.filters.outcome, steps)
    scenarios = [
        Scenario(sid, units_of_studies(units, [s for s, _ in steps[: k + 1]]), spec.priors)
        for k, (sid, _) in enumerate(steps)
    ]
    found: dict[int, Step] = {}

    def finished(k: int, fit: ScenarioFit, left: float | None) -> None:
        records = summarise(fit.posterior, prepared.model.hyperparameters)
        diagnostics = diagnose(fit.posterior, fit.sample_stats, records)
        sid, year = steps[k]
        found[k] = Step(
            k + 1,
            sid,
            year,
            list(fit.scenario.units.studies),
            records,
            diagnostics,
            fit.seconds,
            fit.target_accept,
            fit.tune,
            fit.attempts,
        )
        studies = f"{k + 1} {'study' if k == 0 else 'studies'}"
        log(f"[{k + 1}/{len(steps)}] +{sid}: {studies}, {step_state(found[k], left)}")

    sample_scenarios(prepared.model, scenarios, spec, seed, log, finished, universe=units)
    result.steps = [found[k] for k in sorted(found)]
    result.provenance = provenance(
        data_hash=prepared.data_hash,
        data_source=prepared.data_source,
        spec=spec.to_dict(),
        seed=seed,
        method="mcmc (one compiled program, likelihood weights per step)",
        units=units.describe(),
        excluded=units.excluded,
        command=prepared.request.command,
    )
    result.provenance["order"] = [s for s, _ in steps]
    return result


def step_state(step: Step, left: float | None = None) -> str:
    """``sampled in 2.1 s, converged (target_accept 0.99), about 12 s left``."""
    d = step.diagnostics
    state = "converged" if d.converged else "NOT CONVERGED"
    if not d.converged:
        state += f" ({'; '.join(p.split(':')[0] for p in d.problems())})"
    if step.attempts > 1:
        state += f" (re-run: target_accept {step.target_accept:g}, {step.tune} tuning)"
    text = f"sampled in {step.seconds:.1f} s, {state}"
    return text + (f", about {left:.0f} s left" if left else "")
