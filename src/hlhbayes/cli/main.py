"""The ``hlhbayes`` command group."""

from __future__ import annotations

import click

from hlhbayes import __version__
from hlhbayes.cli.data_cmds import data
from hlhbayes.cli.describe_cmd import describe
from hlhbayes.cli.design_cmd import design
from hlhbayes.cli.fit_cmd import fit
from hlhbayes.cli.living_cmds import compare, cumulative, sensitivity, update
from hlhbayes.cli.report_cmd import report


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hlhbayes")
def main() -> None:
    """Bayesian evidence synthesis for anakinra in secondary HLH.

    Curated evidence (data), descriptive statistics of patient series (describe), and
    hierarchical models of response and death by trigger and line of therapy (fit).
    """


main.add_command(data)
main.add_command(describe)
main.add_command(design)
main.add_command(fit)
main.add_command(report)
main.add_command(update)
main.add_command(compare)
main.add_command(cumulative)
main.add_command(sensitivity)
