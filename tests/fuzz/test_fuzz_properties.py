"""Random malformed inputs (hypothesis): whatever the input, the answer is clean.

Each example goes through the command line with a fresh copy of a small evidence base. The
invariants: no traceback and no exception; exit 0 or 1; on 1, every problem line names the
input file, the base is byte-identical and nothing is left in the working or temporary folder;
on 0, the only change to the base is the new study (and its patients), byte for byte the input.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from fuzz_harness import listing, small_base, tree_hash
from fuzz_inputs import PATIENTS, STUDY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hlhbayes.cli import main

EXAMPLES = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# values that have broken YAML readers, number parsers, text checks or reports
NASTY = st.sampled_from(
    [
        "",
        "~",
        "null",
        ".nan",
        ".inf",
        "-.inf",
        "1.0e+30",
        str(2**63),
        str(10**40),
        "-1",
        "0",
        "9" * 5000,
        "&a x",
        "*a",
        "!!python/object:os.system ls",
        "!!binary aGk=",
        "[",
        "{",
        "]",
        "}",
        "'",
        '"',
        ": ",
        "- a",
        "? a",
        "|",
        ">",
        "%TAG",
        "<script>alert(1)</script>",
        "javascript:alert(1)",
        '"\\0\\e\\a"',
        '"\\u202E"',
        "=cmd|' /C calc'!A0",
        "2021-02-30",
        "yes",
        "NO",
        "0x1F",
        "0o17",
        "1_000",
        "x" * 3000,
    ]
)
YAML_VALUE = NASTY | st.text(max_size=40) | st.integers().map(str) | st.floats().map(str)
CELL = NASTY | st.text(max_size=30) | st.integers().map(str) | st.floats().map(str)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    return small_base(tmp_path_factory.mktemp("pristine"))


@contextmanager
def workspace(pristine: Path) -> Iterator[tuple[Path, Path, Path]]:
    """A working folder (as the current folder), a base and a temporary folder; removed after."""
    root = Path(tempfile.mkdtemp(prefix="hlhbayes-fuzz-"))
    work, tmp = root / "work", root / "tmp"
    work.mkdir()
    tmp.mkdir()
    data = root / "data"
    shutil.copytree(pristine, data)
    previous_dir, previous_tmp = Path.cwd(), tempfile.tempdir
    os.chdir(work)
    tempfile.tempdir = str(tmp)
    try:
        yield work, data, tmp
    finally:
        os.chdir(previous_dir)
        tempfile.tempdir = previous_tmp
        shutil.rmtree(root, ignore_errors=True)


def invoke(args: list[str]) -> Result:
    result = CliRunner().invoke(main, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output
    assert result.exit_code in (0, 1), result.output
    return result


def check_add(pristine: Path, inputs: dict[str, bytes]) -> None:
    """``data add`` of ``study.yaml`` (and ``patients.csv``): clean refusal or a clean addition."""
    with workspace(pristine) as (work, data, tmp):
        for name, content in inputs.items():
            (work / name).write_bytes(content)
        before, work_before = tree_hash(data), listing(work)
        args = ["data", "add", "study.yaml", "--data", str(data)]
        if "patients.csv" in inputs:
            args += ["--patients", "patients.csv"]
        result = invoke(args)
        assert listing(work) == work_before and listing(tmp) == []
        if result.exit_code == 1:
            assert tree_hash(data) == before
            lines = result.stderr.splitlines()
            problems = lines[1:] if lines[0].endswith(" found:") else lines
            for line in problems:
                assert line.removeprefix("error: ").startswith(
                    ("study.yaml: ", "patients.csv: ")
                ), line
            return
        added = sorted(set(listing(data)) - set(listing(pristine)))
        sid = result.stdout.split()[1].rstrip(":")
        expected = [f"studies/{sid}.yaml"] + (
            [f"patients/{sid}.csv"] if "patients.csv" in inputs else []
        )
        assert added == sorted(expected), added


def leaf_lines(text: str) -> list[int]:
    """Lines of ``text`` of the form ``key: value`` (a scalar value to replace)."""
    lines = text.splitlines()
    return [
        i
        for i, line in enumerate(lines)
        if ": " in line and not line.lstrip().startswith("#") and not line.rstrip().endswith(":")
    ]


LEAVES = leaf_lines(STUDY)


@EXAMPLES
@given(line=st.sampled_from(LEAVES), value=YAML_VALUE)
def test_any_value_in_any_field_of_a_study(pristine: Path, line: int, value: str) -> None:
    lines = STUDY.splitlines(keepends=True)
    key = lines[line].split(": ", 1)[0]
    lines[line] = f"{key}: {value}\n"
    check_add(pristine, {"study.yaml": "".join(lines).encode("utf-8", "surrogatepass")})


@EXAMPLES
@given(
    offset=st.integers(0, len(STUDY.encode())),
    junk=st.binary(max_size=12),
    cut=st.booleans(),
)
def test_random_bytes_or_a_cut_in_a_study_file(
    pristine: Path, offset: int, junk: bytes, cut: bool
) -> None:
    data = STUDY.encode()
    changed = data[:offset] if cut else data[:offset] + junk + data[offset:]
    check_add(pristine, {"study.yaml": changed})


COLUMNS = PATIENTS.splitlines()[0].split(",")


@EXAMPLES
@given(row=st.integers(1, 3), column=st.sampled_from(COLUMNS), value=CELL, quote=st.booleans())
def test_any_value_in_any_cell_of_a_patient_table(
    pristine: Path, row: int, column: str, value: str, quote: bool
) -> None:
    rows = list(csv.reader(io.StringIO(PATIENTS)))
    rows[row][rows[0].index(column)] = value
    out = io.StringIO()
    csv.writer(
        out, lineterminator="\n", quoting=csv.QUOTE_ALL if quote else csv.QUOTE_MINIMAL
    ).writerows(rows)
    check_add(
        pristine,
        {
            "study.yaml": STUDY.encode(),
            "patients.csv": out.getvalue().encode("utf-8", "surrogatepass"),
        },
    )


@EXAMPLES
@given(
    rows=st.lists(st.lists(CELL, min_size=1, max_size=5), min_size=0, max_size=5),
    header=st.sampled_from(["study,events,total", "study,r,n", "name,x,trials", "study,events"]),
)
def test_any_table_of_counts(pristine: Path, rows: list[list[str]], header: str) -> None:
    text = header + "\n" + "".join(",".join(r) + "\n" for r in rows)
    with workspace(pristine) as (work, _data, tmp):
        (work / "table.csv").write_bytes(text.encode("utf-8", "surrogatepass"))
        before = listing(work)
        result = invoke(
            [
                "fit",
                "--model",
                "random-effects",
                "--data",
                "table.csv",
                "--method",
                "exact",
                "--out",
                "run",
                "-q",
            ]
        )
        assert listing(tmp) == []
        if result.exit_code == 1:
            assert listing(work) == before
            for line in result.stderr.splitlines():
                assert line.removeprefix("error: ").startswith("table.csv: "), line
        else:
            assert (work / "run" / "summary.json").is_file()
