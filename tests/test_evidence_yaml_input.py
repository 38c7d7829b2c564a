"""Study-file YAML: aliases, deep nesting, duplicate keys and bad tagged values are refused
with one located line, by the libyaml loader and the pure-Python one alike."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import snapshot, within
from hlhbayes.cli import main
from hlhbayes.evidence.load import parse_study_text
from hlhbayes.evidence.yaml_input import (
    MAX_DEPTH,
    MAX_NODES,
    PythonStudyLoader,
    StudyLoader,
    YamlInputError,
    load_yaml,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures"
STUDY = (FIXTURES / "example_study.yaml").read_text(encoding="utf-8")
LOADERS = pytest.mark.parametrize(
    "loader", sorted({StudyLoader, PythonStudyLoader}, key=lambda c: c.__name__)
)


def billion_laughs(levels: int = 9) -> str:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def refused(text: str, loader: type) -> YamlInputError:
    with pytest.raises(YamlInputError) as caught:
        load_yaml(text, loader)
    return caught.value


@LOADERS
def test_an_alias_bomb_is_refused_at_once(loader: type) -> None:
    with within(10):
        error = refused(billion_laughs(), loader)
    assert (error.line, error.field) == (1, "")
    assert "aliases are not allowed" in error.message


@LOADERS
@pytest.mark.parametrize(
    "text",
    [
        "a: &x 1\nb: *x\n",
        "a: &x [1, 2]\nb: *x\n",
        "a: &x {k: v}\nb: [*x]\n",
        "a: &a [*a]\n",  # a structure that contains itself
    ],
)
def test_every_alias_is_refused(loader: type, text: str) -> None:
    assert "aliases are not allowed" in refused(text, loader).message


@LOADERS
def test_an_anchor_on_its_own_is_inert(loader: type) -> None:
    assert load_yaml("a: &x 1\nb: 2\n", loader) == {"a": 1, "b": 2}


@LOADERS
@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * 40 + "]" * 40 + "\n",
        "a: " + "[" * 100_000 + "\n",  # beyond libyaml's own limit too
        "a:\n  " + "- " * 3000 + "x\n",
        "".join("  " * i + f"k{i}:\n" for i in range(40)) + "  " * 40 + "v\n",
    ],
    ids=["flow", "flow-unclosed", "block-sequence", "block-mapping"],
)
def test_deep_nesting_is_refused_in_one_line(loader: type, text: str) -> None:
    error = refused(text, loader)
    assert error.line is not None
    assert "nest" in error.message
    assert "\n" not in error.message


@LOADERS
def test_nesting_up_to_the_bound_is_read(loader: type) -> None:
    depth = MAX_DEPTH - 1  # the root mapping is one level
    assert load_yaml("a: " + "[" * depth + "]" * depth + "\n", loader) is not None


@LOADERS
def test_too_many_values_are_refused(loader: type) -> None:
    text = "a: [" + ", ".join(["1"] * (MAX_NODES + 1)) + "]\n"
    assert f"more than {MAX_NODES} values" in refused(text, loader).message


@LOADERS
@pytest.mark.parametrize(
    ("text", "line", "field", "first"),
    [
        ("a: 1\nb: 2\na: 3\n", 3, "a", 1),
        ("study:\n  id: X\n  year: 2020\n  year: 2021\n", 4, "year", 3),
        ("s:\n  - {k: 1, k: 2}\n", 2, "k", 2),
    ],
)
def test_a_key_given_twice_is_refused(
    loader: type, text: str, line: int, field: str, first: int
) -> None:
    error = refused(text, loader)
    assert (error.line, error.field) == (line, field)
    assert error.message == f"key given twice (first on line {first})"


@LOADERS
def test_merge_keys_are_refused(loader: type) -> None:
    assert refused("a: {x: 1}\nb:\n  <<: {x: 2}\n", loader).message == (
        "merge keys (<<) are not allowed"
    )


@LOADERS
def test_dates_are_text_and_a_bad_tagged_value_names_line_and_key(loader: type) -> None:
    assert load_yaml("note: 2021-02-30\nwhen: 2021-01-01\n", loader) == {
        "note": "2021-02-30",
        "when": "2021-01-01",
    }
    error = refused("study:\n  year: !!timestamp 2021-02-30\n", loader)
    assert (error.row, error.field) == ("line 2", "year")
    assert error.message == ("'2021-02-30' is not a valid timestamp: day is out of range for month")
    error = refused("events: !!int " + "9" * 5000 + "\n", loader)
    assert (error.row, error.field) == ("line 1", "events")
    assert "(5000 characters)" in error.message and len(error.message) < 300


@LOADERS
def test_python_tags_build_nothing(loader: type) -> None:
    error = refused("x: !!python/object/apply:os.system ['true']\n", loader)
    assert error.line == 1
    assert error.message == (
        "the tag 'tag:yaml.org,2002:python/object/apply:os.system' is not used in study files"
    )


def test_a_study_file_with_an_alias_bomb_is_one_issue() -> None:
    with within(10):
        record, issues = parse_study_text(billion_laughs() + STUDY, "bomb.yaml")
    assert record is None
    assert [str(i) for i in issues] == [
        "bomb.yaml: line 1: the value anchored here (&) is repeated by an alias (*): aliases "
        "are not allowed; write the value out"
    ]


def test_a_duplicate_key_in_a_study_file_is_one_issue() -> None:
    text = STUDY.replace("  year: 2024\n", "  year: 2024\n  year: 2025\n")
    record, issues = parse_study_text(text, "dup.yaml")
    assert record is None
    assert [str(i) for i in issues] == ["dup.yaml: line 6: year: key given twice (first on line 5)"]


@pytest.mark.parametrize("command", ["add", "validate"])
def test_the_cli_refuses_a_bomb_quickly_and_changes_nothing(
    data_copy: Path, tmp_path: Path, command: str
) -> None:
    bomb = billion_laughs() + STUDY
    if command == "add":
        path = tmp_path / "bomb.yaml"
        path.write_text(bomb, encoding="utf-8")
        args = ["data", "add", str(path), "--data", str(data_copy)]
        shown = str(path)
    else:
        (data_copy / "studies" / "Example2024.yaml").write_text(bomb, encoding="utf-8")
        args = ["data", "validate", str(data_copy)]
        shown = str(data_copy / "studies" / "Example2024.yaml")
    before = snapshot(data_copy)
    with within(20):
        result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == "error: 1 problem found:"
    assert lines[1].startswith(f"{shown}: line 1: the value anchored here (&)")
    assert len(lines) == 2
    assert snapshot(data_copy) == before
