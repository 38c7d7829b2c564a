"""Output on stdout (tables, CSV, JSON), messages on stderr, the exit status of a failed gate."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click
import pandas as pd

from hlhbayes.atomic import json_text
from hlhbayes.spreadsheet import inert_frame

EXIT_NOT_CONVERGED = 3
"""Exit status of a command whose fit (or one of whose fits) failed its convergence gate."""

Log = Callable[[str], None]


def logger(quiet: bool) -> Log:
    """Progress messages to stderr, or nowhere with ``--quiet``."""
    return (lambda _m: None) if quiet else (lambda m: click.echo(m, err=True))


def show_progress(quiet: bool) -> bool:
    """Whether a progress bar may be drawn (not quiet, and stderr is a terminal)."""
    return not quiet and sys.stderr.isatty()


def command_line() -> list[str]:
    """The command as typed (recorded in provenance)."""
    return ["hlhbayes", *sys.argv[1:]]


def emit_frame(frame: pd.DataFrame, fmt: str) -> None:
    """Write a frame to stdout as an aligned table, CSV or JSON records (missing as empty/null)."""
    if fmt == "csv":  # text that a spreadsheet would run as a formula is made inert
        click.echo(inert_frame(frame).to_csv(index=False, lineterminator="\n"), nl=False)
    elif fmt == "json":
        click.echo(frame.to_json(orient="records", indent=2, force_ascii=False))
    else:
        # na_rep does not reach pandas' nullable columns (Int64, Float64): blank them here
        shown = frame.copy()
        for col in shown.columns:
            values = shown[col]
            nullable = pd.api.types.is_extension_array_dtype(values.dtype)
            if nullable and pd.api.types.is_numeric_dtype(values.dtype) and values.isna().any():
                shown[col] = values.astype(object).where(values.notna(), "")
        click.echo(shown.to_string(index=False, na_rep=""))


def emit_json(payload: Any) -> None:
    """Write JSON to stdout (the project's one JSON form: :func:`hlhbayes.atomic.json_text`)."""
    click.echo(json_text(payload), nl=False)
