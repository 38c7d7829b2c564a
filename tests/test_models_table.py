"""The random-effects table (``study, events, total``): bounded counts, strict CSV, located
errors; every bad cell is one line naming file, row and column."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from hlhbayes.cli import main
from hlhbayes.errors import HlhBayesError
from hlhbayes.evidence.schema import MAX_COUNT
from hlhbayes.models.table import units_from_table

GOOD = "study,events,total\nA,3,10\nB,5,12\n"


def table(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "counts.csv"
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(HlhBayesError) as caught:
        units_from_table(path)
    return str(caught.value).splitlines()


@pytest.mark.parametrize(
    ("cell", "column"),
    [
        ("1e30", "total"),
        ("9223372036854775808", "total"),  # 2^63
        ("1" + "0" * 40, "total"),
        (str(MAX_COUNT + 1), "total"),
        ("-5", "total"),
        ("nan", "total"),
        ("inf", "total"),
        ("", "total"),
        ("7.5", "total"),
        ("0x10", "total"),
        ("1e30", "events"),
        ("-1", "events"),
        ("NaN", "events"),
        ("-inf", "events"),
    ],
)
def test_a_count_out_of_bounds_is_one_located_line(tmp_path: Path, cell: str, column: str) -> None:
    row = f"B,{cell},12" if column == "events" else f"B,5,{cell}"
    path = table(tmp_path, f"study,events,total\nA,3,10\n{row}\n")
    low = 0 if column == "events" else 1
    assert problems(path) == [
        f"{path}: row 3: {column}: must be a whole number from {low} to {MAX_COUNT}, got {cell!r}"
    ]


def test_the_ceiling_itself_and_whole_decimals_are_accepted(tmp_path: Path) -> None:
    path = table(tmp_path, f"study,events,total\nA,3.0,10\nB,{MAX_COUNT},{MAX_COUNT}\n")
    units = units_from_table(path)
    assert units.agg_events.tolist() == [3, MAX_COUNT]
    assert units.agg_total.tolist() == [10, MAX_COUNT]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("B,5", "total: missing: the row has 2 cells, the header 3"),
        ("B", "events: missing: the row has 1 cells, the header 3"),
        ("B,5,12,7", "column 4: a cell beyond the header: the row has 4 cells, the header 3"),
    ],
)
def test_a_ragged_row_names_row_and_column(tmp_path: Path, row: str, message: str) -> None:
    path = table(tmp_path, f"study,events,total\nA,3,10\n{row}\n")
    assert problems(path) == [f"{path}: row 3: {message}"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('study,events,total\nA,3,10\n"B,5,12\n', "row 3: not valid CSV: unexpected end of data"),
        (
            'study,events,total\nA,3,10\n"B"x,5,12\n',
            "row 3: not valid CSV: ',' expected after '\"'",
        ),
    ],
)
def test_a_stray_quote_is_refused(tmp_path: Path, text: str, message: str) -> None:
    path = table(tmp_path, text)
    assert problems(path) == [f"{path}: {message}"]


def test_rows_are_numbered_as_lines_of_the_file(tmp_path: Path) -> None:
    path = table(tmp_path, "study,events,total\n\nA,3,10\n\nB,x,12\n")
    assert problems(path) == [
        f"{path}: row 5: events: must be a whole number from 0 to {MAX_COUNT}, got 'x'"
    ]


def test_every_problem_is_listed_and_long_cells_are_capped(tmp_path: Path) -> None:
    path = table(tmp_path, f"study,events,total\nA,{'9' * 5000},10\nA,3,2\nC,1\n")
    found = problems(path)
    assert len(found) == 4
    assert found[0].startswith(f"{path}: row 2: events: must be a whole number from 0 to")
    assert found[0].endswith("… (5000 characters)") and len(found[0]) < len(str(path)) + 200
    assert found[1:] == [
        f"{path}: row 3: study: duplicate study 'A'",
        f"{path}: row 3: events: events 3 > total 2",
        f"{path}: row 4: total: missing: the row has 2 cells, the header 3",
    ]


def test_an_empty_or_headless_table_is_refused(tmp_path: Path) -> None:
    assert problems(table(tmp_path, "")) == [
        f"{tmp_path / 'counts.csv'}: empty: expected a header row and one row per study"
    ]
    assert problems(table(tmp_path, "study,events,total\n")) == [
        f"{tmp_path / 'counts.csv'}: no rows"
    ]


def test_fit_refuses_a_bad_table_before_any_sampling(tmp_path: Path) -> None:
    path = table(tmp_path, "study,events,total\nA,3,10\nB,5,1e30\n")
    result = CliRunner().invoke(
        main,
        ["fit", "--model", "random-effects", "--data", str(path), "--out", str(tmp_path / "r")],
    )
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {path}: row 3: total: must be a whole number from 1 to {MAX_COUNT}, got '1e30'\n"
    )
    assert not (tmp_path / "r").exists()


def test_fit_refuses_a_table_in_utf16(tmp_path: Path) -> None:
    path = tmp_path / "counts.csv"
    path.write_bytes(GOOD.encode("utf-16"))
    result = CliRunner().invoke(
        main,
        [
            "fit",
            "--model",
            "random-effects",
            "--data",
            str(path),
            "--method",
            "exact",
            "--out",
            str(tmp_path / "r"),
        ],
    )
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {path}: encoded as UTF-16 (byte-order mark): save it as UTF-8 text\n"
    )
    assert not (tmp_path / "r").exists()
