"""Every enumerated malformed input (fuzz_inputs.cases), through the command line.

For each: no traceback; the expected exit status (1 bad input, 2 usage); nothing on stdout;
one line per problem, each naming the file (and the row and field where there is one), none
longer than a capped quote allows; the evidence base byte-identical (names, modes and contents,
hidden files included); and no file left anywhere: not in the evidence base, not in the working
folder, not in the temporary folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from fuzz_harness import listing, small_base, tree_hash
from fuzz_inputs import Case, cases

from hlhbayes.cli import main

LONGEST_LINE = 600  # a path, a location, a message and one quote capped at about 100 characters


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    return small_base(tmp_path_factory.mktemp("pristine"))


class Workspace:
    """The folders of one case: a working folder with the inputs, a base, a temporary folder."""

    def __init__(self, root: Path, pristine: Path, case: Case) -> None:
        self.work = root / "work"
        self.work.mkdir()
        self.data = root / "data"
        shutil.copytree(pristine, self.data)
        self.tmp = root / "tmp"
        self.tmp.mkdir()
        self.files = {}
        for kind, content, name in (
            ("study", case.study, "study.yaml"),
            ("patients", case.patients, "patients.csv"),
            ("table", case.table, "table.csv"),
        ):
            if content is not None:
                (self.work / name).write_bytes(content)
                self.files[kind] = name
        if case.base_file is not None:
            name, content = case.base_file
            (self.data / name).write_bytes(content)
            self.files["base"] = str(self.data / name)

    def args(self, case: Case) -> list[str]:
        if case.command == "add":
            args = ["data", "add", "study.yaml", "--data", str(self.data)]
            return args + (["--patients", "patients.csv"] if case.patients is not None else [])
        if case.command == "validate":
            return ["data", "validate", str(self.data)]
        if case.command == "table":
            return [
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
        if case.command == "template":
            return ["data", "template", *case.args, "--out", "templates"]
        return list(case.args)


def check_refusal(case: Case, space: Workspace, code: int, stdout: str, stderr: str) -> None:
    output = stdout + stderr
    assert "Traceback" not in output, output
    assert code == case.exit_code, output
    assert stdout == "", stdout
    lines = stderr.splitlines()
    assert lines, "no message"
    if case.exit_code == 2:
        assert any(line.startswith("Error: ") for line in lines), stderr
        return
    assert lines[0].startswith("error: "), stderr
    problems = lines[1:] if lines[0].endswith(" found:") else [lines[0].removeprefix("error: ")]
    assert problems, stderr
    assert all(len(line) <= LONGEST_LINE for line in lines), max(lines, key=len)[:300]
    if case.names:
        shown = space.files[case.names]
        named = [line for line in problems if line.startswith(f"{shown}: ")]
        assert named, stderr
    for fragment in case.where:
        assert any(fragment in line for line in problems), (fragment, stderr)


CASES = cases()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_malformed_input_is_refused_cleanly(
    case: Case, pristine: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    space = Workspace(tmp_path, pristine, case)
    base_before = tree_hash(space.data)
    work_before = listing(space.work)
    monkeypatch.chdir(space.work)
    monkeypatch.setenv("HLHBAYES_DATA", str(space.data))
    monkeypatch.setattr(tempfile, "tempdir", str(space.tmp))
    result = CliRunner().invoke(main, space.args(case))
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), repr(result.exception)
    check_refusal(case, space, result.exit_code, result.stdout, result.stderr)
    assert tree_hash(space.data) == base_before
    assert listing(space.work) == work_before
    assert listing(space.tmp) == []


def test_the_suite_covers_every_category() -> None:
    items = {c.item for c in CASES}
    assert items >= {"1", "2", "3", "6", "7", "usage"}
    assert len(CASES) >= 300


# --- named pipes: a blocking read would hang, so these run as a separate process with a timeout


def hlhbayes_process(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    executable = Path(sys.executable).with_name("hlhbayes")
    env = {k: v for k, v in os.environ.items() if k != "HLHBAYES_DATA"}
    return subprocess.run(
        [str(executable), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


@pytest.mark.parametrize("where", ["study", "patients", "table", "base"])
def test_a_named_pipe_is_refused_at_once(where: str, pristine: Path, tmp_path: Path) -> None:
    case = Case(f"fifo-{where}", "7", "add", study=b"", names=where)
    work = tmp_path / "work"
    work.mkdir()
    data = tmp_path / "data"
    shutil.copytree(pristine, data)
    (work / "study.yaml").write_bytes(case.study or b"")
    if where == "study":
        (work / "study.yaml").unlink()
        os.mkfifo(work / "study.yaml")
        args, shown = ["data", "add", "study.yaml", "--data", str(data)], "study.yaml"
    elif where == "patients":
        from fuzz_inputs import STUDY

        (work / "study.yaml").write_text(STUDY)
        os.mkfifo(work / "patients.csv")
        args = ["data", "add", "study.yaml", "--patients", "patients.csv", "--data", str(data)]
        shown = "patients.csv"
    elif where == "table":
        os.mkfifo(work / "table.csv")
        args = ["fit", "--model", "random-effects", "--data", "table.csv", "--method", "exact"]
        args += ["--out", "run", "-q"]
        shown = "table.csv"
    else:
        os.mkfifo(data / "studies" / "Pipe.yaml")
        args, shown = ["data", "validate", str(data)], str(data / "studies" / "Pipe.yaml")
    base_before = tree_hash(data)
    work_before = listing(work)
    done = hlhbayes_process(args, work)  # times out (fails) if the read blocks
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert f"{shown}: a named pipe, not a regular file: give a file" in done.stderr
    assert tree_hash(data) == base_before
    assert listing(work) == work_before
