"""The ``hlhbayes`` command group, and the one place where a domain error becomes an exit.

Subcommands are imported only when invoked (or listed by ``--help``): ``hlhbayes fit`` does
not pay for the imports of ``describe``, ``design`` or the report renderer. An
:class:`~hlhbayes.errors.HlhBayesError` raised by the library, or a file-system error (a disk
full, a permission refused), ends any command with ``error: <message>`` on stderr and exit
status 1; click's usage errors keep status 2. Ctrl-C ends it with one line and status 130 (the
shell's 128 + SIGINT), after anything half-written has been removed (:mod:`hlhbayes.interrupts`).

The ``hlhbayes`` executable is :func:`run`: :func:`main`, then an exit without the final
garbage collection.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from hlhbayes import interrupts, locking
from hlhbayes.cli.workspace_cmds import show_version
from hlhbayes.errors import HlhBayesError
from hlhbayes.suggest import did_you_mean

EXIT_BAD_INPUT = 1
EXIT_INTERRUPTED = 130

#: command name -> "module:attribute" of its click command, in the order ``--help`` lists them.
COMMANDS = {
    "init": "hlhbayes.cli.workspace_cmds:init",
    "data": "hlhbayes.cli.data_cmds:data",
    "describe": "hlhbayes.cli.describe_cmd:describe",
    "design": "hlhbayes.cli.design_cmd:design",
    "fit": "hlhbayes.cli.fit_cmd:fit",
    "report": "hlhbayes.cli.report_cmd:report",
    "update": "hlhbayes.cli.living_cmds:update",
    "compare": "hlhbayes.cli.living_cmds:compare",
    "cumulative": "hlhbayes.cli.living_cmds:cumulative",
    "sensitivity": "hlhbayes.cli.living_cmds:sensitivity",
    "cache": "hlhbayes.cli.cache_cmd:cache",
}


class DomainError(click.ClickException):
    """A clean one-line (or one-line-per-issue) error with exit code 1."""

    exit_code = EXIT_BAD_INPUT

    def show(self, file: Any = None) -> None:  # noqa: D102 - click API
        click.echo(f"error: {self.format_message()}", err=True)


class Interrupted(click.ClickException):
    """Ctrl-C: one line, exit code 130."""

    exit_code = EXIT_INTERRUPTED

    def __init__(self) -> None:
        super().__init__("nothing half-written is kept")

    def show(self, file: Any = None) -> None:  # noqa: D102 - click API
        click.echo(f"interrupted: {self.format_message()}", err=True)


class _Stderr(logging.Handler):
    """Messages of the library (waiting for a lock, a change undone) as lines on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(record.getMessage(), err=True)


@contextmanager
def _messages_on_stderr() -> Iterator[None]:
    logger = logging.getLogger("hlhbayes")
    handler = _Stderr()
    logger.addHandler(handler)
    propagate, logger.propagate = logger.propagate, False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use, and whose errors are one line."""

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

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """The subcommand named first in ``args``; an unknown name gets "did you mean ...?"."""
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            hint = did_you_mean(args[0], self.list_commands(ctx)) if args else ""
            if hint and "did you mean" not in exc.message.lower():
                exc.message = f"{exc.message} {hint[0].upper()}{hint[1:]}"
            raise

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand; a domain or file-system error becomes ``error: ...``, exit 1.

        Ctrl-C becomes ``interrupted: ...``, exit 130, also when a library caught it and went on.
        Output to a reader that left (``hlhbayes fit | head``) ends the command without a message,
        exit 1, as click ends it (what was written before, a run folder, stays).
        """
        locking.set_patience(locking.DEFAULT_PATIENCE)  # until a --wait or --no-wait says
        try:
            with interrupts.watching(), _messages_on_stderr():
                try:
                    result = super().invoke(ctx)
                except Exception:
                    interrupts.check()  # an error that follows a caught Ctrl-C is the Ctrl-C
                    raise
                interrupts.check()
                return result
        except KeyboardInterrupt:
            raise Interrupted() from None
        except HlhBayesError as exc:
            raise DomainError(exc.user_message()) from None
        except BrokenPipeError:  # the reader of the output left (`| head`): click ends quietly
            raise
        except OSError as exc:  # a disk full, a permission refused: one line, no traceback
            where = f"{exc.filename}: " if exc.filename else ""
            raise DomainError(f"{where}{exc.strerror or exc}") from None


@click.group(
    cls=LazyGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=show_version,
    help="Show the version, the evidence base commands here use and its content hash; exit.",
)
def main() -> None:
    """Bayesian evidence synthesis for anakinra in secondary HLH.

    Curated evidence (data), descriptive statistics of patient series (describe), and
    hierarchical models of response and death by trigger and line of therapy (fit).
    Commands use the workspace they run in (hlhbayes init makes one), else the evidence base
    shipped with the package, read-only.
    """


def run() -> None:
    """The ``hlhbayes`` executable: :func:`main`, then an exit that skips a needless collection.

    As a process ends, Python collects the cyclic garbage among everything still alive, several
    times over: with JAX, pandas and xarray loaded and a fit done, that is hundreds of thousands
    of objects and about half a second of a warm fit's wall time, to free memory the operating
    system takes back anyway. ``gc.freeze()`` as the last exit handler (handlers run in the
    reverse order of registration) takes every object out of those collections. The other exit
    handlers still run first, every module is still torn down, and every file the commands
    write is closed (and renamed into place) before the command returns.

    Only the executable does this: :func:`main` called in a running program (click's test
    runner, a notebook) leaves that program's collector alone.
    """
    atexit.register(gc.freeze)
    main()
