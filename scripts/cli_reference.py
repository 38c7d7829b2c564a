"""Write docs/cli.md, the command-line reference, from the commands' own ``--help``.

    .venv/bin/python scripts/cli_reference.py           # regenerate docs/cli.md
    .venv/bin/python scripts/cli_reference.py --check   # exit 1 if docs/cli.md is out of date

Every command and subcommand gets a section with its ``--help`` text, rendered at a fixed width
so that the file does not depend on the terminal it was made in. tests/test_docs.py fails when
the committed file differs from what this script writes.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import click

TARGET = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
WIDTH = 100
HEADER = """\
# Command-line reference

Generated from `hlhbayes --help` and the `--help` of every command by
`scripts/cli_reference.py`; do not edit by hand (run `make cli-reference` after changing a
command).
"""


def contexts(
    command: click.Command, name: str, parent: click.Context | None = None
) -> Iterator[click.Context]:
    """The context of ``command`` and of every subcommand under it, depth first, in help order."""
    # make_context applies the command's context_settings (its help option names, ...)
    ctx = command.make_context(
        name,
        [],
        parent=parent,
        resilient_parsing=True,  # no argument is given: required ones must not fail here
        terminal_width=WIDTH,
        max_content_width=WIDTH,
    )
    yield ctx
    if isinstance(command, click.Group):
        for sub in command.list_commands(ctx):
            child = command.get_command(ctx, sub)
            if child is not None and not child.hidden:
                yield from contexts(child, sub, ctx)


def render() -> str:
    """The whole reference as Markdown."""
    from hlhbayes.cli import main

    sections = [HEADER]
    for ctx in contexts(main, "hlhbayes"):
        sections.append(f"## `{ctx.command_path}`\n\n```text\n{ctx.get_help()}\n```\n")
    return "\n".join(sections)


def main(argv: list[str]) -> int:
    """Write the reference (or, with ``--check``, say whether the committed one is current)."""
    text = render()
    if "--check" in argv:
        if TARGET.read_text(encoding="utf-8") != text:
            print(f"{TARGET} is out of date: run .venv/bin/python scripts/cli_reference.py")
            return 1
        return 0
    TARGET.parent.mkdir(exist_ok=True)
    TARGET.write_text(text, encoding="utf-8")
    print(TARGET)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
