"""The options that commands share, each declared once with its help text.

A command lists the decorators it takes and receives every value as a named parameter. Where a
shared option's default differs between commands (the cells a command shows by default, what
its output folder is), the decorator takes that as an argument; the option itself is the same.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from hlhbayes.cli.vocabulary import TABLE_FORMATS
from hlhbayes.suggest import did_you_mean

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def _all(*decorators: Decorator) -> Decorator:
    """Apply several option decorators, the first listed first in ``--help``."""

    def apply(func: Callable[..., Any]) -> Callable[..., Any]:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


class Choice(click.Choice):
    """A ``click.Choice`` that ignores case and, for a near miss, asks "did you mean ...?"."""

    def __init__(self, choices: Any, case_sensitive: bool = False) -> None:
        super().__init__(choices, case_sensitive=case_sensitive)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """The matching choice (in its own case); a usage error with a suggestion otherwise."""
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter as exc:
            hint = did_you_mean(str(value), [str(c) for c in self.choices])
            if hint:
                exc.message = f"{exc.message} {hint[0].upper()}{hint[1:]}"
            raise


class Probability(click.ParamType):
    """A probability in [0, 1]; a percentage (``70``) is refused with "did you mean 0.70?"."""

    name = "probability"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """``value`` as a float in [0, 1]."""
        if isinstance(value, float):
            number = value
        else:
            try:
                number = float(value)
            except (TypeError, ValueError):
                self.fail(f"{value!r} is not a number between 0 and 1.", param, ctx)
        if 2 <= number <= 100:  # 70 for 70%; 1.5 is no percentage anyone means
            self.fail(
                f"{number:g} is not between 0 and 1; a percentage? did you mean "
                f"{number / 100:.2f}?",
                param,
                ctx,
            )
        if not 0 <= number <= 1:
            self.fail(f"{number:g} is not between 0 and 1.", param, ctx)
        return number


PROBABILITY = Probability()


class ModelChoice(Choice):
    """One of the registered models, looked up when the command runs (not when it is defined)."""

    def __init__(self) -> None:
        super().__init__((), case_sensitive=False)

    @property
    def choices(self) -> tuple[str, ...]:  # type: ignore[override]
        """The names of :data:`hlhbayes.models.MODELS`."""
        from hlhbayes.models import MODELS

        return tuple(MODELS)

    @choices.setter
    def choices(self, _value: Any) -> None:
        """The registry is the one list of models: nothing to set."""


def model_option(multiple: bool = False) -> Decorator:
    """``--model``: the model to fit (with ``multiple``: the saved analyses to re-run)."""
    from hlhbayes.models import DEFAULT_MODEL

    if multiple:
        return click.option(
            "--model",
            "models",
            multiple=True,
            type=ModelChoice(),
            help="Only these saved analyses (repeatable; default: every spec in models/).",
        )
    return click.option(
        "--model",
        type=ModelChoice(),
        default=DEFAULT_MODEL,
        show_default=True,
        help="etiology-line: response by trigger and line; random-effects: any "
        "study/events/total table.",
    )


def outcome_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--outcome``: response or death (default: the spec's, response)."""
    return click.option(
        "--outcome",
        type=Choice(["response", "death"]),
        help="response or death (default: the spec's, response).",
    )(func)


def data_option(tables: bool = False) -> Decorator:
    """``--data PATH``: the evidence base folder (and, with ``tables``, a user's CSV table)."""
    text = "Evidence base folder (default: $HLHBAYES_DATA, else the workspace's data/, else the shipped one)"
    if tables:
        text += ", or (random-effects) a CSV of study, events, total"
    return click.option(
        "--data",
        "data_path",
        type=click.Path(path_type=Path, exists=True),
        default=None,
        help=f"{text}.",
    )


def cell_options(etiology_help: str, line_help: str) -> Decorator:
    """``--etiology`` and ``--line`` (repeatable): the etiology x line cells a command shows."""
    from hlhbayes.models.units import MODEL_ETIOLOGIES, MODEL_LINES

    return _all(
        click.option(
            "--etiology",
            "etiologies",
            multiple=True,
            type=Choice(MODEL_ETIOLOGIES),
            help=etiology_help,
        ),
        click.option("--line", "lines", multiple=True, type=Choice(MODEL_LINES), help=line_help),
    )


def cell_option(etiology_help: str, line_help: str) -> Decorator:
    """``--etiology`` and ``--line`` (one each): the one cell a command works on, same choices."""
    from hlhbayes.models.units import MODEL_ETIOLOGIES, MODEL_LINES

    return _all(
        click.option("--etiology", type=Choice(MODEL_ETIOLOGIES), help=etiology_help),
        click.option("--line", type=Choice(MODEL_LINES), help=line_help),
    )


def sampler_options(nuts: bool = False) -> Decorator:
    """``--chains``, ``--draws``, ``--tune``, ``--target-accept`` and ``--seed``.

    Defaults are the model spec's. With ``nuts``, also ``--sampler`` (the NUTS implementation).
    """
    options = [
        click.option("--chains", type=click.IntRange(1, 64), help="Chains (spec: 4)."),
        click.option("--draws", type=click.IntRange(10), help="Draws per chain (spec: 1000)."),
        click.option("--tune", type=click.IntRange(0), help="Tuning steps (spec: 500)."),
        click.option(
            "--target-accept",
            type=click.FloatRange(0.5, 0.999),
            help="NUTS target acceptance (spec: 0.95).",
        ),
    ]
    if nuts:
        options.append(
            click.option(
                "--sampler",
                type=Choice(["compiled", "pymc", "nutpie"]),
                help="NUTS implementation (spec: compiled, the compiled engine; pymc: PyMC's "
                "own NUTS, the cross-check; nutpie when installed).",
            )
        )
    options.append(
        click.option(
            "--seed",
            type=int,
            default=1,
            show_default=True,
            help="Random seed (same seed, same numbers).",
        )
    )
    return _all(*options)


def sampler_overrides(
    chains: int | None,
    draws: int | None,
    tune: int | None,
    target_accept: float | None,
    sampler: str | None = None,
) -> dict[str, Any]:
    """The sampler settings given on the command line (``None``: the spec's)."""
    return {
        "chains": chains,
        "draws": draws,
        "tune": tune,
        "target_accept": target_accept,
        "sampler": sampler,
    }


def output_options(help_text: str, force_help: str) -> Decorator:
    """``--out DIR`` (the folder a command writes) and ``--force``."""
    return _all(
        click.option(
            "--out", type=click.Path(path_type=Path, file_okay=False), metavar="DIR", help=help_text
        ),
        click.option("--force", is_flag=True, help=force_help),
    )


def quiet_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--quiet`` / ``-q``: no progress messages on stderr."""
    return click.option("--quiet", "-q", is_flag=True, help="No progress messages.")(func)


def format_option(
    *choices: str, default: str = "table", help_text: str = "Output format."
) -> Decorator:
    """``--format`` with the given choices."""
    return click.option(
        "--format",
        "fmt",
        type=Choice(list(choices)),
        default=default,
        show_default=True,
        help=help_text,
    )


def threshold_option(help_text: str) -> Decorator:
    """``--threshold T`` (repeatable): report P(rate > T)."""
    return click.option(
        "--threshold", "thresholds", multiple=True, type=PROBABILITY, help=help_text
    )


def table_format_option(
    default: str = "table", help_text: str = "table (for people), json or csv (for scripts)."
) -> Decorator:
    """``--format table|json|csv``: every command that prints a table takes all three."""
    return format_option(*TABLE_FORMATS, default=default, help_text=help_text)


def wide_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--wide``: terminal tables keep their long columns (URLs, long text)."""
    return click.option(
        "--wide", is_flag=True, help="Show long columns (URLs, long text) in the table too."
    )(func)


def output_file_option(help_text: str, required: bool = False) -> Decorator:
    """``-o/--output FILE``: the one file a command writes (``--out`` is always a folder)."""
    return click.option(
        "-o",
        "--output",
        "output",
        type=click.Path(path_type=Path, dir_okay=False),
        metavar="FILE",
        required=required,
        help=help_text,
    )


def plot_options(help_text: str, dest: str = "plot") -> Decorator:
    """``--plot FILE`` / ``--no-plot``: the figure a command draws, or none.

    The command receives them as ``dest`` and ``no_<dest>``.
    """
    return _all(
        click.option(
            "--plot",
            dest,
            type=click.Path(path_type=Path, dir_okay=False),
            metavar="FILE",
            help=help_text,
        ),
        click.option("--no-plot", f"no_{dest}", is_flag=True, help="Draw no figure."),
    )


def _set_wait(ctx: click.Context, _param: click.Parameter, value: float | None) -> None:
    from hlhbayes.locking import set_patience

    if value is not None and not ctx.meta.get("hlhbayes.no_wait"):
        set_patience(value)


def _set_no_wait(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    from hlhbayes.locking import set_patience

    if value:
        ctx.meta["hlhbayes.no_wait"] = True
        set_patience(0)


def wait_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--wait SECONDS`` and ``--no-wait``: what to do while another command uses the same place.

    They set how long :func:`hlhbayes.locking.hold` waits (the command line resets it to the
    default before every command); the command receives no parameter.
    """
    func = click.option(
        "--no-wait",
        is_flag=True,
        expose_value=False,
        callback=_set_no_wait,
        help="If another hlhbayes command is using the same evidence base or output folder, "
        "refuse at once (one line, exit 1) instead of waiting for it.",
    )(func)
    return click.option(
        "--wait",
        type=click.FloatRange(min=0),
        metavar="SECONDS",
        expose_value=False,
        callback=_set_wait,
        help="Wait at most this long for another hlhbayes command using the same evidence base "
        "or output folder (default 3600: an hour).",
    )(func)
