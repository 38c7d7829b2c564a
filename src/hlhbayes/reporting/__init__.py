"""Posterior reports: a run folder turned into HTML and Markdown a guideline panel can read.

``write_report`` is the library function behind ``hlhbayes report``: open and check the run
(:mod:`~hlhbayes.reporting.loading`), gather tables and figures
(:mod:`~hlhbayes.reporting.context`), render and write atomically
(:mod:`~hlhbayes.reporting.render`).
"""

from __future__ import annotations

from pathlib import Path

from hlhbayes.errors import HlhBayesError
from hlhbayes.locking import hold
from hlhbayes.reporting.context import ReportOptions, build_context
from hlhbayes.reporting.loading import CheckedRun, open_run
from hlhbayes.reporting.render import FORMATS, check_name, report_guard, write_files

DEFAULT_OUT_DIR = Path("reports")


def default_name(run: Path) -> str:
    """The report name derived from a run folder: its folder name."""
    return Path(run).resolve().name


def write_report(
    run: Path,
    out_dir: Path = DEFAULT_OUT_DIR,
    name: str | None = None,
    fmt: str = "both",
    options: ReportOptions | None = None,
    allow_stale: bool = False,
) -> list[Path]:
    """Write the report of the run folder ``run`` to ``<out_dir>/<name>/``.

    Returns the files written (``report.html`` and/or ``report.md``; the Markdown's figures are
    in ``figures/`` beside it). Raises :class:`~hlhbayes.errors.HlhBayesError` (one line) for a folder that is not a run,
    a stale run (unless ``allow_stale``) and bad options; nothing is written then.
    """
    if fmt not in FORMATS:
        raise HlhBayesError(f"unknown format {fmt!r}; valid: {', '.join(FORMATS)}")
    name = check_name(name if name is not None else default_name(run))
    target = Path(out_dir) / name
    # one report into one folder at a time, held from before the figures are drawn
    with hold(report_guard(target)):
        opened = open_run(Path(run), allow_stale=allow_stale)
        context = build_context(opened, options or ReportOptions())
        return write_files(context, target, fmt)


__all__ = ["FORMATS", "CheckedRun", "ReportOptions", "build_context", "open_run", "write_report"]
