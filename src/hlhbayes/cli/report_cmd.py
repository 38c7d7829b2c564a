"""``hlhbayes report``: turn a run folder into an HTML and Markdown report."""

from __future__ import annotations

import time
from pathlib import Path

import click

from hlhbayes.cli.common import command_line, logger
from hlhbayes.cli.options import (
    cell_options,
    format_option,
    quiet_option,
    threshold_option,
    wait_options,
)
from hlhbayes.cli.progress_display import finish


@click.command(short_help="Write the report of a fit.")
@click.argument("run", required=False, type=click.Path(path_type=Path))
@click.option(
    "--name",
    help="Report folder name (default: report inside the run folder; the run folder's name "
    "under --out-dir).",
)
@click.option(
    "--out-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Where the report folder goes (default: inside the run folder, RUN/report).",
)
@format_option(
    "html",
    "md",
    "both",
    "pdf",
    "all",
    default="both",
    help_text="html: one self-contained file; md: Markdown with figures/ beside it; both: "
    "html and md; pdf: the HTML printed by headless Chromium (needs chromium); all: the three.",
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
@click.option(
    "--sensitivity",
    is_flag=True,
    help="If the run has no sensitivity table for the cells shown (fitted with "
    "--no-sensitivity, or before it existed), fit it first and keep it in the run folder.",
)
@quiet_option
@wait_options
def report(
    run: Path | None,
    name: str | None,
    out_dir: Path | None,
    fmt: str,
    etiologies: tuple[str, ...],
    lines: tuple[str, ...],
    thresholds: tuple[float, ...],
    allow_stale: bool,
    sensitivity: bool,
    quiet: bool,
) -> None:
    """Write the report of a fit.

    RUN (default runs/etiology-line-response) is written to RUN/report/ (with --out-dir, to
    OUT_DIR/NAME/).

    The question and filters, the evidence table with links to every source, the model with its
    priors and sampler settings, convergence diagnostics (with a NOT CONVERGED banner when the
    fit failed its gate) and PSIS-LOO, the estimated rates with 95% intervals and P(rate > T),
    and figures (forest plot, densities, prior vs posterior, trace and rank plots, posterior
    predictive check), and how sensitive the answer is (the run's sensitivity table, which fit
    makes by default; --sensitivity makes it for a run without one). With --out-dir, the report
    goes to OUT_DIR/NAME/ instead. Prints the files written.
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
        sensitivity=sensitivity,
        log=logger(quiet),
    )
    finish()  # a live progress display (of the sensitivity table) ends before the paths
    for path in paths:
        click.echo(str(path))
    if not quiet:
        click.echo(f"report of {run} written in {time.perf_counter() - start:.1f} s", err=True)
