"""``hlhbayes update``: re-run the saved analyses on the current evidence base, see what changed.

The saved analyses are the model specs in ``models/*.yaml``, each for both outcomes (response
and death; its filters otherwise as saved). For each analysis:

1. the **previous run** is the latest run folder of that model and outcome
   (:func:`hlhbayes.runs.latest_run`);
2. if it was fitted with the same priors, options and filters on the same evidence base, or on
   the same evidence units (the fingerprint of what the fit sees,
   :meth:`~hlhbayes.models.units.Units.fingerprint`: a study added that this analysis leaves
   out changes nothing it fits), the analysis is **up to date**: nothing to update, nothing is
   fitted;
3. otherwise the spec is fitted on the current base, and the new run is compared with the previous
   one (:mod:`hlhbayes.living.compare`) and every **new study** (in the new fit, not in the
   previous one) is checked against the previous fit's predictive distribution
   (:mod:`hlhbayes.living.conflict`).

Without a previous run, ``new_studies`` (``--new STUDY``) names the studies just added: the
previous state is then re-created by fitting the spec without them (the *baseline*, written to
the history too), so a fresh clone can add a series and see what it changed. Without either,
the fit is recorded as the baseline of later updates.

Everything is fitted before anything is written; run folders are then written whole or not at
all (:mod:`hlhbayes.atomic`), under the analysis's history (:mod:`hlhbayes.runs.layout`), and
existing runs are never touched.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from hlhbayes import atomic, pipeline, runs
from hlhbayes.errors import HlhBayesError
from hlhbayes.living.compare import Comparison, comparison, spec_differences
from hlhbayes.living.conflict import CONFLICT_LEVEL, prior_data_conflict
from hlhbayes.living.subset import units_of_studies
from hlhbayes.models import MODELS
from hlhbayes.models.spec import Spec, default_spec_dir, load_spec
from hlhbayes.models.units import NoEvidenceError

OUTCOMES = ("response", "death")
UP_TO_DATE = ("up to date", "no evidence")
"""Statuses of an analysis that fits nothing."""

Log = Callable[[str], None]


def _silent(_message: str) -> None:
    return None


@dataclass
class AnalysisPlan:
    """What ``update`` will do for one analysis (decided before any sampling)."""

    spec: Spec
    prepared: pipeline.Prepared | None  # None: no evidence for this outcome
    previous: runs.Run | None
    status: str  # "update", "baseline", "baseline+update", "up to date" or "no evidence"
    new_studies: list[str] = field(default_factory=list)
    baseline: pipeline.Prepared | None = None
    notes: list[str] = field(default_factory=list)
    changed_studies: list[str] = field(default_factory=list)
    removed_studies: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """``model/outcome``."""
        return f"{self.spec.model}/{self.spec.filters.outcome}"


@dataclass
class AnalysisUpdate:
    """The outcome of one analysis: fits, comparison, conflict checks and where it was written."""

    plan: AnalysisPlan
    result: pipeline.FitResult | None = None
    baseline: pipeline.FitResult | None = None
    comparison: Comparison | None = None
    conflict: list[dict[str, Any]] = field(default_factory=list)
    run_dir: Path | None = None
    baseline_dir: Path | None = None

    @property
    def converged(self) -> bool:
        """False if any fit of this analysis failed its convergence gate."""
        fits = [f for f in (self.result, self.baseline) if f is not None]
        return all(f.diagnostics.converged for f in fits)


def saved_specs(
    models: tuple[str, ...] = (),
    sampler_overrides: dict[str, Any] | None = None,
    outcomes: tuple[str, ...] = OUTCOMES,
) -> list[Spec]:
    """The saved analyses: each ``models/<model>.yaml`` (or the models named) per outcome."""
    folder = default_spec_dir()
    names = list(models) or sorted(p.stem for p in folder.glob("*.yaml") if p.stem in MODELS)
    if not names:
        raise HlhBayesError(f"no saved analyses: no model spec (*.yaml) in {folder}")
    return [
        load_spec(n, filter_overrides={"outcome": o}, sampler_overrides=sampler_overrides)
        for n in names
        for o in outcomes
    ]


def plan_update(
    specs: list[Spec],
    runs_dir: Path,
    data: Path | None = None,
    new: tuple[str, ...] = (),
    seed: int = 1,
) -> list[AnalysisPlan]:
    """Validate everything and decide, per analysis, what to fit. Samples nothing.

    Raises :class:`~hlhbayes.errors.HlhBayesError` (an ``EvidenceError`` too) for a bad evidence base, spec or ``new`` id.
    """
    from hlhbayes.evidence import load_evidence

    plans = []
    base = load_evidence(data)
    unknown = [s for s in new if s not in base.studies]
    if unknown:
        raise HlhBayesError(f"--new {', '.join(unknown)}: not in the evidence base {base.root}")
    for spec in specs:
        previous = runs.latest_run(runs_dir, spec.model, spec.filters.outcome)
        request = pipeline.FitRequest(spec=spec, data=data, seed=seed)
        try:
            prepared = pipeline.prepare(request, base)
        except NoEvidenceError as exc:  # e.g. no death count in the selected timeframes
            name = f"{spec.model}/{spec.filters.outcome}"
            plans.append(
                AnalysisPlan(spec, None, previous, "no evidence", notes=[f"{name}: {exc}"])
            )
            continue
        plans.append(_plan_one(spec, prepared, previous, new, data, seed))
    return plans


def _plan_one(spec, prepared, previous, new, data, seed) -> AnalysisPlan:
    units = prepared.units
    in_analysis = [s for s in new if s in units.studies]
    plan = AnalysisPlan(spec, prepared, previous, "update")
    for sid in new:
        if sid not in units.studies:
            reason = units.excluded.get(sid, "not in this analysis")
            plan.notes.append(f"{sid} is not part of {plan.name}: {reason}")
    if previous is None:
        if not in_analysis:
            plan.status = "baseline"
            plan.notes.append(
                f"no previous run of {plan.name}: this fit becomes the baseline of later updates"
                + ("" if new else " (to compare now, name the new studies with --new)")
            )
            return plan
        base_spec = dataclasses.replace(
            spec,
            filters=dataclasses.replace(
                spec.filters,
                exclude_studies=tuple(spec.filters.exclude_studies) + tuple(in_analysis),
            ),
        )
        request = pipeline.FitRequest(spec=base_spec, data=data, seed=seed)
        plan.baseline = pipeline.prepare(request, prepared.base)
        plan.status = "baseline+update"
        plan.new_studies = in_analysis
        plan.notes.append(
            f"no previous run of {plan.name}: the previous state is re-created by fitting it "
            f"without {', '.join(in_analysis)}"
        )
        return plan
    differences = spec_differences(previous.spec, spec.to_dict()) if previous.spec else []
    same_base = previous.data_hash == prepared.data_hash
    same_units = previous.provenance.get("units_hash") == units.fingerprint()
    if (same_base or same_units) and not differences:
        plan.status = "up to date"
        why = (
            f"fitted on this evidence base ({prepared.data_hash[:12]})"
            if same_base
            else f"the evidence base changed ({previous.data_hash[:12]} then, "
            f"{prepared.data_hash[:12]} now), but not the evidence this analysis fits"
        )
        plan.notes.append(
            f"nothing to update: no new or changed study since {previous.path} ({why})"
        )
        return plan
    before = previous.provenance.get("study_hashes") or {}
    plan.changed_studies = [
        s for s in units.studies if s in before and before[s] != units.fingerprint(s)
    ]
    plan.removed_studies = [s for s in before if s not in units.studies]
    if differences:
        plan.notes.append(
            f"the previous run {previous.path} used another spec ({'; '.join(differences)}): "
            "the changes reflect that too"
        )
    source = previous.provenance.get("data_source")
    if source and source != prepared.data_source:
        plan.notes.append(
            f"the previous run used other data ({source}); this run uses {prepared.data_source}"
        )
    previous_studies = previous.posterior_studies()
    if new:
        plan.new_studies = in_analysis
        already = [s for s in in_analysis if previous_studies and s in previous_studies]
        if already:
            plan.notes.append(
                f"{', '.join(already)} already in the previous run {previous.path}: its "
                "prior-data conflict check is against a fit that includes it"
            )
    elif previous_studies is None:
        plan.notes.append(
            f"{previous.path} has no posterior draws: new studies cannot be checked for "
            "prior-data conflict"
        )
    else:
        plan.new_studies = [s for s in units.studies if s not in previous_studies]
    return plan


def run_update(
    plans: list[AnalysisPlan], runs_dir: Path, log: Log = _silent
) -> list[AnalysisUpdate]:
    """Fit, compare and check every planned analysis, in memory. Writes nothing.

    The folders the new runs will be written to (under ``runs_dir``) are named here, so that
    the comparison can refer to them.
    """
    out = []
    for k, plan in enumerate(plans, start=1):
        update = AnalysisUpdate(plan)
        out.append(update)
        if plan.status in UP_TO_DATE:
            log(f"[{k}/{len(plans)}] {plan.name}: {plan.status}, nothing to fit")
            continue
        assert plan.prepared is not None  # only an analysis without evidence has none
        update.run_dir = runs.new_history_run(
            runs_dir, plan.spec.model, plan.spec.filters.outcome, plan.prepared.data_hash
        )
        previous_posterior = None
        previous_summary = plan.previous
        if plan.baseline is not None:
            update.baseline_dir = runs.baseline_dir(update.run_dir)
            log(
                f"[{k}/{len(plans)}] {plan.name}: fitting the baseline ({_units(plan.baseline)}) "
                f"and the current base ({_units(plan.prepared)}) in one batch"
            )
            update.baseline, update.result = pipeline.run_fits([plan.baseline, plan.prepared], log)
            previous_posterior = update.baseline.idata["posterior"].to_dataset()
            previous_summary = runs.Run(
                update.baseline_dir, update.baseline.summary_json(), update.baseline.provenance
            )
        else:
            if plan.previous is not None and plan.new_studies and plan.previous.has_draws:
                previous_posterior = plan.previous.group("posterior")
            log(
                f"[{k}/{len(plans)}] {plan.name}: fitting on the current base "
                f"({_units(plan.prepared)})"
            )
            update.result = pipeline.run_fit(plan.prepared, log)
        if previous_summary is not None:
            current = runs.Run(
                update.run_dir, update.result.summary_json(), update.result.provenance
            )
            update.comparison = comparison(previous_summary, current)
            if plan.baseline is not None:  # the baseline's exclusions are explained in a note
                update.comparison.notes = [
                    n
                    for n in update.comparison.notes
                    if "filters exclude_studies" not in n and "same data hash" not in n
                ]
        if previous_posterior is not None and plan.new_studies:
            # unknown compositions of new strata: prior with its mode at the analysis's pooled mix
            update.conflict = prior_data_conflict(
                plan.spec.model,
                previous_posterior,
                units_of_studies(plan.prepared.units, plan.new_studies),
                seed=plan.prepared.request.seed,
                options=plan.spec.options,
                reference=plan.prepared.units,
            )
    return out


def _units(prepared: pipeline.Prepared) -> str:
    return f"data {prepared.data_hash[:12]}: {prepared.units.in_words()}"


def write_update(updates: list[AnalysisUpdate], force: bool = False) -> None:
    """Write every new run folder (and the ``LATEST`` pointers) whole or not at all.

    Holds the lock of each analysis written (``update`` holds them from its planning on). A
    kill part-way is undone analysis by analysis: each has its own journal.
    """
    analyses = [runs.analysis_dir_of(u.run_dir) for u in updates if u.run_dir is not None]
    with runs.reserve(*analyses, tidy=True):
        staged, pointers = _stage_update(updates)
        atomic.commit(
            staged,
            pointers,
            force=force,
            journal_of=lambda path: runs.guard(runs.analysis_dir_of(path)).journal,
        )


def _stage_update(updates: list[AnalysisUpdate]) -> tuple[list[atomic.Staged], dict[Path, bytes]]:
    """Every new run folder staged (nothing in place yet), and the ``LATEST`` pointers."""
    from hlhbayes.living.figures import compare_figure
    from hlhbayes.runs import fill_run

    staged: list[atomic.Staged] = []
    pointers: dict[Path, bytes] = {}
    try:
        for update in updates:
            if update.result is None:
                continue
            plan = update.plan
            if update.baseline is not None:
                update.baseline.provenance["update"] = {"baseline_without": plan.new_studies}
                staged.append(
                    atomic.stage(update.baseline_dir, lambda p, r=update.baseline: fill_run(r, p))
                )
            previous = update.baseline_dir or (plan.previous.path if plan.previous else None)
            update.result.provenance["update"] = {
                "previous_run": str(previous) if previous else None,
                "new_studies": plan.new_studies,
            }

            def fill(path: Path, u: AnalysisUpdate = update, prev: Path | None = previous):
                fill_run(u.result, path)
                if u.comparison is not None:
                    payload = update_payload(u, prev)
                    atomic.write_json(path / "changes.json", payload)
                    u.comparison.frame.to_csv(path / "changes.csv", index=False)
                    compare_figure(
                        u.comparison.frame,
                        path / "changes.png",
                        f"{u.plan.name}: before ({prev}) and after",
                    )
                if u.conflict:
                    pd.DataFrame(u.conflict).to_csv(path / "conflict.csv", index=False)

            staged.append(atomic.stage(update.run_dir, fill))
            pointers.update(runs.latest_pointer(update.run_dir))
    except BaseException:
        atomic.discard(staged, failed=True)
        raise
    return staged, pointers


def update_payload(update: AnalysisUpdate, previous: Path | None = None) -> dict[str, Any]:
    """The JSON form of one analysis's update (also ``changes.json`` in the new run folder).

    An analysis that was not fitted (up to date) has a short form: its status and notes.
    """
    plan = update.plan
    if update.result is None or plan.prepared is None:
        return {
            "model": plan.spec.model,
            "outcome": plan.spec.filters.outcome,
            "status": plan.status,
            "previous_run": str(plan.previous.path) if plan.previous else None,
            "run": None,
            "notes": plan.notes,
        }
    payload: dict[str, Any] = {
        "model": plan.spec.model,
        "outcome": plan.spec.filters.outcome,
        "status": plan.status,
        "previous_run": str(previous or (plan.previous.path if plan.previous else "")) or None,
        "previous_data_hash": (
            update.baseline.provenance["data_hash"]
            if update.baseline is not None
            else (plan.previous.data_hash if plan.previous else None)
        ),
        "run": str(update.run_dir) if update.run_dir else None,
        "baseline_run": str(update.baseline_dir) if update.baseline_dir else None,
        "data_hash": plan.prepared.data_hash,
        "new_studies": plan.new_studies,
        "changed_studies": plan.changed_studies,
        "removed_studies": plan.removed_studies,
        "notes": plan.notes,
        "diagnostics": update.result.diagnostics.as_dict() if update.result else None,
        "changes": update.comparison.as_json()["records"] if update.comparison else [],
        "conflict_level": CONFLICT_LEVEL,
        "conflict": update.conflict,
    }
    if update.comparison is not None:
        payload["notes"] = [*plan.notes, *update.comparison.notes]
    return payload


def nothing_to_update(updates: list[AnalysisUpdate]) -> bool:
    """Whether no analysis was fitted (each up to date, or without evidence)."""
    return all(u.plan.status in UP_TO_DATE for u in updates)
