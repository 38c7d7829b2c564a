"""Commands at the same time on one place: they take turns, nothing is lost, nothing fails late.

Order is forced where it matters: the first command pauses once it holds the lock
(``locked``), the second is started and must say that it waits, then the first goes on. Races
without pauses check the same outcome when the order is left to chance.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from fuzz_harness import small_base
from fuzz_inputs import STUDY

from conftest import SHORT
from hlhbayes.cli import main
from processes import Command

WAITING = re.compile(
    r"^waiting for another hlhbayes command using (.+) \(pid (\d+): (.+)\) \.\.\.$"
)


SAME_DOI = ("  doi: null", "  doi: 10.5555/hlhbayes.same")


def cli(*args: str | Path):
    return CliRunner().invoke(main, [str(a) for a in args])


def study_file(folder: Path, name: str, *edits: tuple[str, str]) -> Path:
    text = STUDY
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def add(data: Path, study: Path, *more: str) -> list[str]:
    return ["data", "add", str(study), "--data", str(data), *more]


def waited(command: Command, what: str, holder: Command) -> None:
    """The command said once that it waits for ``what``, naming the holder's pid."""
    lines = [line.rstrip("\n") for line in command.stderr if line.startswith("waiting")]
    assert len(lines) == 1, command.stderr
    found = WAITING.match(lines[0])
    assert found, lines[0]
    assert found[1] == what and int(found[2]) == holder.process.pid


# --------------------------------------------------------------------------------------------
# the evidence base


def test_two_adds_of_one_doi_one_succeeds(tmp_path: Path) -> None:
    data = small_base(tmp_path)
    first = study_file(tmp_path, "first.yaml", SAME_DOI)
    second = study_file(tmp_path, "second.yaml", SAME_DOI, ("id: Example2024", "id: Other2024"))
    a = Command(add(data, first), tmp_path, "locked").paused()
    b = Command(add(data, second), tmp_path).said("waiting for another")
    a.resume()
    assert a.finish()[0] == 0
    code, stdout, stderr = b.finish()
    waited(b, f"{data}/", a)
    assert code == 1 and stdout == ""
    assert "doi '10.5555/hlhbayes.same' is already study Example2024" in stderr
    assert sorted(p.name for p in (data / "studies").iterdir()) == sorted(
        ["Baverez2022.yaml", "Kumar2017.yaml", "Imperial2020.yaml", "Example2024.yaml"]
    )
    assert cli("data", "validate", data).exit_code == 0


def test_two_adds_of_one_id_do_not_overwrite_each_other(tmp_path: Path) -> None:
    data = small_base(tmp_path)
    first = study_file(tmp_path, "first.yaml")
    second = study_file(tmp_path, "second.yaml", ("  country: ", "  country: Elsewhere # "))
    a = Command(add(data, first), tmp_path, "locked").paused()
    b = Command(add(data, second), tmp_path).said("waiting for another")
    a.resume()
    assert a.finish()[0] == 0
    code, _, stderr = b.finish()
    assert code == 1
    assert "study 'Example2024' exists; use --replace to replace it" in stderr
    assert (data / "studies" / "Example2024.yaml").read_bytes() == first.read_bytes()


def test_no_wait_refuses_at_once_with_one_line_naming_the_holder(tmp_path: Path) -> None:
    data = small_base(tmp_path)
    before = sorted(data.rglob("*"))
    first = study_file(tmp_path, "first.yaml")
    a = Command(add(data, first), tmp_path, "locked").paused()
    code, stdout, stderr = Command(add(data, first, "--no-wait"), tmp_path).finish()
    assert code == 1 and stdout == ""
    assert stderr.count("\n") == 1
    assert stderr.startswith(f"error: {data}/ is in use by another hlhbayes command (pid ")
    assert f"(pid {a.process.pid}: hlhbayes data add {first}" in stderr
    a.resume()
    assert a.finish()[0] == 0
    assert len(sorted(data.rglob("*"))) == len(before) + 1  # the first one's study alone


def test_a_bounded_wait_gives_up_with_one_line(tmp_path: Path) -> None:
    data = small_base(tmp_path)
    a = Command(add(data, study_file(tmp_path, "first.yaml")), tmp_path, "locked").paused()
    code, stdout, stderr = Command(
        ["data", "validate", str(data), "--wait", "0.5"], tmp_path
    ).finish()
    assert code == 1 and stdout == ""
    waiting, refusal = stderr.splitlines()
    assert WAITING.match(waiting)
    assert refusal.startswith(
        f"error: {data}/ is still in use by another hlhbayes command (pid {a.process.pid}: "
    )
    assert refusal.endswith(
        "after waiting 0.5 s; try again when it has finished (--wait SECONDS to wait longer)"
    )
    a.resume()
    assert a.finish()[0] == 0


def test_many_adds_of_one_doi_at_once_exactly_one_succeeds(tmp_path: Path) -> None:
    data = small_base(tmp_path)
    files = [
        study_file(tmp_path, f"s{k}.yaml", SAME_DOI, ("id: Example2024", f"id: Example2024x{k}"))
        for k in range(4)
    ]
    commands = [Command(add(data, f), tmp_path) for f in files]
    codes = [c.finish()[0] for c in commands]
    assert sorted(codes) == [0, 1, 1, 1], [c.stderr for c in commands]
    assert cli("data", "validate", data).exit_code == 0


# --------------------------------------------------------------------------------------------
# run folders

FIT = ["fit", "--model", "random-effects", "-q"]
EXACT = [*FIT, "--method", "exact"]


def seeds(runs: Path) -> list[int]:
    """The seed of every run folder under ``runs`` (its history included)."""
    return sorted(
        json.loads(p.read_text(encoding="utf-8"))["seed"] for p in runs.rglob("summary.json")
    )


def test_two_fits_into_the_default_folder_both_kept(tmp_path: Path) -> None:
    a = Command([*EXACT, "--seed", "1"], tmp_path, "locked").paused()
    b = Command([*EXACT, "--seed", "2"], tmp_path).said("waiting for another")
    a.resume()
    assert a.finish()[0] == 0
    code, _, stderr = b.finish()
    assert code == 0, stderr
    waited(b, "runs/random-effects-response", a)
    target = tmp_path / "runs" / "random-effects-response"
    assert json.loads((target / "summary.json").read_text())["seed"] == 2
    assert seeds(tmp_path / "runs") == [1, 2]  # the first one archived in the history
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["history", target.name]


def test_a_second_fit_into_a_named_folder_is_refused_before_fitting(tmp_path: Path) -> None:
    a = Command([*EXACT, "--out", "run", "--seed", "1"], tmp_path, "locked").paused()
    b = Command([*EXACT, "--out", "run", "--seed", "2"], tmp_path).said("waiting for another")
    a.resume()
    assert a.finish()[0] == 0
    code, stdout, stderr = b.finish()
    assert code == 1 and stdout == ""
    assert stderr.splitlines()[-1] == (
        "error: --out run: exists and is not empty; use --force to replace it (or choose "
        "another --out)"
    )
    assert seeds(tmp_path / "run") == [1]


def test_three_fits_at_once_into_the_default_folder_keep_three_runs(tmp_path: Path) -> None:
    commands = [Command([*EXACT, "--seed", str(k)], tmp_path) for k in (1, 2, 3)]
    outcomes = [c.finish() for c in commands]
    assert [code for code, _, _ in outcomes] == [0, 0, 0], [err for _, _, err in outcomes]
    assert seeds(tmp_path / "runs") == [1, 2, 3]
    assert not [p for p in (tmp_path / "runs").rglob(".*")]


@pytest.mark.slow
@pytest.mark.sampling
def test_two_sampled_fits_into_one_folder_both_kept(tmp_path: Path) -> None:
    tiny = [*FIT, "--no-sensitivity", *SHORT]
    a = Command([*tiny, "--seed", "1"], tmp_path)
    b = Command([*tiny, "--seed", "2"], tmp_path)
    codes = [a.finish()[0], b.finish()[0]]
    assert sorted(codes) in ([0, 0], [0, 3], [3, 3]), (a.stderr, b.stderr)  # 3: too short
    assert seeds(tmp_path / "runs") == [1, 2]


# --------------------------------------------------------------------------------------------
# every command that writes a place refuses before it computes anything


@pytest.fixture(scope="module")
def fitted(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("fitted")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)
        assert cli(*EXACT, "--out", "run").exit_code == 0
    return work


@pytest.mark.parametrize(
    ("args", "place"),
    [
        (["report", "run", "--name", "r"], "run/r"),  # a report goes into its run folder
        (["cumulative", "--model", "random-effects", "--out", "c"], "c"),
        (["sensitivity", "--model", "random-effects", "--out", "s"], "s"),
        (["update", "--model", "random-effects", "--runs", "runs"], "runs/random-effects-response"),
        (["fit", "--model", "random-effects", "--out", "f"], "f"),
    ],
    ids=["report", "cumulative", "sensitivity", "update", "fit"],
)
def test_a_place_in_use_is_refused_before_computing(
    fitted: Path, tmp_path: Path, args: list[str], place: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The holder is another process; the refused command runs here (the refusal of a separate
    process is tested above, with ``data add``)."""
    shutil.copytree(fitted, tmp_path, dirs_exist_ok=True)
    holder = Command([*EXACT, "--out", place], tmp_path, "locked").paused()
    monkeypatch.chdir(tmp_path)
    refused = cli(*args, "--no-wait")
    code, stdout, stderr = refused.exit_code, refused.stdout, refused.stderr
    assert code == 1 and stdout == ""
    assert stderr.count("\n") == 1  # one line, before anything was computed
    holding = " ".join([*EXACT, "--out", place])
    assert stderr.startswith(
        f"error: {place} is in use by another hlhbayes command (pid {holder.process.pid}: "
        f"hlhbayes {holding}, since "
    )
    holder.resume()
    assert holder.finish()[0] == 0
