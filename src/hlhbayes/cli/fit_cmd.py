"""``hlhbayes fit``: fit a model, print the headline estimates, write a run folder."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

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
from hlhbayes.cli.dry_run import dry_run_payload
from hlhbayes.cli.options import (
    Choice,
    cell_options,
    data_option,
    format_option,
    model_option,
    outcome_option,
    output_options,
    quiet_option,
    sampler_options,
    sampler_overrides,
    threshold_option,
    wait_options,
)
from hlhbayes.cli.progress_display import finish
from hlhbayes.cli.tables import interval, print_table
from hlhbayes.errors import HlhBayesError
from hlhbayes.evidence.schema import CONDITIONS, TIMEFRAME_WORDS, TIMEFRAMES
from hlhbayes.priors import short_forms
from hlhbayes.rounding import probability, rate


@click.command(short_help="Fit a model and print the headline estimates.")
@model_option()
@cell_options(
    etiology_help="Etiology cell(s) to print (repeatable; default all). Medication counts as other.",
    line_help="Line(s) of therapy to print (repeatable; default both).",
)
@outcome_option
@data_option(tables=True)
@click.option("--study-col", help="random-effects table: the study column.")
@click.option("--events-col", help="random-effects table: the events column.")
@click.option("--total-col", help="random-effects table: the total column.")
@click.option(
    "--population",
    type=Choice(["adult", "pediatric", "all"]),
    help="Studies of adults, of children, or all (default: the spec's).",
)
@click.option(
    "--condition",
    "conditions",
    multiple=True,
    type=Choice(CONDITIONS),
    help="Conditions to include (repeatable; default classic_shlh and mas).",
)
@click.option("--exclude-study", "exclude_studies", multiple=True, help="Study id to leave out.")
@click.option("--exclude-derived", is_flag=True, default=None, help="Leave out derived counts.")
@click.option(
    "--death-timeframe",
    "death_timeframes",
    multiple=True,
    type=Choice(TIMEFRAMES),
    help="--outcome death: deaths counted in this timeframe enter (repeatable; default "
    "last_follow_up and not_stated).",
)
@click.option(
    "--include-after-anakinra-failure",
    is_flag=True,
    default=None,
    help="Count strata of patients given anakinra after anakinra failed as later line "
    "(default: left out).",
)
@click.option(
    "--prior",
    "prior_texts",
    multiple=True,
    metavar="NAME=FAMILY:PARAMS",
    help="Override a prior, e.g. tau=halfcauchy:0.5, gamma=normal:0,0.5 (repeatable). "
    f"FAMILY:PARAMS is one of {short_forms()}.",
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
@threshold_option(
    "Report P(rate > P) (repeatable; default: the spec's thresholds, each with its reason)."
)
@click.option(
    "--method",
    type=Choice(["mcmc", "exact"]),
    default="mcmc",
    show_default=True,
    help="exact: quadrature instead of MCMC (random-effects only; instant).",
)
@click.option(
    "--sensitivity/--no-sensitivity",
    default=True,
    show_default=True,
    help="Also fit the sensitivity table a guideline reviewer asks for: the tau and sigma_eta "
    "priors at half and double scale and half-Cauchy, series of fewer than 5 patients left "
    "out, small series with every outcome favourable at half weight (one batch, about 20-40 s "
    "more once compiled; stored in the run folder). Not for --method exact.",
)
@sampler_options(nuts=True)
@output_options(
    "Run folder (default runs/<model>-<outcome>; an earlier run there moves to "
    "runs/history/<model>-<outcome>/).",
    "Replace an existing --out folder (the default folder is kept).",
)
@format_option("table", "json", "csv")
@click.option(
    "--dry-run", is_flag=True, help="Validate, print the model and prior predictive; no MCMC."
)
@quiet_option
@wait_options
def fit(
    model: str,
    etiologies: tuple[str, ...],
    lines: tuple[str, ...],
    outcome: str | None,
    data_path: Path | None,
    study_col: str | None,
    events_col: str | None,
    total_col: str | None,
    population: str | None,
    conditions: tuple[str, ...],
    exclude_studies: tuple[str, ...],
    exclude_derived: bool | None,
    death_timeframes: tuple[str, ...],
    include_after_anakinra_failure: bool | None,
    prior_texts: tuple[str, ...],
    prior_mu_mean: float | None,
    prior_mu_sd: float | None,
    prior_tau: str | None,
    spec_path: Path | None,
    thresholds: tuple[float, ...],
    method: str,
    sensitivity: bool,
    chains: int | None,
    draws: int | None,
    tune: int | None,
    target_accept: float | None,
    sampler: str | None,
    seed: int,
    out: Path | None,
    force: bool,
    fmt: str,
    dry_run: bool,
    quiet: bool,
) -> None:
    """Fit a model and print the headline estimates.

    For each requested etiology x line: rate_typical (a typical study) and rate_new (a new
    study: the MAP prior) with mean, median, 95% interval and P(rate > threshold); then what
    each estimate rests on (patients and studies with direct data, the uncertain share of strata
    of unknown composition, contraction from the prior, share borrowed, flags) and how much the
    data say about each hyperparameter (contraction, power-scaling prior sensitivity); then how
    sensitive the estimates are (the sensitivity table: each scenario's rates and how far the
    lower bound of the new-study rate moves; --no-sensitivity skips it); then a diagnostics
    line. Exit 3 when the fit fails its convergence gate (results still written; a scenario of
    the sensitivity table that fails its own is marked in the table, and the exit status stays
    the fit's). While another hlhbayes command writes the same run folder, waits for it before
    fitting.
    """
    from hlhbayes import pipeline
    from hlhbayes.models import select_cells
    from hlhbayes.models.spec import command_line_priors, load_spec
    from hlhbayes.runs import SENSITIVITY_CSV, default_run_dir, plan_output, reserve, write_run

    log = logger(quiet)
    spec = load_spec(
        model,
        spec_path,
        prior_overrides=command_line_priors(
            model, prior_texts, prior_mu_mean, prior_mu_sd, prior_tau
        ),
        filter_overrides={
            "outcome": outcome,
            "population": population,
            "conditions": list(conditions) or None,
            "exclude_studies": list(exclude_studies) or None,
            "exclude_derived": exclude_derived,
            "death_timeframes": list(death_timeframes) or None,
            "include_after_anakinra_failure": include_after_anakinra_failure,
        },
        sampler_overrides=sampler_overrides(chains, draws, tune, target_accept, sampler),
    )
    request = pipeline.FitRequest(
        spec=spec,
        data=data_path,
        seed=seed,
        thresholds=thresholds or spec.threshold_values(),
        method=method,
        table_columns={"study_col": study_col, "events_col": events_col, "total_col": total_col},
        command=command_line(),
        etiologies=etiologies,
        lines=lines,
    )
    prepared = pipeline.prepare(request)
    if method != "mcmc" and _given("sensitivity"):  # by default an exact fit goes without
        raise HlhBayesError(
            "--sensitivity: the sensitivity table refits by MCMC; it is not made for --method "
            "exact (drop --sensitivity, or fit by MCMC)"
        )
    default = default_run_dir(spec.model, spec.filters.outcome)
    header = _header(prepared)
    if dry_run:
        plan_output(out, default, force=True)  # only whether the folder could be written
        refits = _sensitivity_refits(prepared) if sensitivity and method == "mcmc" else None
        if fmt == "table":
            _print_dry_run(prepared, header, refits)
        else:
            emit_payload(dry_run_payload(prepared, header, refits), fmt)
        return
    # the folder is checked and written by this command alone: a second fit into it waits,
    # then keeps (or refuses) this one's run before it samples anything
    with reserve(out or default):
        target, keep_previous = plan_output(out, default, force)
        log(header)
        result = pipeline.run_fit(prepared, log)
        if sensitivity and method == "mcmc":
            from hlhbayes.living.reviewer import reviewer_sensitivity

            cells = select_cells(prepared.model, etiologies, lines)
            result.sensitivity = reviewer_sensitivity(
                prepared, cells, result.records, result.diagnostics.converged, log, request.command
            )
        write_run(result, target, keep_previous)
    if keep_previous is not None:
        log(f"the earlier run in {target} is kept in {keep_previous}")
    records = pipeline.records_of_cells(result, etiologies, lines)
    d = result.diagnostics
    finish()  # the live progress display ends before the results
    if fmt == "json":
        payload = result.summary_json()
        payload["probabilities"] = result.probabilities
        payload["run"] = str(target)
        if result.sensitivity is not None:
            payload["sensitivity"] = result.sensitivity
        emit_json(payload)
    elif fmt == "csv":
        import pandas as pd

        frame = pd.DataFrame(result.summary_table(records))
        emit_frame(frame.assign(converged=d.converged), "csv")
        if result.sensitivity is not None:  # one table on stdout: the other is in the run
            log(f"sensitivity table: {target / SENSITIVITY_CSV}")
    else:
        _print_table(result, records, request.thresholds)
        _print_support(result, etiologies, lines)
        if not d.converged:  # the last line of the table says so itself
            click.echo(not_converged_line(d))
        if result.sensitivity is not None:
            _print_sensitivity(result.sensitivity)
    if method == "exact":
        log(f"exact posterior by quadrature (no MCMC); run folder: {target}")
    else:
        state = "converged" if d.converged else "NOT CONVERGED"
        log(
            f"diagnostics: max R-hat {d.max_r_hat:.3f}, min bulk ESS {d.min_ess_bulk:.0f}, "
            f"divergences {d.divergences}: {state}; run folder: {target}"
        )
    _warn_sensitivity(result.sensitivity)
    if not d.converged:
        click.echo("WARNING: the fit did NOT converge; do not use these estimates.", err=True)
        for problem in d.problems():
            click.echo(f"  - {problem}", err=True)
        sys.exit(EXIT_NOT_CONVERGED)


def _given(name: str) -> bool:
    """Whether the option ``name`` was given on the command line (not its default)."""
    from click.core import ParameterSource

    source = click.get_current_context().get_parameter_source(name)
    return source == ParameterSource.COMMANDLINE


def _header(prepared) -> str:
    spec = prepared.request.spec
    u = prepared.units.describe()
    frames = u.get("death_timeframes")
    deaths = (
        "; deaths counted "
        + ", ".join(f"{TIMEFRAME_WORDS[k]} ({n} patients)" for k, n in frames.items())
        if frames
        else ""
    )
    return (
        f"{spec.model}, outcome {spec.filters.outcome}: {prepared.units.in_words(events=True)}"
        f"{deaths}; data {prepared.data_hash[:12]}"
    )


def _shorten(text: str, width: int = 90) -> str:
    return text if len(text) <= width else text[: width - 3].rstrip() + "..."


def _print_table(result, records, thresholds) -> None:
    """The headline estimates: one row per cell and rate, P(rate > T) per threshold."""
    import pandas as pd

    from hlhbayes.models.units import MODEL_ETIOLOGIES

    probs = {
        (p["quantity"], p["etiology"], p["line"], p["threshold"]): p["probability"]
        for p in result.probabilities
    }
    order = {e: i for i, e in enumerate(MODEL_ETIOLOGIES)}
    rates = [r for r in records if r["quantity"] in ("rate_typical", "rate_new")]
    rates.sort(
        key=lambda r: (
            order.get(r["etiology"], -1),
            r["line"] or "",
            r["quantity"] != "rate_typical",
        )
    )
    heads = {t: f"P(>{t:g})" for t in thresholds}
    frame = pd.DataFrame(
        [
            {
                "etiology": r["etiology"],
                "line": r["line"],
                "quantity": r["quantity"],
                "mean": r["mean"],
                "median": r["q50"],
                "95% interval": interval(r["q2.5"], r["q97.5"]),
                **{
                    heads[t]: probs[(r["quantity"], r["etiology"], r["line"], t)]
                    for t in thresholds
                },
            }
            for r in rates
        ],
        columns=["etiology", "line", "quantity", "mean", "median", "95% interval", *heads.values()],
    )
    formats = {"mean": rate, "median": rate, **dict.fromkeys(heads.values(), probability)}
    print_table(frame, formats=formats, missing="-")
    hyper = [r for r in result.records if r["quantity"] not in ("rate_typical", "rate_new")]
    if hyper:
        click.echo(
            "hyperparameters: "
            + "; ".join(
                f"{r['quantity']} {_moment(r['mean'])} [{r['q2.5']:.2f}, {r['q97.5']:.2f}]"
                for r in hyper
            )
        )
    for note in result.notes:
        click.echo(f"note: {note}")


def _moment(value: float | None) -> str:
    """A posterior mean to two decimals, or ``not finite`` (an exact fit's infinite moment)."""
    return "not finite" if value is None else f"{value:.2f}"


def _print_support(result, etiologies: tuple[str, ...], lines: tuple[str, ...]) -> None:
    """What each estimate rests on: per cell, per hyperparameter, then the cells' words."""
    import pandas as pd

    from hlhbayes.models import get_model, select_cells
    from hlhbayes.support import words

    support = result.support
    if support is None:
        return
    cells = select_cells(get_model(result.model), etiologies, lines)
    by_cell = {(c["etiology"], c["line"]): c for c in support["cells"]}
    shown = [by_cell[key] for key in cells]
    click.echo("")
    click.echo(
        "what each estimate rests on (patients and studies with direct data; uncertain: "
        "expected share of strata of unknown composition):"
    )
    frame = pd.DataFrame(
        [
            {
                "etiology": c["etiology"] or "-",
                "line": c["line"] or "-",
                "patients": c["direct_patients"],
                "studies": c["direct_studies"],
                "uncertain": c["uncertain_patients"],
                "contraction": c["contraction"],
                "borrowed": c["borrowed"],
                "flag": words.flag_text(c["flags"]),
            }
            for c in shown
        ]
    )
    two = words.fixed
    print_table(
        frame,
        formats={
            "patients": words.number,
            "uncertain": words.number,
            "contraction": two,
            "borrowed": two,
        },
        missing="n/a",
    )
    hyper = support["hyperparameters"]
    if hyper:
        click.echo("")
        frame = pd.DataFrame(
            [
                {
                    "hyperparameter": h["quantity"],
                    "contraction": h["contraction"],
                    "psense prior": h["psense_prior"],
                    "likelihood": h["psense_likelihood"],
                    "diagnosis": words.diagnosis_text(h["psense_diagnosis"]),
                }
                for h in hyper
            ]
        )
        three = functools.partial(words.fixed, digits=3)
        formats = {"contraction": two, "psense prior": three, "likelihood": three}
        print_table(frame, formats=formats, missing="n/a")
    for c in shown:
        if c["flags"]:
            click.echo(f"{words.cell_label(c)}: {c['words']}")
    for h in hyper:
        if h["words"]:
            click.echo(f"{h['words']} ({h['quantity']} contraction {h['contraction']:.2f})")


def _print_sensitivity(record) -> None:
    """The sensitivity table: one row per scenario and cell, then why some were not fitted."""
    import pandas as pd

    from hlhbayes.living.reviewer import BASELINE, compact_rows, largest_shift

    rows = record["rows"]
    frame = pd.DataFrame(compact_rows(rows))
    if frame["etiology"].isna().all():  # a model without cells
        frame = frame.drop(columns=["etiology", "line"])
    click.echo("")
    click.echo(
        "how sensitive is this answer (typical: a typical study, new: a new study, with 95% "
        "intervals; new lower vs fit: how far the lower bound of the new-study rate moves):"
    )
    formats = {"typical": rate, "new": rate, "new lower vs fit": _signed_rate}
    print_table(frame, formats=formats, missing="-")
    seen = set()
    for r in rows:  # the fit's own verdict is the NOT CONVERGED line above
        if r["scenario"] == BASELINE or r["status"] == "ok" or not r["reason"]:
            continue
        if (r["scenario"], r["reason"]) not in seen:
            seen.add((r["scenario"], r["reason"]))
            click.echo(f"{r['scenario']}: {r['status']} ({r['reason']})")
    top = largest_shift(rows)
    if top is not None:
        cell = f" for {top['etiology']}/{top['line']}" if top["etiology"] else ""
        base = top["lower"] - top["lower_vs_baseline"]
        click.echo(
            f"moves most{cell}: {top['scenario']} ({top['change']}) takes the lower bound of the "
            f"new-study rate from {base:.3f} to {top['lower']:.3f} "
            f"({top['lower_vs_baseline']:+.3f})"
        )


def _signed_rate(value: float) -> str:
    """A difference of rates with its sign: ``+0.050``, ``-0.139``, ``0.000``."""
    text = rate(value)
    return f"+{text}" if value > 0 and text != rate(0.0) else text


def _warn_sensitivity(record) -> None:
    """Say on stderr, whatever the format, when a scenario of the table did not converge."""
    if record is None:
        return
    from hlhbayes.living.reviewer import BASELINE

    failed = sorted(
        {
            r["scenario"]
            for r in record["rows"]
            if r["status"] == "not converged" and r["scenario"] != BASELINE
        }
    )
    if failed:
        click.echo(
            f"WARNING: {len(failed)} sensitivity scenario(s) did NOT converge ("
            f"{', '.join(failed)}): marked 'not converged' in the table; do not use their "
            "numbers.",
            err=True,
        )


def _sensitivity_refits(prepared) -> list[str]:
    """The scenarios the sensitivity table would refit after the fit (its baseline is the fit)."""
    from hlhbayes.living.reviewer import reviewer_scenarios

    return [sc.name for sc in reviewer_scenarios(prepared)[1:]]


def _print_dry_run(prepared, header, refits: list[str] | None) -> None:
    import pandas as pd

    from hlhbayes import pipeline

    spec = prepared.request.spec
    click.echo(f"dry run: {header}")
    click.echo(f"model: {spec.model} (spec: {spec.source or 'built-in defaults'})")
    text = prepared.model.text
    click.echo(text.equations)
    priors = pd.DataFrame(
        [
            {"parameter": name, "prior": str(prior), "meaning": text.parameters.get(name, "")}
            for name, prior in spec.priors.items()
        ]
    )
    print_table(priors, title="priors:")
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
    for sid, reason in sorted({**u.excluded, **u.left_out}.items()):
        click.echo(f"  left out {sid}: {_shorten(reason)}")
    s = spec.sampler
    click.echo(
        f"sampler: {s['sampler']} NUTS, {s['chains']} chains x {s['draws']} draws, "
        f"{s['tune']} tuning, target_accept {s['target_accept']}"
    )
    if refits is not None:
        click.echo(
            f"sensitivity table: after the fit, {len(refits)} scenarios refitted "
            f"({', '.join(refits)}); --no-sensitivity skips it"
        )
    if prepared.request.method == "exact":
        return
    check = pipeline.prior_check(prepared)
    rows = []
    for name, q in check["quantiles"].items():
        values = q.values
        if values.ndim == 1:
            rows.append({"quantity": name, "2.5%": values[0], "50%": values[1], "97.5%": values[2]})
        else:
            flat = values.reshape(3, -1)
            rows.append(
                {
                    "quantity": name,
                    "2.5%": flat[0].min(),
                    "50%": float(sorted(flat[1])[len(flat[1]) // 2]),
                    "97.5%": flat[2].max(),
                    "": "range over cells",
                }
            )
    frame = pd.DataFrame(rows, columns=["quantity", "2.5%", "50%", "97.5%", ""])
    formats = dict.fromkeys(["2.5%", "50%", "97.5%"], rate)
    print_table(frame, title="prior predictive:", formats=formats)
    ev = check["events"]
    lo, mid, hi = ev["predicted_events_95"]
    click.echo(f"observed events {ev['events']}; prior predictive {mid:.0f} [{lo:.0f}, {hi:.0f}]")
