"""Run folders: what one is, where they live; every writer and reader goes through here.

- :mod:`~hlhbayes.runs.folder`: the files of a run folder, written whole (:func:`write_run`)
  and read back into one :class:`Run` (:func:`read_run`);
- :mod:`~hlhbayes.runs.layout`: the default folder of an analysis, its history, the latest run,
  where a fit writes (:func:`plan_output`) and the output folders of the living commands.
"""

from hlhbayes.runs.folder import (
    FIT,
    RUN_FILES,
    SUMMARY_COLUMNS,
    Run,
    RunContent,
    fill_run,
    missing_files,
    read_run,
    report_dir,
    summary_frame,
    write_run,
)
from hlhbayes.runs.layout import (
    RUNS,
    analysis_name,
    baseline_dir,
    check_writable,
    default_run_dir,
    history_dir,
    latest_pointer,
    latest_run,
    new_history_run,
    output_dir,
    plan_output,
    run_name,
)

__all__ = [
    "FIT",
    "RUNS",
    "RUN_FILES",
    "SUMMARY_COLUMNS",
    "Run",
    "RunContent",
    "analysis_name",
    "baseline_dir",
    "check_writable",
    "default_run_dir",
    "fill_run",
    "history_dir",
    "latest_pointer",
    "latest_run",
    "missing_files",
    "new_history_run",
    "output_dir",
    "plan_output",
    "read_run",
    "report_dir",
    "run_name",
    "summary_frame",
    "write_run",
]
