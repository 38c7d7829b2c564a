"""One vocabulary across commands: every option of every command against one table.

The walk covers the whole command tree (lazy groups included), so a command added later is
checked without being named here.
"""

from __future__ import annotations

from pathlib import Path

import click
import click.testing
import pytest

from hlhbayes.cli.main import main
from hlhbayes.cli.vocabulary import OTHER_FORMATS, TABLE_FORMATS, VOCABULARY, markdown_table

README = Path(__file__).resolve().parents[1] / "README.md"


def commands(
    command: click.Command = main, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], click.Command]]:
    """Every command under ``command`` with its path (groups included)."""
    found = [(path, command)]
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in command.list_commands(ctx):
            found += commands(command.get_command(ctx, name), (*path, name))
    return found


LEAVES = [(p, c) for p, c in commands() if not isinstance(c, click.Group)]
ALL = commands()


def options(command: click.Command) -> list[click.Option]:
    return [p for p in command.params if isinstance(p, click.Option) and not p.hidden]


def long_name(option: click.Option) -> str:
    return max(option.opts, key=len)


def ids(item: tuple[tuple[str, ...], click.Command]) -> str:
    return " ".join(item[0]) or "hlhbayes"


@pytest.mark.parametrize("item", ALL, ids=[ids(i) for i in ALL])
def test_every_option_is_in_the_vocabulary_with_help(item) -> None:
    path, command = item
    for option in options(command):
        name = long_name(option)
        assert name in VOCABULARY or name == "--version", f"{' '.join(path)} {name}"
        assert option.help and option.help.strip(), f"{' '.join(path)} {name}: no help"


def test_every_name_of_the_vocabulary_is_used() -> None:
    used = {long_name(o) for _, c in ALL for o in options(c)}
    assert set(VOCABULARY) - used == set()


@pytest.mark.parametrize("item", LEAVES, ids=[ids(i) for i in LEAVES])
def test_shared_options_mean_the_same_everywhere(item) -> None:
    path, command = item
    by_name = {long_name(o): o for o in options(command)}
    if "--out" in by_name:  # always a folder
        kind = by_name["--out"].type
        assert isinstance(kind, click.Path) and not kind.file_okay, path
    if "--output" in by_name:  # always one file, also -o
        kind = by_name["--output"].type
        assert isinstance(kind, click.Path) and not kind.dir_okay, path
        assert "-o" in by_name["--output"].opts
    if "--plot" in by_name or "--no-plot" in by_name:  # always the pair
        assert {"--plot", "--no-plot"} <= set(by_name), path
    if "--data" in by_name:
        assert by_name["--data"].help.startswith("Evidence base folder (default: $HLHBAYES_DATA")
    if "--quiet" in by_name:
        assert "-q" in by_name["--quiet"].opts
    for name in ("--etiology", "--line", "--outcome", "--format", "--model"):
        if name in by_name:  # choices ignore case
            assert by_name[name].type.case_sensitive is False, (path, name)
    for name in ("--threshold", "--p0", "--prob", "--target-power", "--rate", "--weight"):
        if name in by_name:  # a percentage is caught
            assert by_name[name].type.name == "probability", (path, name)


def test_design_map_takes_the_cells_fit_takes() -> None:
    by_path = dict(LEAVES)
    fit = {long_name(o): o for o in options(by_path[("fit",)])}
    design_map = {long_name(o): o for o in options(by_path[("design", "map")])}
    for name in ("--etiology", "--line"):
        assert list(design_map[name].type.choices) == list(fit[name].type.choices)


@pytest.mark.parametrize("item", LEAVES, ids=[ids(i) for i in LEAVES])
def test_format_offers_table_json_and_csv(item) -> None:
    path, command = item
    formats = [o for o in options(command) if long_name(o) == "--format"]
    for option in formats:
        expected = OTHER_FORMATS.get(path, TABLE_FORMATS)
        assert tuple(option.type.choices) == expected, path


@pytest.mark.parametrize("item", ALL, ids=[ids(i) for i in ALL])
def test_short_help_is_whole(item) -> None:
    path, command = item
    if not path:
        return
    short = command.get_short_help_str(limit=60)
    assert short and not short.endswith("..."), f"{' '.join(path)}: {short!r}"


def test_groups_list_their_commands_without_cutting_a_phrase() -> None:
    for path, command in ALL:
        if isinstance(command, click.Group):
            result = click.testing.CliRunner().invoke(main, [*path, "--help"], terminal_width=100)
            listing = result.output.split("Commands:")[1]
            assert "..." not in listing, (path, listing)


def test_the_readme_carries_the_vocabulary_table() -> None:
    assert markdown_table() in README.read_text(encoding="utf-8")
