"""Run folders: what one is, where they live; every writer and reader goes through here.

- :mod:`~hlhbayes.runs.folder`: the files of a run folder, written whole (:func:`write_run`)
  and read back into one :class:`Run` (:func:`read_run`);
- :mod:`~hlhbayes.runs.layout`: the default folder of an analysis, its history, the latest run,
  where a fit writes (:func:`plan_output`), the output folders of the living commands;
- :mod:`~hlhbayes.runs.locks`: the lock of each output folder (:func:`reserve`).
"""

from hlhbayes.runs.folder import (
    FIT,
    RUN_FILES,
    SENSITIVITY,
    SENSITIVITY_CSV,
    SUMMARY_COLUMNS,
    Run,
    RunContent,
    add_sensitivity,
    fill_run,
    missing_files,
    read_run,
    report_dir,
    summary_frame,
    write_run,
)
from hlhbayes.runs.layout import (
    analysis_dir_of,
    analysis_name,
    baseline_dir,
    check_writable,
    default_run_dir,
    history_dir,
    latest_pointer,
    latest_run,
    new_history_run,
    output_dir,
    output_path,
    plan_output,
    run_name,
    runs_folder,
)
from hlhbayes.runs.locks import guard, reserve

__all__ = [
    "FIT",
    "RUN_FILES",
    "SENSITIVITY",
    "SENSITIVITY_CSV",
    "SUMMARY_COLUMNS",
    "Run",
    "RunContent",
    "add_sensitivity",
    "analysis_dir_of",
    "analysis_name",
    "baseline_dir",
    "check_writable",
    "default_run_dir",
    "fill_run",
    "guard",
    "history_dir",
    "latest_pointer",
    "latest_run",
    "missing_files",
    "new_history_run",
    "output_dir",
    "output_path",
    "plan_output",
    "read_run",
    "report_dir",
    "reserve",
    "run_name",
    "runs_folder",
    "summary_frame",
    "write_run",
]
