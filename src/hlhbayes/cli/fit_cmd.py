"""``hlhbayes fit``: fit a model, print the headline estimates, write a run folder."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hlhbayes.cli.common import (
    EXIT_NOT_CONVERGED,
    cell_options,
    emit_frame,
    emit_json,
    format_option,
    handle_domain_errors,
)
from hlhbayes.evidence.schema import CONDITIONS
from hlhbayes.models import DEFAULT_MODEL, MODELS
from hlhbayes.models.spec import load_spec
from hlhbayes.models.units import MODEL_ETIOLOGIES, MODEL_LINES
from hlhbayes.priors import Prior
from hlhbayes.quoting import quoted


def _parse_prior_option(values: tuple[str, ...]) -> dict[str, Prior]:
    priors = {}
    for text in values:
        name, sep, rest = text.partition("=")
        if not sep:
            raise ValueError(
                f"--prior {quoted(text)}: use NAME=FAMILY:PARAMS, e.g. tau=halfnormal:0.5"
            )
        priors[name.strip()] = Prior.parse(rest)
    return priors


@click.command()
@click.option(
    "--model",
    type=click.Choice(list(MODELS)),
    default=DEFAULT_MODEL,
    show_default=True,
    help="etiology-line: response by trigger and line; random-effects: any study/events/total table.",
)
@cell_options(
    etiology_help="Etiology cell(s) to print (repeatable; default all). Medication counts as other.",
    line_help="Line(s) of therapy to print (repeatable; default both).",
)
@click.option("--outcome", type=click.Choice(["response", "death"]), help="Default: response.")
@click.option(
    "--data",
    "data_path",
    type=click.Path(path_type=Path, exists=True),
    help="Evidence base folder, or (random-effects) a CSV of study, events, total.",
)
@click.option("--study-col", help="random-effects table: the study column.")
@click.option("--events-col", help="random-effects table: the events column.")
@click.option("--total-col", help="random-effects table: the total column.")
@click.option("--population", type=click.Choice(["adult", "pediatric", "all"]))
@click.option(
    "--condition",
    "conditions",
    multiple=True,
    type=click.Choice(CONDITIONS),
    help="Conditions to include (repeatable; default classic_shlh and mas).",
)
@click.option("--exclude-study", "exclude_studies", multiple=True, help="Study id to leave out.")
@click.option("--exclude-derived", is_flag=True, default=None, help="Leave out derived counts.")
@click.option(
    "--prior",
    "prior_texts",
    multiple=True,
    metavar="NAME=FAMILY:PARAMS",
    help="Override a prior, e.g. tau=halfcauchy:0.5, gamma=normal:0,0.5 (repeatable).",
)
@click.option("--prior-mu-mean", type=float, help="Mean of the normal prior on mu (alpha).")
@click.option("--prior-mu-sd", type=float, help="SD of the normal prior on mu (alpha).")
@click.option("--prior-tau", help="Prior on tau, e.g. halfnormal:1 or halfcauchy:0.5.")
@click.option(
    "--spec",
    "spec_path",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Model spec file (default: models/<model>.yaml).",
)
@click.option(
    "--threshold",
    "thresholds",
    multiple=True,
    type=float,
    help="Report P(rate > P) (repeatable; default 0.5).",
)
@click.option(
    "--method",
    type=click.Choice(["mcmc", "exact"]),
    default="mcmc",
    show_default=True,
    help="exact: quadrature instead of MCMC (random-effects only; instant).",
)
@click.option("--chains", type=click.IntRange(1, 64))
@click.option("--draws", type=click.IntRange(10))
@click.option("--tune", type=click.IntRange(0))
@click.option("--target-accept", type=click.FloatRange(0.5, 0.999))
@click.option("--sampler", type=click.Choice(["pymc", "nutpie"]), help="NUTS implementation.")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Run folder (default runs/<model>-<outcome>; an earlier run there moves to "
    "runs/history/<model>-<outcome>/).",
)
@click.option(
    "--force", is_flag=True, help="Replace an existing --out folder (the default folder is kept)."
)
@format_option("table", "json", "csv")
@click.option(
    "--dry-run", is_flag=True, help="Validate, print the model and prior predictive; no MCMC."
)
@click.option("--quiet", "-q", is_flag=True, help="No progress messages.")
@handle_domain_errors
def fit(**o) -> None:
    """Fit a model to the evidence base and print the headline estimates.

    For each requested etiology x line: rate_typical (a typical study) and rate_new (a new
    study: the MAP prior) with mean, median, 95% interval and P(rate > threshold), then a
    diagnostics line. Exit 3 when the fit fails its convergence gate (results still written).
    """
    from hlhbayes import pipeline
    from hlhbayes.living.history import plan_output
    from hlhbayes.runs import default_run_dir, summary_frame, write_run

    log = (lambda m: None) if o["quiet"] else (lambda m: click.echo(m, err=True))
    priors = _parse_prior_option(o["prior_texts"])
    mu_name = "mu" if o["model"] == "random-effects" else "alpha"
    if o["prior_mu_mean"] is not None or o["prior_mu_sd"] is not None:
        priors[mu_name] = Prior(
            "normal",
            {
                "mu": o["prior_mu_mean"] if o["prior_mu_mean"] is not None else 0.0,
                "sigma": o["prior_mu_sd"] if o["prior_mu_sd"] is not None else 1.5,
            },
        )
    if o["prior_tau"]:
        priors["tau"] = Prior.parse(o["prior_tau"])
    if o["model"] == "random-effects" and (o["etiologies"] or o["lines"]):
        raise ValueError("random-effects has no etiology or line; use --model etiology-line")
    spec = load_spec(
        o["model"],
        o["spec_path"],
        prior_overrides=priors,
        filter_overrides={
            "outcome": o["outcome"],
            "population": o["population"],
            "conditions": list(o["conditions"]) or None,
            "exclude_studies": list(o["exclude_studies"]) or None,
            "exclude_derived": o["exclude_derived"],
        },
        sampler_overrides={
            "chains": o["chains"],
            "draws": o["draws"],
            "tune": o["tune"],
            "target_accept": o["target_accept"],
            "sampler": o["sampler"],
        },
    )
    request = pipeline.FitRequest(
        spec=spec,
        data=o["data_path"],
        seed=o["seed"],
        thresholds=tuple(o["thresholds"]) or (0.5,),
        method=o["method"],
        table_columns={
            "study_col": o["study_col"],
            "events_col": o["events_col"],
            "total_col": o["total_col"],
        },
        progress=not o["quiet"] and sys.stderr.isatty(),
        command=["hlhbayes", *sys.argv[1:]],
    )
    prepared = pipeline.prepare(request)
    out, keep_previous = plan_output(
        o["out"], default_run_dir(spec.model, spec.filters.outcome), o["force"] or o["dry_run"]
    )
    header = _header(spec, prepared)
    if o["dry_run"]:
        _print_dry_run(spec, prepared, header)
        return
    log(header)
    result = pipeline.run_fit(prepared, log)
    write_run(result, out, keep_previous)
    if keep_previous is not None:
        log(f"the earlier run in {out} is kept in {keep_previous}")
    cells = _cells(result, o["etiologies"], o["lines"])
    if o["fmt"] == "json":
        payload = result.summary_json()
        payload["probabilities"] = result.probabilities
        payload["run"] = str(out)
        emit_json(payload)
    elif o["fmt"] == "csv":
        emit_frame(summary_frame([r for r in result.records if _wanted(r, cells)]), "csv")
    else:
        _print_table(result, cells, request.thresholds)
    d = result.diagnostics
    if request.method == "exact":
        log(f"exact posterior by quadrature (no MCMC); run folder: {out}")
    else:
        state = "converged" if d.converged else "NOT CONVERGED"
        log(
            f"diagnostics: max R-hat {d.max_r_hat:.3f}, min bulk ESS {d.min_ess_bulk:.0f}, "
            f"divergences {d.divergences}: {state}; run folder: {out}"
        )
    if not d.converged:
        click.echo("WARNING: the fit did NOT converge; do not use these estimates.", err=True)
        for problem in d.problems():
            click.echo(f"  - {problem}", err=True)
        sys.exit(EXIT_NOT_CONVERGED)


def _header(spec, prepared) -> str:
    u = prepared.units.describe()
    return (
        f"{spec.model}, outcome {spec.filters.outcome}: {u['studies']} studies "
        f"({u['patients']} patients, {u['strata']} strata; {u['events']}/{u['total']} events); "
        f"data {prepared.data_hash[:12]}"
    )


def _shorten(text: str, width: int = 90) -> str:
    return text if len(text) <= width else text[: width - 3].rstrip() + "..."


def _cells(result, etiologies, lines) -> set[tuple[str | None, str | None]]:
    if result.model == "random-effects":
        return {(None, None)}
    es = etiologies or MODEL_ETIOLOGIES
    ls = lines or MODEL_LINES
    return {(e, ln) for e in es for ln in ls}


def _wanted(record: dict, cells: set) -> bool:
    if record["etiology"] is None and record["line"] is None:
        return True
    return (record["etiology"], record["line"]) in cells


def _print_table(result, cells, thresholds) -> None:
    probs = {
        (p["quantity"], p["etiology"], p["line"], p["threshold"]): p["probability"]
        for p in result.probabilities
    }
    head = (
        f"{'etiology':<11}{'line':<7}{'quantity':<14}{'mean':>7}{'median':>8}  {'95% interval':<16}"
    )
    head += "".join(f"{'P(>' + format(t, 'g') + ')':>9}" for t in thresholds)
    click.echo(head)
    order = {e: i for i, e in enumerate(MODEL_ETIOLOGIES)}
    rows = [r for r in result.records if r["quantity"] in ("rate_typical", "rate_new")]
    rows = [r for r in rows if (r["etiology"], r["line"]) in cells]
    rows.sort(
        key=lambda r: (
            order.get(r["etiology"], -1),
            r["line"] or "",
            r["quantity"] != "rate_typical",
        )
    )
    for r in rows:
        line = (
            f"{r['etiology'] or '-':<11}{r['line'] or '-':<7}{r['quantity']:<14}"
            f"{r['mean']:>7.3f}{r['q50']:>8.3f}  [{r['q2.5']:.3f}, {r['q97.5']:.3f}]  "
        )
        line += "".join(
            f"{probs[(r['quantity'], r['etiology'], r['line'], t)]:>9.3f}" for t in thresholds
        )
        click.echo(line)
    hyper = [r for r in result.records if r["quantity"] not in ("rate_typical", "rate_new")]
    if hyper:
        click.echo(
            "hyperparameters: "
            + "; ".join(
                f"{r['quantity']} {r['mean']:.2f} [{r['q2.5']:.2f}, {r['q97.5']:.2f}]"
                for r in hyper
            )
        )


def _print_dry_run(spec, prepared, header) -> None:
    from hlhbayes import pipeline

    click.echo(f"dry run: {header}")
    click.echo(f"model: {spec.model} (spec: {spec.source or 'built-in defaults'})")
    click.echo("priors:")
    for name, prior in spec.priors.items():
        click.echo(f"  {name:<10}~ {prior}")
    if spec.options:
        click.echo("options: " + ", ".join(f"{k}={v}" for k, v in spec.options.items()))
    f = spec.filters
    click.echo(
        f"filters: outcome {f.outcome}; population {f.population}; conditions "
        f"{', '.join(f.conditions)}; excluded {', '.join(f.exclude_studies) or 'none'}; "
        f"derived counts {'excluded' if f.exclude_derived else 'included'}"
    )
    u = prepared.units
    click.echo(f"dims: study {len(u.studies)}, patient {len(u.pat_ids)}, stratum {len(u.agg_ids)}")
    for sid, reason in sorted(u.excluded.items()):
        click.echo(f"  left out {sid}: {_shorten(reason)}")
    s = spec.sampler
    click.echo(
        f"sampler: {s['sampler']} NUTS, {s['chains']} chains x {s['draws']} draws, "
        f"{s['tune']} tuning, target_accept {s['target_accept']}"
    )
    if prepared.request.method == "exact":
        return
    check = pipeline.prior_check(prepared)
    click.echo("prior predictive (2.5%, 50%, 97.5%):")
    for name, q in check["quantiles"].items():
        values = q.values
        if values.ndim == 1:
            click.echo(f"  {name:<13}{values[0]:8.3f}{values[1]:8.3f}{values[2]:8.3f}")
        else:
            flat = values.reshape(3, -1)
            click.echo(
                f"  {name:<13}{flat[0].min():8.3f}{float(sorted(flat[1])[len(flat[1]) // 2]):8.3f}"
                f"{flat[2].max():8.3f}  (range over cells)"
            )
    ev = check["events"]
    lo, mid, hi = ev["predicted_events_95"]
    click.echo(f"  observed events {ev['events']}; prior predictive {mid:.0f} [{lo:.0f}, {hi:.0f}]")
