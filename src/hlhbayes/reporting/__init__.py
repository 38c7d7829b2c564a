"""Posterior reports: a run folder turned into HTML and Markdown a guideline panel can read.

``write_report`` is the library function behind ``hlhbayes report``: open and check the run
(:mod:`~hlhbayes.reporting.loading`), gather tables and figures
(:mod:`~hlhbayes.reporting.context`), render and write atomically
(:mod:`~hlhbayes.reporting.render`; PDF through :mod:`~hlhbayes.reporting.pdf`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hlhbayes import runs
from hlhbayes.errors import HlhBayesError
from hlhbayes.locking import hold
from hlhbayes.reporting import pdf
from hlhbayes.reporting.context import ReportOptions, build_context, focus_cells
from hlhbayes.reporting.loading import CheckedRun, open_run
from hlhbayes.reporting.render import FILES, FORMATS, check_name, report_guard, write_files
from hlhbayes.reporting.sensitivity import ensure_sensitivity


def default_name(run: Path) -> str:
    """The report name derived from a run folder: its folder name."""
    return Path(run).resolve().name


def report_target(run: Path, out_dir: Path | None = None, name: str | None = None) -> Path:
    """Where the report of ``run`` goes.

    By default into the run folder itself (``<run>/report``, :func:`hlhbayes.runs.report_dir`):
    a report belongs with the run it describes, and a fit that replaces the run moves its report
    along. With ``out_dir``: ``<out_dir>/<name>``, ``name`` defaulting to the run folder's name
    (``make reports`` writes ``reports/infection`` this way).
    """
    if out_dir is None:
        folder = runs.report_dir(Path(run))
        return folder if name is None else folder.parent / check_name(name)
    return Path(out_dir) / check_name(name if name is not None else default_name(run))


def write_report(
    run: Path,
    out_dir: Path | None = None,
    name: str | None = None,
    fmt: str = "both",
    options: ReportOptions | None = None,
    allow_stale: bool = False,
    sensitivity: bool = False,
    log: Callable[[str], None] = lambda _m: None,
) -> list[Path]:
    """Write the report of the run folder ``run`` (see :func:`report_target` for where).

    Returns the files written (``report.html``, ``report.md`` with its figures in ``figures/``
    beside it, ``report.pdf``, as ``fmt`` asks). Raises
    :class:`~hlhbayes.errors.HlhBayesError` (one line) for a folder that is not a run, a stale
    run (unless ``allow_stale``), bad options and a PDF without Chromium; nothing is written
    then.

    ``sensitivity``: when the run has no sensitivity table for the cells shown, fit it first
    (as ``fit`` would have; progress on ``log``) and keep it in the run folder; without it, a
    run with no table gets a sentence saying how to make one.
    """
    if fmt not in FORMATS:
        raise HlhBayesError(f"unknown format {fmt!r}; valid: {', '.join(FORMATS)}")
    target = report_target(run, out_dir, name)
    if "report.pdf" in FILES[fmt]:
        pdf.find_browser()  # refuse a PDF without Chromium before the minute of drawing
    # one report into one folder at a time, held from before the figures are drawn
    with hold(report_guard(target)):
        opened = open_run(Path(run), allow_stale=allow_stale)
        options = options or ReportOptions()
        if sensitivity:
            ensure_sensitivity(opened, focus_cells(opened, options), log, options.command)
        context = build_context(opened, options)
        return write_files(context, target, fmt)


__all__ = [
    "FORMATS",
    "CheckedRun",
    "ReportOptions",
    "build_context",
    "open_run",
    "report_target",
    "write_report",
]
