"""``hlhbayes update``, ``compare``, ``cumulative`` and ``sensitivity``: living evidence."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from hlhbayes.cli.common import (
    EXIT_NOT_CONVERGED,
    cell_options,
    emit_frame,
    emit_json,
    format_option,
    handle_domain_errors,
)
from hlhbayes.models import DEFAULT_MODEL, MODELS
from hlhbayes.models.units import MODEL_ETIOLOGIES, MODEL_LINES
from hlhbayes.spreadsheet import inert_frame


def sampler_options(func: Callable) -> Callable:
    """``--draws``, ``--tune``, ``--chains``, ``--seed`` (defaults: the model spec's)."""
    for option in reversed(
        [
            click.option("--draws", type=click.IntRange(10), help="Draws per chain (spec: 1000)."),
            click.option("--tune", type=click.IntRange(0), help="Tuning steps (spec: 500)."),
            click.option("--chains", type=click.IntRange(1, 64), help="Chains (spec: 4)."),
            click.option("--target-accept", type=click.FloatRange(0.5, 0.999), help="NUTS target."),
            click.option("--seed", type=int, default=1, show_default=True),
            click.option("--quiet", "-q", is_flag=True, help="No progress messages."),
        ]
    ):
        func = option(func)
    return func


def _sampler(o: dict[str, Any]) -> dict[str, Any]:
    return {k: o[k] for k in ("draws", "tune", "chains", "target_accept")}


def _log(o: dict[str, Any]) -> Callable[[str], None]:
    return (lambda _m: None) if o["quiet"] else (lambda m: click.echo(m, err=True))


def _warn_not_converged(what: str) -> None:
    click.echo(f"WARNING: {what} did NOT converge; do not use those estimates.", err=True)
    click.echo(
        "  - remedies: more --draws and --tune, a higher --target-accept (e.g. 0.99), or a "
        "tighter prior on tau",
        err=True,
    )
    sys.exit(EXIT_NOT_CONVERGED)


# ------------------------------------------------------------------------------------------
# update


@click.command()
@click.option(
    "--model",
    "models",
    multiple=True,
    type=click.Choice(list(MODELS)),
    help="Only these saved analyses (repeatable; default: every spec in models/).",
)
@click.option(
    "--new",
    "new",
    multiple=True,
    metavar="STUDY",
    help="A study just added (repeatable). Needed only when an analysis has no previous run: "
    "the previous state is then re-created by fitting without it.",
)
@click.option(
    "--data",
    "data_path",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Evidence base folder (default: $HLHBAYES_DATA or the shipped data/).",
)
@click.option(
    "--runs",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("runs"),
    show_default=True,
    help="Runs folder: previous runs are read from it, new ones written under its history/.",
)
@sampler_options
@format_option("table", "json")
@click.option("--dry-run", is_flag=True, help="Show what would be fitted and compared; no MCMC.")
@click.option("--force", is_flag=True, help="Replace a history folder of the same name.")
@handle_domain_errors
def update(**o: Any) -> None:
    """Re-run the saved analyses on the current evidence base and show what changed.

    The saved analyses are the model specs in models/*.yaml. For each, the previous run is the
    latest of runs/<model>-<outcome>/ (written by fit) and runs/history/<model>-<outcome>/
    (written by update; LATEST names the newest). An analysis already fitted on this evidence
    base with this spec is up to date and is not fitted again.

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
    """
    from hlhbayes.living import update as up

    log = _log(o)
    specs = up.saved_specs(tuple(o["models"]), _sampler(o))
    plans = up.plan_update(specs, o["runs"], o["data_path"], tuple(o["new"]), o["seed"])
    if o["dry_run"]:
        _print_plans(plans)
        return
    updates = up.run_update(plans, o["runs"], log)
    up.write_update(updates, o["runs"], force=o["force"])
    if o["fmt"] == "json":
        emit_json({"analyses": [_payload(u) for u in updates]})
    else:
        for u in updates:
            _print_update(u)
    failed = [u.plan.name for u in updates if not u.converged]
    if failed:
        _warn_not_converged(f"the fit of {', '.join(failed)}")


def _payload(u) -> dict[str, Any]:
    from hlhbayes.living.update import update_payload

    if u.result is None:
        plan = u.plan
        return {
            "model": plan.spec.model,
            "outcome": plan.spec.filters.outcome,
            "status": plan.status,
            "previous_run": str(plan.previous.path) if plan.previous else None,
            "run": None,
            "notes": plan.notes,
        }
    return update_payload(u)


def _print_plans(plans) -> None:
    for p in plans:
        click.echo(f"dry run: {p.name}: {p.status}")
        click.echo(f"  previous run: {p.previous.path if p.previous else 'none'}")
        click.echo(f"  evidence base: data {p.prepared.data_hash[:12]}, {_units(p.prepared)}")
        if p.baseline is not None:
            click.echo(f"  baseline to fit: {_units(p.baseline)}")
        click.echo(f"  new studies: {', '.join(p.new_studies) or 'none'}")
        for note in p.notes:
            click.echo(f"  note: {note}")


def _units(prepared) -> str:
    u = prepared.units.describe()
    studies = f"{u['studies']} {'study' if u['studies'] == 1 else 'studies'}"
    return f"{studies} ({u['patients']} patients, {u['strata']} strata)"


def _print_update(u) -> None:
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
    notes = list(plan.notes) + (u.comparison.notes if u.comparison else [])
    for note in notes:
        click.echo(f"note: {note}")
    if u.comparison is not None:
        for line in compare.table_lines(u.comparison.frame):
            click.echo(line)
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
        for line in conflict.table_lines(u.conflict):
            click.echo(line)
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


@click.command()
@click.argument("run_a", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.argument("run_b", type=click.Path(path_type=Path, file_okay=False, exists=True))
@format_option("table", "json", "csv")
@click.option(
    "--figure",
    type=click.Path(path_type=Path, dir_okay=False),
    help="PNG of the intervals side by side (default: compare-<A>-vs-<B>.png beside RUN_B).",
)
@click.option("--no-figure", is_flag=True, help="Do not draw the figure.")
@handle_domain_errors
def compare(run_a: Path, run_b: Path, fmt: str, figure: Path | None, no_figure: bool) -> None:
    """Compare two runs of the same model and outcome: RUN_A (before) and RUN_B (after).

    For every reported quantity: mean and 95% interval in each run, the shift in posterior SDs
    ((mean_B - mean_A) / sd_A) and the change of the interval's width (absolute and relative).
    Runs of different models or outcomes are refused.
    """
    from hlhbayes.living.compare import compare_runs, label, largest_shifts, table_lines
    from hlhbayes.living.figures import compare_figure

    result = compare_runs(run_a, run_b)
    path = None
    if not no_figure:
        path = figure or run_b.resolve().parent / f"compare-{_name(run_a)}-vs-{_name(run_b)}.png"
        compare_figure(
            result.frame,
            path,
            f"{result.run_a.summary['model']}/{result.run_a.summary['outcome']}: "
            f"A = {run_a}, B = {run_b}",
        )
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
    for line in table_lines(result.frame):
        click.echo(line)
    top = largest_shifts(result.frame)
    if len(top):
        click.echo(
            "moved most: "
            + "; ".join(f"{label(r)} {r['shift_sd']:+.2f} SD" for _, r in top.iterrows())
        )


def _name(run: Path) -> str:
    return run.resolve().name


# ------------------------------------------------------------------------------------------
# cumulative and sensitivity


def _cells(model: str, etiologies: tuple[str, ...], lines: tuple[str, ...], default) -> list:
    if model == "random-effects":
        if etiologies or lines:
            raise ValueError("random-effects has no etiology or line; use --model etiology-line")
        return [(None, None)]
    es = etiologies or default[0]
    ls = lines or default[1]
    return [(e, ln) for e in es for ln in ls]


def _out_folder(o: dict[str, Any], kind: str, model: str, outcome: str) -> Path:
    from hlhbayes.living.history import check_new_folder
    from hlhbayes.runs import check_writable

    out = o["out"] or Path("runs") / f"{kind}-{model}-{outcome}"
    check_new_folder(out, o["force"])
    check_writable(out)
    return out


def _write(out: Path, force: bool, files: Callable[[Path], None]) -> None:
    from hlhbayes.living import history

    staged = history.stage(out, files)
    history.commit([staged], force=force)


def _cell_options(etiology_default: str, line_default: str) -> Callable:
    return cell_options(
        f"Etiology cell(s) (repeatable; default {etiology_default}).",
        f"Line(s) of therapy (repeatable; default {line_default}).",
    )


def _common_options(kind: str) -> Callable:
    def decorate(func: Callable) -> Callable:
        for option in reversed(
            [
                click.option(
                    "--model",
                    type=click.Choice(list(MODELS)),
                    default=DEFAULT_MODEL,
                    show_default=True,
                ),
                click.option(
                    "--outcome", type=click.Choice(["response", "death"]), help="Default: response."
                ),
                click.option(
                    "--out",
                    type=click.Path(path_type=Path),
                    help=f"Output folder (default runs/{kind}-<model>-<outcome>).",
                ),
                click.option("--force", is_flag=True, help="Replace an existing output folder."),
            ]
        ):
            func = option(func)
        return func

    return decorate


@click.command()
@_common_options("cumulative")
@_cell_options("all", "both")
@click.option(
    "--order",
    help="Comma-separated study ids to add first, in this order (the rest follow by year).",
)
@click.option(
    "--data",
    "data_path",
    type=click.Path(path_type=Path, exists=True),
    help="Evidence base folder, or (random-effects) a CSV of study, events, total.",
)
@sampler_options
@format_option("table", "json", "csv")
@handle_domain_errors
def cumulative(**o: Any) -> None:
    """Cumulative meta-analysis: the estimates after each study, in order of publication.

    Step k fits the first k studies (by year, ties by id; --order puts studies first). The model
    is built and compiled once, with likelihood inclusion weights; each step only changes the
    weights and samples, so a step costs its sampling time (shown on stderr). Writes
    cumulative.csv, cumulative.json, cumulative.png and provenance.json to the output folder,
    which is never replaced without --force. Exit 3 if a step fails its convergence gate.
    """
    from hlhbayes import pipeline
    from hlhbayes.living.cumulative import run_cumulative, study_order
    from hlhbayes.living.figures import cumulative_figure
    from hlhbayes.living.history import write_json
    from hlhbayes.models.spec import load_spec

    log = _log(o)
    cells = _cells(o["model"], o["etiologies"], o["lines"], (MODEL_ETIOLOGIES, MODEL_LINES))
    spec = load_spec(
        o["model"], filter_overrides={"outcome": o["outcome"]}, sampler_overrides=_sampler(o)
    )
    request = pipeline.FitRequest(
        spec=spec, data=o["data_path"], seed=o["seed"], command=["hlhbayes", *sys.argv[1:]]
    )
    prepared = pipeline.prepare(request)
    out = _out_folder(o, "cumulative", spec.model, spec.filters.outcome)
    order = tuple(s.strip() for s in (o["order"] or "").split(",") if s.strip())
    study_order(prepared, order)  # validate before compiling anything
    result = run_cumulative(prepared, order, log, progress=not o["quiet"] and sys.stderr.isatty())
    frame = result.frame()
    shown = frame[
        frame.apply(lambda r: (r["etiology"], r["line"]) in cells or r["quantity"] == "tau", axis=1)
        if o["model"] == "etiology-line"
        else [True] * len(frame)
    ]

    def files(path: Path) -> None:
        path.mkdir()
        inert_frame(frame).to_csv(path / "cumulative.csv", index=False)
        write_json(path / "cumulative.json", frame.to_dict(orient="records"))
        write_json(path / "provenance.json", result.provenance)
        cumulative_figure(
            shown, path / "cumulative.png", f"cumulative {spec.model}, {spec.filters.outcome}"
        )

    _write(out, o["force"], files)
    log(f"output folder: {out}")
    rates = shown[shown["quantity"].isin(["rate_typical", "rate_new"])]
    if o["fmt"] == "json":
        emit_json(
            {
                "model": spec.model,
                "outcome": spec.filters.outcome,
                "order": result.provenance["order"],
                "setup_seconds": round(result.setup_seconds, 2),
                "steps": _json_rows(frame),
                "out": str(out),
            }
        )
    elif o["fmt"] == "csv":
        emit_frame(frame, "csv")
    else:
        _print_cumulative(rates, shown)
    if not result.converged:
        _warn_not_converged("at least one step")


def _json_rows(frame) -> list[dict[str, Any]]:
    from hlhbayes.living.compare import frame_records

    return frame_records(frame)


def _print_cumulative(rates, shown) -> None:
    click.echo(
        f"{'step':<5}{'study added':<26}{'year':>5}{'n':>4}  {'etiology':<11}{'line':<7}"
        f"{'quantity':<14}{'mean':>7}  {'95% interval':<16}  converged"
    )
    etiologies = {e: i for i, e in enumerate(MODEL_ETIOLOGIES)}
    rows = sorted(
        rates.to_dict(orient="records"),
        key=lambda r: (
            r["step"],
            etiologies.get(r["etiology"], -1),
            r["line"] or "",
            r["quantity"] != "rate_typical",
        ),
    )
    for r in rows:
        year = "" if r["year"] is None or r["year"] != r["year"] else str(int(r["year"]))
        click.echo(
            f"{r['step']:<5}{r['study']:<26}{year:>5}{r['studies']:>4}  {r['etiology'] or '-':<11}"
            f"{r['line'] or '-':<7}{r['quantity']:<14}{r['mean']:>7.3f}  "
            f"[{r['q2.5']:.3f}, {r['q97.5']:.3f}]  {'yes' if r['converged'] else 'NO'}"
        )
    tau = shown[shown["quantity"] == "tau"]
    if len(tau):
        click.echo(
            "tau by step: "
            + "; ".join(
                f"{r['step']}: {r['mean']:.2f} [{r['q2.5']:.2f}, {r['q97.5']:.2f}]"
                for r in tau.to_dict(orient="records")
            )
        )


@click.command()
@_common_options("sensitivity")
@_cell_options("infection", "first")
@click.option(
    "--scenarios",
    help="Comma-separated scenario names or patterns (e.g. baseline,tau-*,loo-*); default all.",
)
@click.option("--list", "list_only", is_flag=True, help="List the scenarios and exit; no MCMC.")
@click.option(
    "--data",
    "data_path",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Evidence base folder (default: $HLHBAYES_DATA or the shipped data/).",
)
@sampler_options
@format_option("table", "json", "csv")
@handle_domain_errors
def sensitivity(**o: Any) -> None:
    """The headline estimates under alternative choices, in one table and one figure.

    Scenarios: baseline; heterogeneity priors tau ~ HalfNormal(0.5 / 1 / 2), HalfCauchy(1);
    leave one study out (loo-STUDY); no-derived (derived counts out); classic-shlh-only;
    all-conditions (with sepsis with MAS features and COVID-19); adults-only; children-only;
    definition-CODE (each response definition alone). Default cell: infection, first line.

    A scenario with no direct data on a cell is listed as not estimable, with the reason; one
    that fails its convergence gate is listed as not converged. Writes sensitivity.csv, .json,
    .png and provenance.json to the output folder (never replaced without --force). The full set
    is up to about 20 fits (--list shows which will be fitted): use --scenarios for a subset.
    Exit 3 if a fitted scenario did not converge.
    """
    from hlhbayes import pipeline
    from hlhbayes.living import sensitivity as sens
    from hlhbayes.living.figures import sensitivity_figure
    from hlhbayes.living.history import write_json
    from hlhbayes.models.spec import load_spec

    log = _log(o)
    cells = _cells(o["model"], o["etiologies"], o["lines"], (("infection",), ("first",)))
    spec = load_spec(
        o["model"], filter_overrides={"outcome": o["outcome"]}, sampler_overrides=_sampler(o)
    )
    prepared = pipeline.prepare(pipeline.FitRequest(spec=spec, data=o["data_path"]))
    scenarios = sens.build_scenarios(spec, o["data_path"], prepared.units)
    patterns = tuple(s.strip() for s in (o["scenarios"] or "").split(",") if s.strip())
    scenarios = sens.select(scenarios, patterns)
    if o["list_only"]:
        _list_scenarios(spec, scenarios, cells, o)
        return
    out = _out_folder(o, "sensitivity", spec.model, spec.filters.outcome)
    result = sens.run_sensitivity(
        spec.model,
        scenarios,
        cells,
        data=o["data_path"],
        seed=o["seed"],
        outcome=spec.filters.outcome,
        sampler_overrides=_sampler(o),
        log=log,
        command=["hlhbayes", *sys.argv[1:]],
    )
    frame = result.frame()

    def files(path: Path) -> None:
        path.mkdir()
        inert_frame(frame).to_csv(path / "sensitivity.csv", index=False)
        write_json(path / "sensitivity.json", frame.to_dict(orient="records"))
        write_json(path / "provenance.json", result.provenance)
        sensitivity_figure(
            frame, path / "sensitivity.png", f"sensitivity {spec.model}, {spec.filters.outcome}"
        )

    _write(out, o["force"], files)
    log(f"output folder: {out}")
    if o["fmt"] == "json":
        emit_json(
            {
                "model": spec.model,
                "outcome": spec.filters.outcome,
                "out": str(out),
                "scenarios": _json_rows(frame),
            }
        )
    elif o["fmt"] == "csv":
        emit_frame(frame, "csv")
    else:
        _print_sensitivity(frame)
    if not result.converged:
        _warn_not_converged("at least one scenario")


def _print_sensitivity(frame) -> None:
    click.echo(
        f"{'scenario':<34}{'etiology':<11}{'line':<7}{'quantity':<14}{'mean':>7}  "
        f"{'95% interval':<16}  {'studies':>7}  status"
    )
    for r in frame.to_dict(orient="records"):
        if r["mean"] is None or r["mean"] != r["mean"]:
            numbers = f"{'':>7}  {'':<16}"
        else:
            numbers = f"{r['mean']:>7.3f}  [{r['q2.5']:.3f}, {r['q97.5']:.3f}]"
        studies = "" if r["studies"] is None or r["studies"] != r["studies"] else int(r["studies"])
        status = r["status"] + (
            f": {r['reason']}" if r["status"] in ("not estimable", "not run") else ""
        )
        click.echo(
            f"{r['scenario']:<34}{r['etiology'] or '-':<11}{r['line'] or '-':<7}"
            f"{r['quantity']:<14}{numbers}  {studies!s:>7}  {status}"
        )


def _list_scenarios(spec, scenarios, cells, o) -> None:
    from hlhbayes import pipeline
    from hlhbayes.living.sensitivity import prepare_scenario

    click.echo(f"{'scenario':<34}{'group':<22}{'units':<36}{'plan':<16}description")
    baseline = pipeline.prepare(pipeline.FitRequest(spec=spec, data=o["data_path"])).units
    for sc in scenarios:
        ch = prepare_scenario(
            spec.model, sc, cells, o["data_path"], outcome=spec.filters.outcome, baseline=baseline
        )
        units = _units(ch.prepared) if ch.prepared is not None else "-"
        plan = {"fit": "fit", "not run": "not run", "not estimable": "not estimable"}[ch.status]
        if ch.status == "fit" and ch.missing:
            plan = "fit (partly)"
        reason = f" [{ch.reason}]" if ch.reason else ""
        click.echo(f"{sc.name:<34}{sc.group:<22}{units:<36}{plan:<16}{sc.description}{reason}")
