"""Shared options, output formatting and the one place that turns domain errors into exits."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pandas as pd

from hlhbayes.evidence import EvidenceBase, EvidenceError, UnknownStudyError, load_evidence
from hlhbayes.spreadsheet import inert_frame

EXIT_BAD_INPUT = 1
EXIT_NOT_CONVERGED = 3


class DomainError(click.ClickException):
    """A clean one-line (or one-line-per-issue) error with exit code 1."""

    exit_code = EXIT_BAD_INPUT

    def show(self, file: Any = None) -> None:  # noqa: D102 - click API
        click.echo(f"error: {self.format_message()}", err=True)


def handle_domain_errors(func: Callable) -> Callable:
    """Turn evidence, value and file-system errors raised by the library into :class:`DomainError`."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except EvidenceError as exc:
            count = len(exc.issues)
            lines = "\n".join(str(i) for i in exc.issues)
            raise DomainError(
                f"{count} problem{'s' if count != 1 else ''} found:\n{lines}"
            ) from None
        except (UnknownStudyError, ValueError, FileNotFoundError) as exc:
            raise DomainError(str(exc)) from None
        except OSError as exc:  # a disk full, a permission refused: one line, no traceback
            where = f"{exc.filename}: " if exc.filename else ""
            raise DomainError(f"{where}{exc.strerror or exc}") from None

    return wrapper


def data_option(func: Callable) -> Callable:
    """``--data PATH``: the evidence base folder (default: the shipped ``data/``)."""
    return click.option(
        "--data",
        "data_path",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        help="Evidence base folder (default: $HLHBAYES_DATA or the shipped data/).",
    )(func)


def format_option(*choices: str, default: str = "table") -> Callable:
    """``--format`` with the given choices."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(list(choices)),
        default=default,
        show_default=True,
        help="Output format.",
    )


def load(data_path: Path | None) -> EvidenceBase:
    """Load the evidence base (errors become a listing of every issue)."""
    return load_evidence(data_path)


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


def emit_json(payload: Any, strict: bool = False) -> None:
    """Write JSON to stdout; ``strict``: a NaN or infinity is an error, never printed."""
    text = json.dumps(
        payload, indent=2, ensure_ascii=False, default=_json_default, allow_nan=not strict
    )
    click.echo(text)


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def cell_options(etiology_help: str, line_help: str) -> Callable:
    """``--etiology`` and ``--line`` (repeatable): the etiology x line cells a command shows."""
    from hlhbayes.models.units import MODEL_ETIOLOGIES, MODEL_LINES

    def decorate(func: Callable) -> Callable:
        func = click.option(
            "--line", "lines", multiple=True, type=click.Choice(MODEL_LINES), help=line_help
        )(func)
        return click.option(
            "--etiology",
            "etiologies",
            multiple=True,
            type=click.Choice(MODEL_ETIOLOGIES),
            help=etiology_help,
        )(func)

    return decorate
