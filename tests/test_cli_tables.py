"""Terminal tables: one layout for every command, fitted to the terminal, plain text in a pipe."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest
from click.testing import CliRunner

from conftest import REPO
from hlhbayes.cli import main, tables
from table_text import is_rule, read_table

ESCAPE = "\x1b"


def render_at(monkeypatch, columns: int, frame: pd.DataFrame, **options) -> str:
    """``frame`` as a terminal ``columns`` wide would show it."""
    monkeypatch.setattr(tables, "_isatty", lambda _stream: True)
    size = os.terminal_size((columns, 24))
    monkeypatch.setattr(tables.shutil, "get_terminal_size", lambda: size)
    return tables.render(frame, **options)


def width(text: str) -> int:
    return max(len(line) for line in text.splitlines())


PATIENTS = pd.DataFrame(
    {
        "patient": [1, 2],
        "regimen": ["alone", "with_corticosteroids"],
        "corticosteroid_days": [0, 120],
        "unknown": [0, 1],
    }
)


def test_a_pipe_gets_one_line_per_row_in_plain_text() -> None:
    text = tables.render(PATIENTS)  # the test's stdout is no terminal
    assert ESCAPE not in text
    assert text.splitlines() == [
        "patient  regimen               corticosteroid_days  unknown",
        "──────── ───────────────────── ──────────────────── ───────",
        "      1  alone                                   0        0",
        "      2  with_corticosteroids                  120        1",
    ]  # text left, numbers right, two blanks between columns, a rule under each


def test_a_narrow_terminal_squeezes_text_but_never_drops_a_column(monkeypatch) -> None:
    text = render_at(monkeypatch, 48, PATIENTS)
    assert width(text) <= 48
    lines = text.splitlines()
    assert lines[0].split() == ["corticosteroid_"]  # a header folds between its words
    assert lines[1].split() == ["patient", "regimen", "days", "unknown"]
    rule = next(i for i, line in enumerate(lines) if is_rule(line))
    assert lines[rule + 1].split() == ["1", "alone", "0", "0"]  # every column, numbers whole
    assert "120" in text  # a number never folds
    narrow = render_at(monkeypatch, 12, PATIENTS)  # no room: the least widths
    assert width(narrow) == width(render_at(monkeypatch, 1, PATIENTS)) > 12
    assert "with_corti" in narrow and "120" in narrow and "corticosteroid_" in narrow
    assert tables.column_widths([10, 20], [4, 5], 15) == [5, 10]
    assert tables.column_widths([10, 20], [4, 5], 5) == [4, 5]


def test_numbers_follow_the_rounding_rule_and_text_is_printed_as_written() -> None:
    frame = pd.DataFrame(
        {
            "what": ["[bold]x[/bold] :smile:", "[the same units]"],  # no markup, no emoji
            "count": [4.0, 12.0],  # whole: integers
            "share": [0.08423, 36.817],  # three significant digits
            "half": [0.5, 3.0],  # without trailing zeros
            "rate": [0.9, None],
        }
    )
    header, rows = read_table(tables.render(frame, formats={"rate": lambda v: f"{v:.3f}"}))
    assert header == ["what", "count", "share", "half", "rate"]
    assert rows == [
        ["[bold]x[/bold] :smile:", "4", "0.0842", "0.5", "0.900"],
        ["[the same units]", "12", "36.8", "3", ""],  # missing: blank
    ]
    _, rows = read_table(tables.render(frame, missing="-"))
    assert rows[1][-1] == "-"


def test_long_columns_need_wide_in_a_command_that_has_it(capsys) -> None:
    frame = pd.DataFrame(
        {
            "study": ["A2020"],
            "reference": ["https://doi.org/10.1000/x"],
            "note": ["a long note " * 6],
        }
    )
    tables.print_table(frame, wide=False)
    out, err = capsys.readouterr()
    assert read_table(out)[0] == ["study"]
    assert err == "(not shown: reference, note; --wide or --format csv shows them)\n"
    tables.print_table(frame, wide=True)
    out, err = capsys.readouterr()
    assert read_table(out)[0] == ["study", "reference", "note"] and err == ""
    # a command without --wide leaves nothing out: long text folds to the terminal
    tables.print_table(frame, title="Studies")
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == "Studies"
    assert read_table(out)[0] == ["study", "reference", "note"] and err == ""


# Every command with a table, at the width of a narrow terminal: each table fits it, or is as
# narrow as its columns allow (numbers never fold; headers fold only between words).
AS_PRIOR = "mix:0.6167463,19.1916387,57.7779318+0.3832537,3.5278745,9.373598"
COMMANDS = {
    "data list": ["data", "list"],
    "data show": ["data", "show", "Imperial2020"],
    "data patients": ["data", "patients", "Baverez2022"],
    "describe": ["describe", "Baverez2022"],
    "design ess": ["design", "ess", "--prior", AS_PRIOR],
    "design posterior": ["design", "posterior", "--prior", AS_PRIOR, "--responders", "12", "--n", "30"],
    "design predictive": ["design", "predictive", "--prior", AS_PRIOR, "--n", "12"],
    "design oc": ["design", "oc", "--prior", AS_PRIOR, "--n", "30", "--p0", "0.2", "--prob", "0.9", "--rates", "0.1:0.5:0.1"],
    "design oc2": [
        "design", "oc2", "--prior-treat", "beta:1,1", "--prior-control", AS_PRIOR, "--n-treat", "20",
        "--n-control", "10", "--prob", "0.9", "--differences", "0:0.3:0.1", "--target-power", "0.8",
    ],
    "fit --dry-run": ["fit", "--model", "random-effects", "--method", "exact", "--dry-run"],
    "sensitivity --list": ["sensitivity", "--list", "--scenarios", "baseline,tau-*,definition-*"],
}  # fmt: skip


def drawn_at(monkeypatch, columns: int, args: list[str]) -> list[tuple[str, str]]:
    """Every table ``hlhbayes ARGS`` draws in a terminal ``columns`` wide, with its least form.

    The least form is the table in a terminal with no room at all: every column at its least
    width (a number never folds).
    """
    drawn: list[tuple[str, str]] = []
    real = tables.render
    size = os.terminal_size((columns, 24))

    def spy(frame, wide=False, title=None, **options):
        text = real(frame, wide, **options)  # the table itself: its title is a line of prose
        monkeypatch.setattr(tables.shutil, "get_terminal_size", lambda: os.terminal_size((1, 24)))
        least = real(frame, wide, **options)
        monkeypatch.setattr(tables.shutil, "get_terminal_size", lambda: size)
        drawn.append((text, least))
        return real(frame, wide, title, **options)

    monkeypatch.setattr(tables, "_isatty", lambda _stream: True)
    monkeypatch.setattr(tables.shutil, "get_terminal_size", lambda: size)
    monkeypatch.setattr(tables, "render", spy)
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert drawn, "no table drawn"
    assert all(text in result.stdout for text, _ in drawn)
    return drawn


WIDER_THAN_80 = {"data patients", "data show"}
"""Commands with a table of more columns than 80 characters hold (16 and 14 columns)."""


@pytest.mark.parametrize("columns", [60, 80])
@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_table_fits_a_narrow_terminal(monkeypatch, tmp_path, name, columns) -> None:
    monkeypatch.chdir(tmp_path)  # what a command writes (a figure, a folder) goes here
    drawn = drawn_at(monkeypatch, columns, COMMANDS[name])
    for text, least in drawn:
        assert width(text) <= max(columns, width(least)), text
    if columns == 80 and name not in WIDER_THAN_80:
        assert all(width(text) <= 80 for text, _ in drawn), name


def test_an_exact_fit_and_its_comparison_fit_80_columns(monkeypatch, tmp_path) -> None:
    run = tmp_path / "a"
    fit = ["fit", "--model", "random-effects", "--method", "exact", "--quiet", "--out", str(run)]
    for args in (fit, ["compare", str(run), str(run), "--no-plot"]):
        assert all(width(text) <= 80 for text, _ in drawn_at(monkeypatch, 80, args)), args


@pytest.mark.parametrize(
    "args",
    [
        ["describe", "Baverez2022"],
        ["data", "list"],
        ["design", "posterior", "--prior", AS_PRIOR, "--responders", "12", "--n", "30"],
    ],
)
def test_a_pipe_gets_no_escape_codes_whatever_the_environment(args: list[str]) -> None:
    """Through a real pipe, with every variable that asks rich and others for colour."""
    env = {**os.environ, "FORCE_COLOR": "1", "TERM": "xterm-256color", "COLUMNS": "60"}
    env.pop("NO_COLOR", None)
    done = subprocess.run(
        [sys.executable, "-c", "from hlhbayes.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
        check=True,
    )
    assert ESCAPE not in done.stdout and ESCAPE not in done.stderr
    _, rows = read_table(done.stdout)
    assert rows  # a table, laid out as one
    assert width(done.stdout) > 60 or args[0] == "design"  # a pipe is not wrapped to COLUMNS
