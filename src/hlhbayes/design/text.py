"""Plain-text renderings of priors, ESS and operating characteristics (the CLI's tables)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from hlhbayes.design.decision import Rule2S
from hlhbayes.design.mixture import BetaMixture
from hlhbayes.design.oc import SampleSize

SUMMARY_KEYS = ("mean", "sd", "q2.5", "q50", "q97.5")
SUMMARY_HEADERS = ("mean", "sd", "2.5%", "50%", "97.5%")


def _num(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def mixture_table(mix: BetaMixture) -> str:
    """One row per component: weight, a, b and the component mean."""
    lines = [f"{'comp':>4}  {'w':>9}  {'a':>11}  {'b':>11}  {'mean':>7}"]
    for k in range(mix.n_components):
        a, b = mix.a[k], mix.b[k]
        lines.append(
            f"{k + 1:>4}  {mix.weights[k]:>9.7f}  {a:>11.7f}  {b:>11.7f}  {a / (a + b):>7.4f}"
        )
    return "\n".join(lines)


def summary_table(rows: Iterable[tuple[str, Mapping[str, float]]]) -> str:
    """Rows of mean, sd and 2.5/50/97.5% quantiles."""
    rows = list(rows)
    width = max([7, *(len(name) for name, _ in rows)])
    lines = [f"{'':<{width}}" + "".join(f"{h:>9}" for h in SUMMARY_HEADERS)]
    for name, values in rows:
        lines.append(f"{name:<{width}}" + "".join(f"{values[k]:>9.4f}" for k in SUMMARY_KEYS))
    return "\n".join(lines)


def ess_line(values: Mapping[str, float | None]) -> str:
    """``ESS: ELIR 36.8, moment 26.0, Morita 62.7`` (``-`` where undefined)."""
    names = {"elir": "ELIR", "moment": "moment", "morita": "Morita"}
    parts = [f"{names[k]} {_num(values.get(k), 1)}" for k in ("elir", "moment", "morita")]
    return "ESS: " + ", ".join(parts)


def describe_prior(mix: BetaMixture) -> str:
    """``2-component beta mixture, mean 0.2586, sd 0.0842`` (or ``Beta(0.5, 1)``)."""
    if mix.n_components == 1:
        return f"Beta({mix.a[0]:g}, {mix.b[0]:g}), mean {mix.mean():.4f}, sd {mix.sd():.4f}"
    return f"{mix.n_components}-component beta mixture, mean {mix.mean():.4f}, sd {mix.sd():.4f}"


def records_table(
    records: Sequence[Mapping[str, object]], columns: Sequence[tuple[str, str]]
) -> str:
    """An aligned table of ``records``; ``columns`` are ``(key, header)`` pairs."""
    cells = [[_cell(r.get(key)) for key, _ in columns] for r in records]
    widths = [
        max(len(header), *(len(row[i]) for row in cells)) if cells else len(header)
        for i, (_, header) in enumerate(columns)
    ]
    lines = ["  ".join(f"{h:>{w}}" for (_, h), w in zip(columns, widths, strict=True))]
    lines += ["  ".join(f"{c:>{w}}" for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def describe_with_ess(mix: BetaMixture) -> str:
    """:func:`describe_prior` followed by the ESS line."""
    from hlhbayes.design.ess import ess

    return f"{describe_prior(mix)}; {ess_line(ess(mix))}"


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
        f"(power {size.power:.4f})"
    )
    if size.n_stable is not None and size.n_stable != size.n:
        out += (
            f"; power dips below the target again until {what} = {size.n_stable} "
            f"(stays above up to {size.n_max})"
        )
    return out


def oc2_report(
    rule: Rule2S,
    prior_t: BetaMixture,
    prior_c: BetaMixture,
    designs: Sequence[Mapping[str, Any]],
    lower_tail: bool,
) -> str:
    """The table form of ``hlhbayes design oc2``: priors, then per design boundary and OC."""
    lines = [
        f"two arms: success if {rule.describe()}",
        f"treatment prior: {describe_with_ess(prior_t)}",
        f"control prior:   {describe_with_ess(prior_c)}",
    ]
    word = "at most" if lower_tail else "at least"
    for entry in designs:
        b = entry["boundary"]
        never = "-1" if lower_tail else entry["n_treatment"] + 1
        lines += [
            "",
            f"design n_treat = {entry['n_treatment']}, n_control = {entry['n_control']}",
            f"boundary (success with {word} b treatment responders; {never} = never):",
            "  y_c: " + " ".join(f"{i:>3}" for i in range(len(b))),
            "  b:   " + " ".join(f"{v:>3}" for v in b),
        ]
        for item in entry.get("delta_for_target", []):
            d = item["delta"]
            value = "not reached" if d is None else f"{d:.4f}"
            lines.append(
                f"difference with power {entry['target_power']:g} at p_c = "
                f"{item['rate_control']:.4g}: {value}"
            )
        lines.append(f"{'p_t':>7} {'p_c':>7} {'p_t - p_c':>9}  P(success)")
        for r in entry["oc"]:
            diff = r["rate_treatment"] - r["rate_control"]
            lines.append(
                f"{r['rate_treatment']:>7.3f} {r['rate_control']:>7.3f} {diff:>9.3f}  "
                f"{r['probability_success']:.4f}"
            )
    return "\n".join(lines)
