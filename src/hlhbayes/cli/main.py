"""The ``hlhbayes`` command group.

Subcommands are imported only when invoked (or listed by ``--help``): ``hlhbayes fit`` does
not pay for the imports of ``describe``, ``design`` or the report renderer.
"""

from __future__ import annotations

import importlib

import click

from hlhbayes import __version__

#: command name -> "module:attribute" of its click command, in the order ``--help`` lists them.
COMMANDS = {
    "data": "hlhbayes.cli.data_cmds:data",
    "describe": "hlhbayes.cli.describe_cmd:describe",
    "design": "hlhbayes.cli.design_cmd:design",
    "fit": "hlhbayes.cli.fit_cmd:fit",
    "report": "hlhbayes.cli.report_cmd:report",
    "update": "hlhbayes.cli.living_cmds:update",
    "compare": "hlhbayes.cli.living_cmds:compare",
    "cumulative": "hlhbayes.cli.living_cmds:cumulative",
    "sensitivity": "hlhbayes.cli.living_cmds:sensitivity",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def __init__(self, *args, lazy_commands: dict[str, str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command name, lazy ones first (no import needed to list them)."""
        return [*self.lazy_commands, *super().list_commands(ctx)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command ``cmd_name``, importing its module on first use."""
        if cmd_name in self.lazy_commands:
            module_name, attribute = self.lazy_commands[cmd_name].split(":")
            return getattr(importlib.import_module(module_name), attribute)
        return super().get_command(ctx, cmd_name)


@click.group(
    cls=LazyGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="hlhbayes")
def main() -> None:
    """Bayesian evidence synthesis for anakinra in secondary HLH.

    Curated evidence (data), descriptive statistics of patient series (describe), and
    hierarchical models of response and death by trigger and line of therapy (fit).
    """
