"""The design commands' terminal output: mixtures, summaries, ESS and OC as tables.

Every table goes through :func:`hlhbayes.cli.tables.print_table`, every number through the
rounding rule (:mod:`hlhbayes.rounding`: weights and probabilities by ``probability``, shapes,
ESS and standard deviations by ``number``, rates by ``rate``); the sentences and notes come from
:mod:`hlhbayes.design.text`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import click
import pandas as pd

from hlhbayes.cli.tables import print_table
from hlhbayes.design import text
from hlhbayes.design.decision import Rule2S
from hlhbayes.design.mixture import BetaMixture
from hlhbayes.design.predictive import Predictive
from hlhbayes.rounding import number, probability, rate

SUMMARY_COLUMNS = {"mean": "mean", "sd": "sd", "q2.5": "2.5%", "q50": "50%", "q97.5": "97.5%"}
"""A distribution's summary: its keys and their headers."""


def print_mixture(mix: BetaMixture, prior: BetaMixture | None = None) -> None:
    """One row per component: weight, a, b and the component's mean.

    With ``prior`` (the mixture before the data), its weights too: the weights a posterior
    moved away from, by each component's marginal likelihood.
    """
    rows = []
    for k in range(mix.n_components):
        row: dict[str, Any] = {"comp": k + 1}
        if prior is not None:
            row["prior w"] = float(prior.weights[k])
        row |= {
            "w": float(mix.weights[k]),
            "a": float(mix.a[k]),
            "b": float(mix.b[k]),
            "mean": float(mix.component_means[k]),
        }
        rows.append(row)
    formats = {"prior w": probability, "w": probability, "a": number, "b": number, "mean": rate}
    print_table(pd.DataFrame(rows), formats=formats)


def print_summary(rows: Iterable[tuple[str, Mapping[str, float]]]) -> None:
    """Rows of mean, sd and 2.5/50/97.5% quantiles (the sd by ``number``, the rest as rates)."""
    frame = pd.DataFrame(
        [
            {"": name, **{head: values[key] for key, head in SUMMARY_COLUMNS.items()}}
            for name, values in rows
        ]
    )
    formats = {head: number if key == "sd" else rate for key, head in SUMMARY_COLUMNS.items()}
    print_table(frame, formats=formats)


def print_ess_lines(mix: BetaMixture, label: str = "") -> None:
    """The ESS line of ``mix`` (after ``label``) and a note for every edge case."""
    first, *notes = text.ess_lines(mix)
    click.echo(f"{label}{first}")
    for note in notes:
        click.echo(note)


def print_ess(values: Mapping[str, float | None], notes: Sequence[str]) -> None:
    """Every effective sample size of a prior (``-`` where undefined), then the notes."""
    frame = pd.DataFrame(
        {"method": [text.ESS_NAMES[k] for k in values], "ESS": list(values.values())}
    )
    print_table(frame, formats={"ESS": number}, missing="-")
    for note in notes:
        click.echo(text.note_lines(note))


def print_map(
    result: Any, label: str, run: Any, rests_on: str | None, weight: float | None
) -> None:
    """``design map``'s table form: the AIC choice, the mixture, its fit to the draws, the ESS.

    ``result``: a :class:`hlhbayes.design.map_prior.MapPrior`; ``rests_on``: the cell's
    support line, if the run has one; ``weight``: the robust component's, with ``--robust``.
    """
    click.echo(f"MAP prior {label} from {run}: {result.draws.size} draws")
    if rests_on is not None:
        click.echo(rests_on)
    fits = result.fit.table()
    if len(fits) > 1:
        frame = pd.DataFrame(
            {
                "K": [f["components"] for f in fits],
                "log-lik": [f["loglik"] for f in fits],
                "AIC": [f["aic"] for f in fits],
                "chosen": ["yes" if f["chosen"] else "no" for f in fits],
            }
        )
        title = f"number of components by AIC (penalty {result.fit.penalty:g}; lowest chosen):"
        print_table(frame, title=title, formats={"log-lik": number, "AIC": number})
    n = result.mixture.n_components
    click.echo(f"\nbeta mixture ({n} component{'s' if n > 1 else ''}):")
    print_mixture(result.mixture)
    for note in text.fit_notes(result.fit.best):
        click.echo(text.note_lines(note))
    click.echo()
    print_summary([("draws", result.draws_summary()), ("mixture", result.mixture.summary())])
    print_ess_lines(result.mixture)
    if result.robust is not None:
        rob = result.robust
        vague = f"Beta({text.compact(rob.a[-1])}, {text.compact(rob.b[-1])})"
        click.echo(f"\nrobust mixture (weight {weight:g} on {vague}):")
        print_mixture(rob)
        print_ess_lines(rob)


def print_posterior(prior: BetaMixture, post: BetaMixture, responders: int, n: int) -> None:
    """``design posterior``'s table form: the mixture beside the prior's weights, summaries, ESS."""
    many = post.n_components > 1
    click.echo(f"prior: {text.describe_prior(prior)}")
    click.echo(f"data: {responders} responders of {n}")
    click.echo(f"\nposterior mixture ({post.n_components} component{'s' if many else ''}):")
    print_mixture(post, prior=prior)
    click.echo()
    print_summary([("prior", prior.summary()), ("posterior", post.summary())])
    for name, mix in (("prior", prior), ("posterior", post)):
        print_ess_lines(mix, f"{name} ")


def print_predictive(pred: Predictive) -> None:
    """``design predictive``'s table form: the summary line, then P(Y = y) and P(Y <= y)."""
    s = pred.summary()
    click.echo(f"prior: {text.describe_prior(pred.distribution)}")
    click.echo(
        f"responders among {pred.n} future patients: mean {number(s['mean'])}, sd "
        f"{number(s['sd'])}; 2.5% {s['q2.5']:g}, 50% {s['q50']:g}, 97.5% {s['q97.5']:g}"
    )
    records = pred.records()
    frame = pd.DataFrame(
        {
            "y": [r["responders"] for r in records],
            "P(Y = y)": [r["probability"] for r in records],
            "P(Y <= y)": [r["cumulative"] for r in records],
        }
    )
    print_table(frame, formats={"P(Y = y)": probability, "P(Y <= y)": probability})


def print_oc(records: Sequence[Mapping[str, float]]) -> None:
    """The probability of success at each true rate (single arm)."""
    frame = pd.DataFrame(
        {
            "rate": [r["rate"] for r in records],
            "P(success)": [r["probability_success"] for r in records],
        }
    )
    print_table(frame, formats={"rate": rate, "P(success)": probability})


def print_oc2(
    rule: Rule2S,
    prior_t: BetaMixture,
    prior_c: BetaMixture,
    designs: Sequence[Mapping[str, Any]],
    lower_tail: bool,
) -> None:
    """``design oc2``'s table form: the priors, then per design its boundary and OC."""
    click.echo(f"two arms: success if {rule.describe()}")
    click.echo(f"treatment prior: {text.describe_with_ess(prior_t)}")
    click.echo(f"control prior:   {text.describe_with_ess(prior_c)}")
    word = "at most" if lower_tail else "at least"
    for entry in designs:
        b = entry["boundary"]
        never = -1 if lower_tail else entry["n_treatment"] + 1
        click.echo(f"\ndesign n_treat = {entry['n_treatment']}, n_control = {entry['n_control']}")
        boundary = pd.DataFrame({"control responders": range(len(b)), "b": b})
        print_table(
            boundary,
            title=f"boundary (success with {word} b treatment responders; {never} = never):",
        )
        click.echo()
        for item in entry.get("delta_for_target", []):
            d = item["delta"]
            value = "not reached" if d is None else rate(d)
            click.echo(
                f"difference with power {entry['target_power']:g} at p_c = "
                f"{rate(item['rate_control'])}: {value}"
            )
        oc = pd.DataFrame(
            {
                "p_t": [r["rate_treatment"] for r in entry["oc"]],
                "p_c": [r["rate_control"] for r in entry["oc"]],
                "p_t - p_c": [r["rate_treatment"] - r["rate_control"] for r in entry["oc"]],
                "P(success)": [r["probability_success"] for r in entry["oc"]],
            }
        )
        rates = dict.fromkeys(["p_t", "p_c", "p_t - p_c"], rate)
        print_table(oc, formats={**rates, "P(success)": probability})
