"""``hlhbayes update``, ``compare``, ``cumulative`` and ``sensitivity``: living evidence."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from hlhbayes.cli.common import (
    EXIT_NOT_CONVERGED,
    command_line,
    emit_frame,
    emit_json,
    emit_payload,
    logger,
    not_converged_line,
)
from hlhbayes.cli.options import (
    Choice,
    cell_options,
    data_option,
    model_option,
    outcome_option,
    output_options,
    plot_options,
    quiet_option,
    sampler_options,
    sampler_overrides,
    table_format_option,
    wait_options,
)


def _warn_not_converged(what: str) -> None:
    click.echo(f"WARNING: {what} did NOT converge; do not use those estimates.", err=True)
    click.echo(
        "  - remedies: more --draws and --tune, a higher --target-accept (e.g. 0.99), or a "
        "tighter prior on tau",
        err=True,
    )
    sys.exit(EXIT_NOT_CONVERGED)


def _patterns(text: str | None) -> tuple[str, ...]:
    """A comma-separated option value as a tuple of its non-empty items."""
    return tuple(item.strip() for item in (text or "").split(",") if item.strip())


# ------------------------------------------------------------------------------------------
# update


@click.command(short_help="Re-run the saved analyses and show what changed.")
@model_option(multiple=True)
@click.option(
    "--new",
    "new",
    multiple=True,
    metavar="STUDY",
    help="A study just added (repeatable). Needed only when an analysis has no previous run: "
    "the previous state is then re-created by fitting without it.",
)
@click.option(
    "--outcome",
    "outcomes",
    multiple=True,
    type=Choice(["response", "death"]),
    help="Only the analyses of this outcome (repeatable; default both).",
)
@data_option()
@click.option(
    "--runs",
    "runs_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Runs folder: previous runs are read from it, new ones written under its history/ "
    "(default: the workspace's runs/, else runs/ here).",
)
@sampler_options()
@quiet_option
@table_format_option()
@click.option("--dry-run", is_flag=True, help="Show what would be fitted and compared; no MCMC.")
@click.option("--force", is_flag=True, help="Replace a history folder of the same name.")
@wait_options
def update(
    models: tuple[str, ...],
    new: tuple[str, ...],
    outcomes: tuple[str, ...],
    data_path: Path | None,
    runs_dir: Path | None,
    chains: int | None,
    draws: int | None,
    tune: int | None,
    target_accept: float | None,
    seed: int,
    quiet: bool,
    fmt: str,
    dry_run: bool,
    force: bool,
) -> None:
    """Re-run the saved analyses and show what changed.

    The saved analyses are the model specs in models/*.yaml, each for response and for death
    (--outcome: one of them). For each, the previous run is the latest of
    runs/<model>-<outcome>/ (written by fit) and runs/history/<model>-<outcome>/ (written by
    update; LATEST names the newest). An analysis whose spec and fitted evidence are unchanged
    (the same evidence base, or the same units: a new study it leaves out changes nothing) has
    nothing to update and is not fitted again; when no analysis is affected, update says
    "nothing to update" and exits 0 without sampling.

    The new run goes to runs/history/<model>-<outcome>/<UTC time>-<data hash>/ (a run folder
    plus changes.json, changes.csv, conflict.csv and changes.png); earlier runs are never
    touched. Printed for every reported quantity: before and after (mean, 95% interval), the
    shift in posterior SDs ((after - before) / SD before) and the change of interval width;
    then, for every new study, its observed counts against the previous fit's predictive
    distribution (two-sided mid-p, flagged as a conflict when < 0.05).

    Typical use: `hlhbayes data add STUDY.yaml`, then `hlhbayes update`. Without a previous
    run (a fresh clone), name the study just added: `hlhbayes update --new STUDY`.

    Everything is fitted before anything is written; a refused or failed update leaves data/
    and runs/ as they were. Exit 3 when a fit fails its convergence gate (results written).
    While another hlhbayes command writes runs of the same analyses, waits for it first.
    """
    from hlhbayes import runs
    from hlhbayes.living import update as up
    from hlhbayes.runs import runs_folder

    runs_dir = runs_dir if runs_dir is not None else runs_folder()
    specs = up.saved_specs(
        models, sampler_overrides(chains, draws, tune, target_accept), outcomes or up.OUTCOMES
    )
    if dry_run:
        _print_plans(up.plan_update(specs, runs_dir, data_path, new, seed))
        return
    analyses = [runs.default_run_dir(s.model, s.filters.outcome, runs_dir) for s in specs]
    # from the choice of what to fit to the last write: a second update waits, then finds
    # the analyses this one brought up to date
    with runs.reserve(*analyses):
        plans = up.plan_update(specs, runs_dir, data_path, new, seed)
        updates = up.run_update(plans, runs_dir, logger(quiet))
        up.write_update(updates, force=force)
    if fmt != "table":
        payload = {
            "analyses": [up.update_payload(u) for u in updates],
            "nothing_to_update": up.nothing_to_update(updates),
        }
        emit_payload(payload, fmt)
    else:
        for u in updates:
            _print_update(u)
        if up.nothing_to_update(updates):
            click.echo("nothing to update: no new or changed study since the previous runs")
    failed = [u.plan.name for u in updates if not u.converged]
    if failed:
        _warn_not_converged(f"the fit of {', '.join(failed)}")


def _print_plans(plans) -> None:
    for p in plans:
        click.echo(f"dry run: {p.name}: {p.status}")
        click.echo(f"  previous run: {p.previous.path if p.previous else 'none'}")
        if p.prepared is not None:
            click.echo(f"  evidence base: data {p.prepared.data_hash[:12]}, {_units(p.prepared)}")
        if p.baseline is not None:
            click.echo(f"  baseline to fit: {_units(p.baseline)}")
        click.echo(f"  new studies: {', '.join(p.new_studies) or 'none'}")
        for note in p.notes:
            click.echo(f"  note: {note}")


def _units(prepared) -> str:
    return prepared.units.in_words()


def _print_update(u) -> None:
    from hlhbayes.cli.living_output import print_changes, print_conflicts
    from hlhbayes.living import compare, conflict

    plan = u.plan
    click.echo(f"== {plan.name}: {plan.status} ==")
    if u.result is None:
        for note in plan.notes:
            click.echo(f"note: {note}")
        click.echo("")
        return
    if u.baseline_dir is not None:
        click.echo(f"baseline: {u.baseline_dir} (without {', '.join(plan.new_studies)})")
    elif plan.previous is not None:
        click.echo(
            f"previous: {plan.previous.path} (data {plan.previous.data_hash[:12]}, "
            f"{plan.previous.created or 'time unknown'})"
        )
    click.echo(f"new run:  {u.run_dir} (data {plan.prepared.data_hash[:12]})")
    click.echo(f"new studies: {', '.join(plan.new_studies) or 'none'}")
    if plan.changed_studies:
        click.echo(f"changed studies: {', '.join(plan.changed_studies)}")
    if plan.removed_studies:
        click.echo(f"studies no longer in this analysis: {', '.join(plan.removed_studies)}")
    for fit in (u.baseline, u.result):
        if fit is not None and not fit.diagnostics.converged:
            click.echo(not_converged_line(fit.diagnostics))
    notes = list(plan.notes) + (u.comparison.notes if u.comparison else [])
    for note in notes:
        click.echo(f"note: {note}")
    if u.comparison is not None:
        print_changes(u.comparison.frame)
        top = compare.largest_shifts(u.comparison.frame)
        if len(top):
            click.echo(
                "moved most: "
                + "; ".join(
                    f"{compare.label(r)} {r['shift_sd']:+.2f} SD" for _, r in top.iterrows()
                )
            )
    if u.conflict:
        click.echo(
            "prior-data conflict of the new studies with the previous fit's predictive "
            f"(two-sided mid-p; flagged when < {conflict.CONFLICT_LEVEL}):"
        )
        print_conflicts(u.conflict)
        flagged = [r for r in u.conflict if r["conflict"]]
        click.echo(
            f"{len(flagged)} of {len(u.conflict)} new units in conflict with the previous fit"
            if flagged
            else "no conflict: the new studies are in line with the previous fit's prediction"
        )
    elif plan.new_studies and u.comparison is not None:
        click.echo("prior-data conflict: not available (the previous run has no posterior draws)")
    d = u.result.diagnostics
    state = "converged" if d.converged else "NOT CONVERGED"
    click.echo(
        f"diagnostics: max R-hat {d.max_r_hat:.3f}, min bulk ESS {d.min_ess_bulk:.0f}, "
        f"divergences {d.divergences}: {state}"
    )
    click.echo("")


# ------------------------------------------------------------------------------------------
# compare


@click.command(short_help="Compare two runs of the same model and outcome.")
@click.argument("run_a", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.argument("run_b", type=click.Path(path_type=Path, file_okay=False, exists=True))
@table_format_option()
@plot_options(
    "PNG of the intervals side by side (default: compare-<A>-vs-<B>.png beside RUN_B).",
    dest="figure",
)
def compare(run_a: Path, run_b: Path, fmt: str, figure: Path | None, no_figure: bool) -> None:
    """Compare two runs of the same model and outcome.

    RUN_A is before, RUN_B after. For every reported quantity: mean and 95% interval in each run, the shift in posterior SDs
    ((mean_B - mean_A) / sd_A) and the change of the interval's width (absolute and relative).
    Runs of different models or outcomes are refused.
    """
    from hlhbayes.cli.living_output import print_changes
    from hlhbayes.living.compare import (
        compare_runs,
        default_figure,
        label,
        largest_shifts,
        write_figure,
    )

    result = compare_runs(run_a, run_b)
    path = None
    if not no_figure:
        path = write_figure(result, figure or default_figure(run_a, run_b))
        click.echo(f"figure: {path}", err=True)
    if fmt == "json":
        payload = result.as_json()
        payload["figure"] = str(path) if path else None
        emit_json(payload)
        return
    if fmt == "csv":
        emit_frame(result.frame, "csv")
        return
    s = result.run_a.summary
    click.echo(f"{s['model']}, outcome {s['outcome']}")
    for side, run in (("A", result.run_a), ("B", result.run_b)):
        state = {True: "converged", False: "NOT CONVERGED", None: "convergence unknown"}[
            run.converged
        ]
        click.echo(
            f"{side}: {run.path} (data {run.data_hash[:12]}, {run.created or 'time unknown'}, "
            f"{state})"
        )
    for note in result.notes:
        click.echo(f"note: {note}")
    print_changes(result.frame)
    top = largest_shifts(result.frame)
    if len(top):
        click.echo(
            "moved most: "
            + "; ".join(f"{label(r)} {r['shift_sd']:+.2f} SD" for _, r in top.iterrows())
        )


# ------------------------------------------------------------------------------------------
# cumulative and sensitivity


def _output_options(kind: str):
    return output_options(
        f"Output folder (default runs/{kind}-<model>-<outcome>).",
        "Replace an existing output folder.",
    )


def _cell_options(etiology_default: str, line_default: str):
    return cell_options(
        f"Etiology cell(s) (repeatable; default {etiology_default}).",
        f"Line(s) of therapy (repeatable; default {line_default}).",
    )


@click.command(short_help="Cumulative meta-analysis, one study at a time.")
@model_option()
@outcome_option
@_output_options("cumulative")
@_cell_options("all", "both")
@click.option(
    "--order",
    help="Comma-separated study ids to add first, in this order (the rest follow by year).",
)
@data_option(tables=True)
@sampler_options()
@quiet_option
@table_format_option()
@wait_options
def cumulative(
    model: str,
    outcome: str | None,
    out: Path | None,
    force: bool,
    etiologies: tuple[str, ...],
    lines: tuple[str, ...],
    order: str | None,
    data_path: Path | None,
    chains: int | None,
    draws: int | None,
    tune: int | None,
    target_accept: float | None,
    seed: int,
    quiet: bool,
    fmt: str,
) -> None:
    """Cumulative meta-analysis, one study at a time.

    The estimates after each study, in order of publication. Step k fits the first k studies (by year, ties by id; --order puts studies first), as fit
    would fit them. The steps are likelihood weights over the analysis's units, sampled a few at
    a time through one compiled program (progress and the time left on stderr); a step that
    fails the convergence gate is run again with target_accept 0.99, then also twice the
    warm-up. Writes cumulative.csv, cumulative.json, cumulative.png and provenance.json to the
    output folder, which is never replaced without --force. Exit 3 if a step still fails its
    convergence gate.
    """
    from hlhbayes import pipeline
    from hlhbayes.living.cumulative import run_cumulative, study_order, write_cumulative
    from hlhbayes.models import get_model, select_cells
    from hlhbayes.models.spec import load_spec
    from hlhbayes.runs import output_dir, output_path, reserve

    log = logger(quiet)
    cells = select_cells(get_model(model), etiologies, lines)
    spec = load_spec(
        model,
        filter_overrides={"outcome": outcome},
        sampler_overrides=sampler_overrides(chains, draws, tune, target_accept),
    )
    request = pipeline.FitRequest(spec=spec, data=data_path, seed=seed, command=command_line())
    prepared = pipeline.prepare(request)
    steps = _patterns(order)
    study_order(prepared, steps)  # validate before compiling anything
    with reserve(output_path("cumulative", spec.model, spec.filters.outcome, out)):
        folder = output_dir("cumulative", spec.model, spec.filters.outcome, out, force)
        result = run_cumulative(prepared, steps, log)
        write_cumulative(result, folder, cells, force)
    log(f"output folder: {folder}")
    frame = result.frame()
    shown = result.shown(cells)
    rates = shown[shown["quantity"].isin(["rate_typical", "rate_new"])]
    if fmt == "json":
        emit_json(
            {
                "model": spec.model,
                "outcome": spec.filters.outcome,
                "order": result.provenance["order"],
                "steps": _json_rows(frame),
                "out": str(folder),
            }
        )
    elif fmt == "csv":
        emit_frame(frame, "csv")
    else:
        from hlhbayes.cli.living_output import print_steps

        print_steps(rates, shown)
    if not result.converged:
        _warn_not_converged("at least one step")


def _json_rows(frame) -> list[dict[str, Any]]:
    from hlhbayes.living.compare import frame_records

    return frame_records(frame)


@click.command(short_help="Headline estimates under alternative choices.")
@model_option()
@outcome_option
@_output_options("sensitivity")
@_cell_options("infection", "first")
@click.option(
    "--scenarios",
    help="Comma-separated scenario names or patterns (e.g. baseline,tau-*,loo-*); default all.",
)
@click.option("--list", "list_only", is_flag=True, help="List the scenarios and exit; no MCMC.")
@data_option()
@sampler_options()
@quiet_option
@table_format_option()
@wait_options
def sensitivity(
    model: str,
    outcome: str | None,
    out: Path | None,
    force: bool,
    etiologies: tuple[str, ...],
    lines: tuple[str, ...],
    scenarios: str | None,
    list_only: bool,
    data_path: Path | None,
    chains: int | None,
    draws: int | None,
    tune: int | None,
    target_accept: float | None,
    seed: int,
    quiet: bool,
    fmt: str,
) -> None:
    """Headline estimates under alternative choices.

    In one table and one figure. Scenarios: baseline; the heterogeneity prior (tau) and the etiology-spread prior
    (sigma_eta) at half and double the baseline's scale and half-Cauchy; no-small-series (series
    of fewer than 5 patients out); downweight-small-extreme (series of fewer than 10 patients
    with every outcome favourable at likelihood weight 0.5); leave one study out (loo-STUDY);
    no-derived (derived counts out); classic-shlh-only;
    all-conditions (with sepsis with MAS features and COVID-19); adults-only; children-only;
    definition-CODE (each response definition alone). Default cell: infection, first line.

    A scenario with no direct data on a cell is listed as not estimable, with the reason; one
    that fails its convergence gate (after re-runs with target_accept 0.99, then twice the
    warm-up) is listed as not converged. Writes sensitivity.csv, .json, .png and provenance.json
    to the output folder (never replaced without --force). The fitted scenarios run in one batch,
    one compiled program per model structure (--list shows which will be fitted; --scenarios
    takes a subset). Exit 3 if a fitted scenario did not converge.
    """
    from hlhbayes import pipeline
    from hlhbayes.living import sensitivity as sens
    from hlhbayes.models import get_model, select_cells
    from hlhbayes.models.spec import load_spec
    from hlhbayes.runs import output_dir, output_path, reserve

    cells = select_cells(get_model(model), etiologies, lines, (("infection",), ("first",)))
    overrides = sampler_overrides(chains, draws, tune, target_accept)
    spec = load_spec(model, filter_overrides={"outcome": outcome}, sampler_overrides=overrides)
    request = pipeline.FitRequest(spec=spec, data=data_path, seed=seed, command=command_line())
    prepared = pipeline.prepare(request)
    chosen = sens.select(
        sens.build_scenarios(spec, data_path, prepared.units, prepared.base), _patterns(scenarios)
    )
    if list_only:
        from hlhbayes.cli.living_output import plan_frame

        plans = plan_frame(sens.plan_scenarios(chosen, cells, prepared), _units)
        if fmt == "json":
            emit_json(
                {
                    "model": spec.model,
                    "outcome": spec.filters.outcome,
                    "scenarios": _json_rows(plans),
                }
            )
        else:
            emit_frame(plans, fmt)
        return
    with reserve(output_path("sensitivity", spec.model, spec.filters.outcome, out)):
        folder = output_dir("sensitivity", spec.model, spec.filters.outcome, out, force)
        result = sens.run_sensitivity(prepared, chosen, cells, logger(quiet))
        sens.write_sensitivity(result, folder, force)
    logger(quiet)(f"output folder: {folder}")
    frame = result.frame()
    if fmt == "json":
        emit_json(
            {
                "model": spec.model,
                "outcome": spec.filters.outcome,
                "out": str(folder),
                "scenarios": _json_rows(frame),
            }
        )
    elif fmt == "csv":
        emit_frame(frame, "csv")
    else:
        from hlhbayes.cli.living_output import print_scenarios

        print_scenarios(frame)
    if not result.converged:
        _warn_not_converged("at least one scenario")
