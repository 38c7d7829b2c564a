"""Output on stdout (tables, CSV, JSON), messages on stderr, the exit status of a failed gate."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click
import pandas as pd

from hlhbayes.atomic import json_text
from hlhbayes.cli.progress_display import feedback, finish
from hlhbayes.cli.tables import print_table
from hlhbayes.spreadsheet import inert_frame

EXIT_NOT_CONVERGED = 3
"""Exit status of a command whose fit (or one of whose fits) failed its convergence gate."""

Log = Callable[[str], None]


def logger(quiet: bool) -> Log:
    """Progress messages on stderr: a live display in a terminal, lines elsewhere, none if quiet.

    See :mod:`hlhbayes.cli.progress_display`.
    """
    return feedback(quiet)


def command_line() -> list[str]:
    """The command as typed (recorded in provenance)."""
    return ["hlhbayes", *sys.argv[1:]]


def emit_frame(frame: pd.DataFrame, fmt: str, wide: bool | None = None) -> None:
    """Write a frame to stdout as a table, CSV or JSON records (missing as empty/null).

    The table is :func:`hlhbayes.cli.tables.print_table`'s (``wide``: the command's ``--wide``);
    CSV and JSON carry every column.
    """
    finish()
    if fmt == "csv":  # text that a spreadsheet would run as a formula is made inert
        click.echo(inert_frame(frame).to_csv(index=False, lineterminator="\n"), nl=False)
    elif fmt == "json":
        click.echo(frame.to_json(orient="records", indent=2, force_ascii=False))
    else:
        print_table(frame, wide)


def emit_json(payload: Any) -> None:
    """Write JSON to stdout (the project's one JSON form: :func:`hlhbayes.atomic.json_text`)."""
    finish()
    click.echo(json_text(payload), nl=False)


def not_converged_line(diagnostics: Any) -> str:
    """The line a results table ends with when its fit failed the convergence gate.

    ``diagnostics``: a :class:`hlhbayes.summary.Diagnostics` (max R-hat, min bulk ESS,
    divergences); the remedies follow on stderr.
    """
    d = diagnostics
    return (
        f"NOT CONVERGED (max R-hat {d.max_r_hat:.3f}, min bulk ESS {d.min_ess_bulk:.0f}, "
        f"divergences {d.divergences}): do not use these estimates"
    )


def flat_rows(payload: Any, prefix: str = "") -> list[dict[str, Any]]:
    """A JSON payload as ``field, value`` rows: nested keys joined by ``.``, list items by index.

    ``{"a": {"b": 1}, "c": [2, 3]}`` gives ``a.b,1``, ``c.0,2``, ``c.1,3``: the CSV of a command
    whose result is a record rather than one table.
    """
    if isinstance(payload, dict):
        items = [(f"{prefix}{key}", value) for key, value in payload.items()]
    elif isinstance(payload, list | tuple):
        items = [(f"{prefix}{i}", value) for i, value in enumerate(payload)]
    else:
        return [{"field": prefix.rstrip("."), "value": payload}]
    rows: list[dict[str, Any]] = []
    for key, value in items:
        if isinstance(value, dict | list | tuple) and value:
            rows += flat_rows(value, f"{key}.")
        else:
            rows.append({"field": key, "value": None if value in ({}, [], ()) else value})
    return rows


def emit_payload(payload: Any, fmt: str) -> None:
    """A command's result for scripts: JSON as it is, or CSV as :func:`flat_rows`."""
    if fmt == "csv":
        import json

        plain = json.loads(json_text(payload))  # the JSON form's values (paths, numpy numbers)
        emit_frame(pd.DataFrame(flat_rows(plain), columns=["field", "value"]), "csv")
    else:
        emit_json(payload)
