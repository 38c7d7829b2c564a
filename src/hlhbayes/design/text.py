"""Design results in words: priors, ESS notes, sample-size sentences, in the rounding rule.

Every number printed here passes through the rounding rule of ``hlhbayes.rounding``
(``number``, ``compact``, ``rate``, ``probability``; the design commands take them from here);
``--format json`` (and CSV, through :func:`exact`) carries full precision. The commands' tables
are drawn by ``hlhbayes.cli.design_output``.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hlhbayes.design.em import MixtureFit
from hlhbayes.design.mixture import BetaMixture
from hlhbayes.design.oc import SampleSize
from hlhbayes.rounding import DECIMALS, compact, number, probability, rate

NOTE_WIDTH = 100
"""Notes are wrapped to this width (``note:`` and a space, then an indent of six spaces)."""


# ---------------------------------------------------------------------- numbers
def probability_against(value: float, cutoff: float, most: int = 7) -> str:
    """A probability compared with ``cutoff``: more decimals only where three would tie.

    ``0.9913`` against 0.95 -> ``0.991``; ``0.95004`` against 0.95 -> ``0.95004``.
    """
    text = probability(value)
    decimals = DECIMALS
    while decimals < most and float(text.lstrip("<>")) == round(cutoff, decimals):
        decimals += 1
        text = rate(value, decimals)
    return text


def exact(value: float) -> str:
    """Full precision (the shortest text that reads back as the same float), for CSV."""
    return repr(float(value))


ESS_NAMES = {"elir": "ELIR", "moment": "moment", "morita": "Morita", "elir_logit": "ELIR (logit)"}


def ess_line(values: Mapping[str, float | None]) -> str:
    """``ESS: ELIR 36.8, moment 26.0, Morita 62.7`` (``-`` where undefined).

    The ELIR on the logit scale is added where it differs from the ELIR (a shape at or below
    1; :func:`ess_notes` says why).
    """
    keys = ["elir", "moment", "morita"]
    logit = values.get("elir_logit")
    if "elir_logit" in values and (values.get("elir") is None or logit != values.get("elir")):
        keys.append("elir_logit")
    return "ESS: " + ", ".join(f"{ESS_NAMES[k]} {number(values.get(k))}" for k in keys)


def ess_lines(mix: BetaMixture) -> list[str]:
    """The ESS line of ``mix`` followed by a note for every edge case (:func:`ess_notes`)."""
    from hlhbayes.design.ess import ess

    values = ess(mix)
    return [ess_line(values), *(note_lines(n) for n in ess_notes(mix, values))]


_UNBROKEN = re.compile(r"Beta\([^)]*\)|a \+ b( = )?|[ap] = \S+")
_NBSP = "\u00a0"


def note_lines(note: str) -> str:
    """``note: ...`` wrapped to :data:`NOTE_WIDTH`, never inside ``Beta(a, b)`` or ``p = 0``."""
    kept = _UNBROKEN.sub(lambda m: m.group(0).replace(" ", _NBSP), note)
    wrapped = textwrap.fill(
        kept,
        NOTE_WIDTH,
        initial_indent="note: ",
        subsequent_indent="      ",
        break_on_hyphens=False,
    )
    return wrapped.replace(_NBSP, " ")


# ---------------------------------------------------------------------- ESS in plain words
ELIR_MEANING = (
    "it averages the curvature of the prior's log density over the prior, in units of the "
    "information one patient's outcome carries"
)


def _beta(mix: BetaMixture, k: int) -> str:
    return f"Beta({compact(mix.a[k])}, {compact(mix.b[k])})"


def _components(mix: BetaMixture, idx: Sequence[int]) -> str:
    """``component 2 (Beta(2.46, 1))`` or ``components 2 and 3 (Beta(2.46, 1), Beta(1, 1))``."""
    numbers = [str(k + 1) for k in idx]
    if len(numbers) == 1:
        label = f"component {numbers[0]}"
    else:
        label = f"components {', '.join(numbers[:-1])} and {numbers[-1]}"
    return f"{label} ({', '.join(_beta(mix, k) for k in idx)})"


def _sequence(values: Sequence[str]) -> str:
    return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} and {values[-1]}"


def _instead(values: Mapping[str, float | None]) -> str:
    """Which ESS to quote instead of an undefined or degenerate ELIR."""
    moment = f"the moment ESS, {number(values['moment'])}, conservative"
    logit = values.get("elir_logit")
    if logit is None or logit < 0:
        return f"Quote {moment}."
    return (
        f"Quote the ELIR on the logit scale, {number(logit)}, which counts every Beta(a, b) as "
        f"a + b and equals the ELIR when all shapes exceed 1 (or {moment})."
    )


def _edges(zero: bool, one: bool) -> str:
    """``p = 0``, ``p = 1`` or ``p = 0 and p = 1``."""
    return " and ".join(e for e, hit in (("p = 0", zero), ("p = 1", one)) if hit)


def ess_notes(mix: BetaMixture, values: Mapping[str, float | None] | None = None) -> list[str]:
    """Plain-word notes on every ESS of ``mix`` that is undefined, degenerate or negative.

    - a shape below 1: the ELIR is undefined (its integral diverges);
    - a shape equal to 1: the ELIR credits that component with less than a + b and jumps
      there (:func:`hlhbayes.design.ess.elir_credit`); it may even be negative;
    - a negative ELIR for any other reason;
    - the Morita ESS undefined (the prior's mode at 0 or 1).

    Each note says what the ESS measures, why it fails here and which ESS to quote instead.
    """
    from hlhbayes.design.ess import elir_credit, ess, ess_elir_logit, ess_morita
    from hlhbayes.errors import HlhBayesError

    values = ess(mix) if values is None else values
    used = mix.weights > 0
    below = [int(k) for k in np.flatnonzero(used & ((mix.a < 1) | (mix.b < 1)))]
    at_one = [int(k) for k in np.flatnonzero(used & ((mix.a == 1) | (mix.b == 1)))]
    elir = values.get("elir")
    notes = []
    if below:
        one = len(below) == 1
        note = (
            f"ELIR is undefined here: {ELIR_MEANING}, and {_components(mix, below)} "
            f"{'has a shape' if one else 'have shapes'} below 1, so the density rises without "
            f"limit at {_edges(any(mix.a[below] < 1), any(mix.b[below] < 1))}, its log density curves upwards there and the "
            "average diverges (RBesT refuses it too). "
        )
        if values.get("elir_logit") is None:
            try:
                ess_elir_logit(mix)
            except HlhBayesError as exc:
                note += f"{exc}. "
        notes.append(note + _instead(values))
    elif at_one:
        credit = elir_credit(mix)
        one = len(at_one) == 1
        head = "ELIR is degenerate here"
        if elir is not None and elir < 0:
            head = f"ELIR is negative ({number(elir)}), which no sample size can be, and degenerate"
        patients = "patient" if one and credit[at_one[0]] == 1 else "patients"
        notes.append(
            f"{head}: {ELIR_MEANING}, and a beta with a shape equal to 1 has no curvature on that "
            f"side, so ELIR credits {_components(mix, at_one)} with "
            f"{_sequence([compact(credit[k]) for k in at_one])} {patients} instead of a + b = "
            f"{_sequence([compact(mix.a[k] + mix.b[k]) for k in at_one])}, jumping at 1 (a shape "
            f"just above 1 counts in full). {_instead(values)}"
        )
    elif elir is not None and elir < 0:
        notes.append(
            f"ELIR is negative ({number(elir)}), which no sample size can be: {ELIR_MEANING}, and "
            "this prior's log density curves upwards between its components over much of its "
            "mass. Describe the prior by its components, or quote the moment ESS, "
            f"{number(values['moment'])}, conservative."
        )
    if values.get("morita") is None:
        try:
            ess_morita(mix)
        except HlhBayesError as exc:
            notes.append(f"{exc}.")
    return notes


# ---------------------------------------------------------------------- the EM fit
def fit_notes(fit: MixtureFit) -> list[str]:
    """Plain-word notes on an EM fit: shapes held at a bound, and an EM that did not converge."""
    notes = []
    held = fit.at_bounds()
    lower = [h for h in held if h["bound"] == "lower"]
    if lower:
        by_component: dict[int, list[str]] = {}
        for h in lower:
            by_component.setdefault(h["component"], []).append(h["parameter"])
        parts = [
            f"component {k} has {' and '.join(f'{p} = {compact(fit.lower)}' for p in ps)}"
            for k, ps in by_component.items()
        ]
        zero = any(h["parameter"] == "a" for h in lower)
        one = any(h["parameter"] == "b" for h in lower)
        notes.append(
            f"{_sequence(parts)}: the lower bound of the fit, which keeps every shape at or above "
            f"{compact(fit.lower)} (as RBesT's default, constrain_gt1). The draws would take "
            f"{'it' if len(lower) == 1 else 'them'} lower, towards a density rising without limit "
            f"at {_edges(zero, one)}; the mixture is the best fit within the bound. Compare it "
            "with the draws (the summary, the figure); --unconstrained fits without the bound "
            "(the ELIR is then undefined, the ELIR on the logit scale is not)."
        )
    upper = [h for h in held if h["bound"] == "upper"]
    if upper:
        parts = [
            f"component {h['component']} has {h['parameter']} = {number(h['value'])}" for h in upper
        ]
        notes.append(
            f"{_sequence(parts)}: the upper bound of the fit; the draws in "
            f"{'that component' if len(upper) == 1 else 'those components'} are almost identical."
        )
    if not fit.converged:
        notes.append(
            f"the EM fit of {fit.mixture.n_components} component"
            f"{'s' if fit.mixture.n_components > 1 else ''} stopped after {fit.iterations} "
            "iterations without converging (its log-likelihood was still rising); compare the "
            "mixture with the draws before using it."
        )
    return notes


# ---------------------------------------------------------------------- prose
def describe_prior(mix: BetaMixture) -> str:
    """``2-component beta mixture, mean 0.259, sd 0.0842`` (or ``Beta(0.5, 1), ...``)."""
    head = _beta(mix, 0) if mix.n_components == 1 else f"{mix.n_components}-component beta mixture"
    return f"{head}, mean {rate(mix.mean())}, sd {number(mix.sd())}"


def describe_with_ess(mix: BetaMixture) -> str:
    """:func:`describe_prior`, the ESS line and its notes (:func:`ess_lines`)."""
    first, *notes = ess_lines(mix)
    return "\n".join([f"{describe_prior(mix)}; {first}", *notes])


def posterior_payload(
    prior: BetaMixture, post: BetaMixture, responders: int, n: int
) -> dict[str, Any]:
    """The JSON form of ``hlhbayes design posterior`` (full precision)."""
    from hlhbayes.design.ess import ess

    values = {"prior": ess(prior), "posterior": ess(post)}
    return {
        "prior": prior.components(),
        "responders": responders,
        "n": n,
        "posterior": post.components(),
        "summary": {"prior": prior.summary(), "posterior": post.summary()},
        "ess": values,
        "ess_notes": {
            "prior": ess_notes(prior, values["prior"]),
            "posterior": ess_notes(post, values["posterior"]),
        },
    }


def boundary_sentence(boundary: int | None, n: int, lower_tail: bool) -> str:
    """``boundary: 9; success with at least 9 responders of 30`` (or ``at most``, or none)."""
    if boundary is None:
        return f"boundary: none; no outcome out of {n} succeeds"
    word = "at most" if lower_tail else "at least"
    return f"boundary: {boundary}; success with {word} {boundary} responders of {n}"


def size_payload(size: SampleSize, rate: float) -> dict[str, object]:
    """The JSON form of a single-arm sample-size search."""
    return {
        "target_power": size.target_power,
        "rate": rate,
        "n": size.n,
        "power": size.power,
        "n_stable": size.n_stable,
        "n_max": size.n_max,
        "scan": size.scan,
    }


def size_sentence(size: SampleSize, where: str, what: str) -> str:
    """One line: the smallest size reaching the target, and where the power stays above it."""
    if size.n is None:
        return (
            f"power {size.target_power:g} at {where} is not reached for {what} up to {size.n_max}"
        )
    out = (
        f"smallest {what} with power >= {size.target_power:g} at {where}: {size.n} "
        f"(power {probability(size.power)})"
    )
    if size.n_stable is not None and size.n_stable != size.n:
        out += (
            f"; power dips below the target again until {what} = {size.n_stable} "
            f"(stays above up to {size.n_max})"
        )
    return out
