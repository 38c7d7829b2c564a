"""``hlhbayes report``: turn a run folder into an HTML and Markdown report."""

from __future__ import annotations

import time
from pathlib import Path

import click

from hlhbayes.cli.common import command_line
from hlhbayes.cli.options import (
    cell_options,
    format_option,
    quiet_option,
    threshold_option,
    wait_options,
)


@click.command()
@click.argument("run", required=False, type=click.Path(path_type=Path))
@click.option("--name", help="Report folder name (default: the run folder's name).")
@click.option(
    "--out-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("reports"),
    show_default=True,
    help="Where the report folder goes.",
)
@format_option(
    "html",
    "md",
    "both",
    default="both",
    help_text="html: one self-contained file; md: Markdown with figures/ beside it.",
)
@cell_options(
    etiology_help="Etiology cell(s) to show (repeatable; default: those the fit was asked for, else all).",
    line_help="Line(s) to show (repeatable; default: those the fit was asked for, else both).",
)
@threshold_option("Report P(rate > T) (repeatable; default: the fit's thresholds).")
@click.option(
    "--allow-stale",
    is_flag=True,
    help="Report a run whose data hash no longer matches its data (a banner says so).",
)
@quiet_option
@wait_options
def report(
    run: Path | None,
    name: str | None,
    out_dir: Path,
    fmt: str,
    etiologies: tuple[str, ...],
    lines: tuple[str, ...],
    thresholds: tuple[float, ...],
    allow_stale: bool,
    quiet: bool,
) -> None:
    """Write the report of a fit: RUN (default runs/etiology-line-response) to OUT_DIR/NAME/.

    The question and filters, the evidence table with links to every source, the model with its
    priors and sampler settings, convergence diagnostics (with a NOT CONVERGED banner when the
    fit failed its gate) and PSIS-LOO, the estimated rates with 95% intervals and P(rate > T),
    and figures (forest plot, densities, prior vs posterior, trace and rank plots, posterior
    predictive check). Prints the files written.
    """
    import matplotlib

    matplotlib.use("Agg")  # a command line draws to files only
    from hlhbayes.models import DEFAULT_MODEL
    from hlhbayes.reporting import ReportOptions, write_report
    from hlhbayes.runs import default_run_dir

    run = run if run is not None else default_run_dir(DEFAULT_MODEL, "response")
    start = time.perf_counter()
    paths = write_report(
        run,
        out_dir=out_dir,
        name=name,
        fmt=fmt,
        options=ReportOptions(
            etiologies=tuple(etiologies),
            lines=tuple(lines),
            thresholds=tuple(thresholds),
            command=command_line(),
        ),
        allow_stale=allow_stale,
    )
    for path in paths:
        click.echo(str(path))
    if not quiet:
        click.echo(f"report of {run} written in {time.perf_counter() - start:.1f} s", err=True)
