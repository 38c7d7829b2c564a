"""``hlhbayes design``: priors from the evidence, decisions, operating characteristics, sample size.

Every command that takes a prior accepts a JSON prior file (``[{"w": ..., "a": ..., "b": ...}]``,
as written by ``design map`` and ``design robustify``), ``beta:A,B`` or ``mix:W,A,B+W,A,B+...``.
Results go to stdout, messages to stderr; bad input exits with status 1 and one ``error:`` line.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import click
import numpy as np

from hlhbayes.cli.common import emit_json, emit_payload
from hlhbayes.cli.options import (
    PROBABILITY,
    cell_option,
    output_file_option,
    plot_options,
    quiet_option,
    table_format_option,
)
from hlhbayes.errors import HlhBayesError
from hlhbayes.quoting import quoted

PRIOR_HELP = "JSON prior file, beta:A,B or mix:W,A,B+W,A,B+..."


# ---------------------------------------------------------------------- helpers
def _prior(text: str | None, option: str) -> Any:
    from hlhbayes.design.mixture import load_prior

    if text is None:
        raise HlhBayesError(f"{option} is required")
    return load_prior(text)


def _grid(text: str | None, option: str) -> np.ndarray | None:
    """``0.1,0.2,0.3`` or ``START:STOP:STEP`` (inclusive)."""
    if text is None:
        return None
    try:
        if ":" in text:
            start, stop, step = (float(v) for v in text.split(":"))
            if not step > 0 or stop < start:
                raise ValueError
            count = math.floor((stop - start) / step + 1e-9) + 1
            return np.round(start + step * np.arange(count), 12)
        return np.array([float(v) for v in text.split(",") if v.strip()], dtype=float)
    except ValueError:
        raise HlhBayesError(
            f"{option} {quoted(text)}: give numbers separated by commas, or START:STOP:STEP"
        ) from None


def _ints(text: str, option: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise HlhBayesError(
            f"{option} {quoted(text)}: give whole numbers separated by commas"
        ) from None
    if not values or any(v < 1 for v in values):
        raise HlhBayesError(f"{option} {quoted(text)}: sample sizes must be >= 1")
    return values


def _design_prior(text: str | None, option: str) -> Any:
    """A design prior: a fixed rate (a number) or a prior."""
    from hlhbayes.design.mixture import load_prior

    if text is None:
        return None
    try:
        rate = float(text)
    except ValueError:
        return load_prior(text)
    if not 0.0 <= rate <= 1.0:
        raise HlhBayesError(f"{option} {text}: a fixed rate must lie in [0, 1]")
    return rate


def _arms(single: dict[str, Any], double: dict[str, Any]) -> bool:
    """True for a two-arm call (options given, by name); refuse a mix of single and two arms."""
    one = [k for k, v in single.items() if v is not None]
    two = [k for k, v in double.items() if v is not None]
    if one and two:
        raise HlhBayesError(
            f"give either single-arm options ({', '.join(_flag(k) for k in one)}) or two-arm "
            f"options ({', '.join(_flag(k) for k in two)}), not both"
        )
    if not one and not two:
        raise HlhBayesError(
            "give --prior (single arm) or --prior-treat and --prior-control (two arms)"
        )
    return bool(two)


def _flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def _need(given: dict[str, Any], context: str) -> None:
    missing = [_flag(k) for k, v in given.items() if v is None]
    if missing:
        raise HlhBayesError(f"{context}: missing {', '.join(missing)}")


def _say(message: str, quiet: bool = False) -> None:
    if not quiet:
        click.echo(message, err=True)


def _rule_options(func: Any) -> Any:
    func = click.option(
        "--lower-tail",
        is_flag=True,
        help="Success means a LOW rate: P(p <= p0) > C (two arms: P(p_t - p_c <= delta) > C).",
    )(func)
    return click.option(
        "--prob",
        type=PROBABILITY,
        required=True,
        help="Posterior probability C that success requires (strictly exceeded).",
    )(func)


# ---------------------------------------------------------------------- group
@click.group(
    context_settings={"help_option_names": ["-h", "--help"]},
    short_help="Trial design: MAP priors, ESS, decisions, OC, sample size.",
)
def design() -> None:
    """Trial design: MAP priors, ESS, decisions, OC, sample size.

    From the evidence: MAP priors, effective sample sizes, posteriors, predictions, decisions,
    operating characteristics.

    Priors are JSON files ([{"w": ..., "a": ..., "b": ...}, ...], as written by map and
    robustify), beta:A,B or mix:W,A,B+W,A,B+... Everything is exact (conjugate updates,
    binomial sums, one-dimensional integrals); nothing is simulated.
    """


# ---------------------------------------------------------------------- map
@design.command("map")
@click.argument("run", type=click.Path(path_type=Path))
@cell_option("Etiology cell (etiology-line runs).", "Line cell (etiology-line runs).")
@click.option(
    "--components",
    type=click.IntRange(1, 4),
    help="Number of mixture components (default: 1-4 chosen by AIC with penalty 6).",
)
@click.option(
    "--robust",
    "robust_weight",
    type=PROBABILITY,
    help="Robustify: add a vague Beta component with this weight (e.g. 0.2).",
)
@click.option(
    "--robust-mean",
    type=PROBABILITY,
    help="Mean of the vague component (default 0.5, i.e. Beta(1,1)); needs --robust.",
)
@output_file_option("Prior file to write (default RUN/map-<etiology>-<line>.json).")
@click.option(
    "--unconstrained",
    is_flag=True,
    help="Let the shapes a, b go below 1 (RBesT's constrain_gt1 = FALSE); the ELIR is then "
    "undefined where one does, the ELIR on the logit scale is not.",
)
@plot_options("Figure of draws vs mixture (default: the prior file with .png).")
@table_format_option()
@quiet_option
def map_cmd(
    run: Path,
    etiology: str | None,
    line: str | None,
    components: int | None,
    robust_weight: float | None,
    robust_mean: float | None,
    unconstrained: bool,
    output: Path | None,
    plot: Path | None,
    no_plot: bool,
    fmt: str,
    quiet: bool,
) -> None:
    """MAP prior of a fitted run as a beta mixture, with its ESS.

    Fits the MAP prior of one cell of a run by a beta mixture and saves it as a prior file.

    The draws of rate_new[etiology, line] (the response rate of a new study) are fitted by a
    mixture of 1-4 beta distributions (EM; number of components by AIC with penalty 6 unless
    --components; shapes kept at or above 1 unless --unconstrained, with a note when one sits
    at that bound). Prints the fit, the mixture against the draws and the effective sample
    size; writes the prior file (the robust mixture if --robust) and a figure.
    """
    from hlhbayes.cli.design_output import print_map
    from hlhbayes.design.map_prior import load_map_draws, map_prior
    from hlhbayes.design.mixture import BetaMixture
    from hlhbayes.design.plots import plot_map_fit
    from hlhbayes.support.words import rests_on_line

    if robust_mean is not None and robust_weight is None:
        raise HlhBayesError("--robust-mean needs --robust WEIGHT")
    vague_mean = 0.5 if robust_mean is None else robust_mean
    if robust_weight is not None:  # check the options before the (slow) fit
        BetaMixture.beta(1, 1).robustify(robust_weight, vague_mean)
    src = load_map_draws(run, etiology, line)
    if src.converged is False:
        click.echo(
            f"warning: {run} did not pass its convergence checks; the MAP prior inherits that",
            err=True,
        )
    out = output or (Path(run) / f"map-{src.cell}.json")
    if out.exists() and out.is_dir():
        raise HlhBayesError(f"--output {out}: is a folder")
    what = f"{components}" if components else "1-4"
    _say(f"fitting {what}-component beta mixtures to {src.draws.size} draws of {src.label}", quiet)
    result = map_prior(
        src.draws,
        components=components,
        robust_weight=robust_weight,
        robust_mean=vague_mean,
        constrain_gt1=not unconstrained,
    )
    result.final.save(out)
    if not no_plot:
        plot = plot or out.with_suffix(".png")
        plot_map_fit(
            result.draws, result.mixture, plot, title=f"MAP prior {src.label}", robust=result.robust
        )
    else:
        plot = None
    _say(f"wrote prior {out}" + (f" and figure {plot}" if plot else ""), quiet)
    if fmt != "table":
        payload = {
            "run": str(run),
            "quantity": src.label,
            "etiology": src.etiology,
            "line": src.line,
            **result.to_dict(),
            "prior_file": str(out),
            "saved": "robust" if result.robust is not None else "map",
            "plot": None if plot is None else str(plot),
            "support": src.support,
        }
        emit_payload(payload, fmt)
        return
    rests_on = rests_on_line(src.support) if src.support is not None else None
    print_map(result, src.label, run, rests_on, robust_weight)


# ---------------------------------------------------------------------- ess / robustify
@design.command("ess", short_help="Effective sample size of a prior.")
@click.option("--prior", "prior_text", required=True, metavar="PRIOR", help=PRIOR_HELP)
@table_format_option()
def ess_cmd(prior_text: str, fmt: str) -> None:
    """Effective sample size of a prior (ELIR, moment, Morita, logit ELIR).

    How many patients the prior is worth. ELIR (expected local-information ratio,
    Neuenschwander et al. 2020) is RBesT's default and predictively consistent; moment
    matching is conservative, Morita (at the mode) liberal for mixtures. The ELIR on the logit
    scale equals the ELIR when every shape exceeds 1 and stays meaningful where one is 1 or
    less.

    Where a method is undefined (null in JSON), degenerate (a shape equal to 1) or negative, a
    note says why in plain words and which ESS to quote instead.
    """
    from hlhbayes.cli.design_output import print_ess
    from hlhbayes.design import text
    from hlhbayes.design.ess import ess

    mix = _prior(prior_text, "--prior")
    values = ess(mix)
    notes = text.ess_notes(mix, values)
    if fmt != "table":
        emit_payload({**values, "notes": notes}, fmt)
        return
    click.echo(f"prior: {text.describe_prior(mix)}")
    print_ess(values, notes)


@design.command("robustify")
@click.option("--prior", "prior_text", required=True, metavar="PRIOR", help=PRIOR_HELP)
@click.option(
    "--weight", type=PROBABILITY, required=True, help="Weight of the vague component (0-1)."
)
@click.option("--mean", type=float, default=0.5, show_default=True, help="Its mean.")
@click.option(
    "--n",
    "n_obs",
    type=float,
    default=1.0,
    show_default=True,
    help="Its size: Beta(mean*(n+1), (1-mean)*(n+1)) as RBesT (n=1, mean 0.5: Beta(1,1)).",
)
@output_file_option("Prior file to write.", required=True)
@table_format_option()
def robustify_cmd(
    prior_text: str, weight: float, mean: float, n_obs: float, output: Path, fmt: str
) -> None:
    """Add a vague component to a prior.

    The robust MAP prior of Schmidli et al. (2014), saved as a prior file.

    The prior's weights are scaled by (1 - WEIGHT) and Beta(MEAN (n+1), (1-MEAN)(n+1)) gets
    WEIGHT: with the defaults, Beta(1, 1).
    """
    from hlhbayes.cli.design_output import print_ess_lines, print_mixture
    from hlhbayes.design import text
    from hlhbayes.design.ess import ess

    mix = _prior(prior_text, "--prior").robustify(weight, mean, n_obs)
    mix.save(output)
    click.echo(f"wrote prior {output}", err=True)
    if fmt != "table":
        values = ess(mix)
        emit_payload(
            {
                "mixture": mix.components(),
                "ess": values,
                "ess_notes": text.ess_notes(mix, values),
                "prior_file": str(output),
            },
            fmt,
        )
        return
    click.echo(f"robust prior: {text.describe_prior(mix)}")
    print_mixture(mix)
    print_ess_lines(mix)


# ---------------------------------------------------------------------- posterior / predictive
@design.command("posterior")
@click.option("--prior", "prior_text", required=True, metavar="PRIOR", help=PRIOR_HELP)
@click.option("--responders", type=click.IntRange(0), required=True, help="Responders observed.")
@click.option("--n", "n", type=click.IntRange(1), required=True, help="Patients observed.")
@output_file_option("Save the posterior as a prior file (for design predictive, decide, oc, ...).")
@table_format_option()
def posterior_cmd(prior_text: str, responders: int, n: int, output: Path | None, fmt: str) -> None:
    """The posterior mixture after observed data (RBesT postmix).

    Exact and conjugate: each component Beta(a, b) becomes Beta(a + r, b + n - r), and its
    weight is multiplied by the probability of r responders out of n under that component (its
    beta-binomial marginal likelihood), then rescaled so that the weights sum to 1. Prints the
    posterior mixture beside the prior weights, its summary against the prior's and the
    effective sample sizes.

    \b
    Example: hlhbayes design posterior --prior map.json --responders 12 --n 20 --output post.json
    """  # noqa: D301 - \b is click's no-rewrap marker
    from hlhbayes.cli.design_output import print_posterior
    from hlhbayes.design import text

    prior = _prior(prior_text, "--prior")
    if responders > n:
        raise HlhBayesError(f"--responders {responders}: more than --n {n}")
    post = prior.posterior(responders, n)
    if output is not None:
        post.save(output)
        click.echo(f"wrote prior {output}", err=True)
    if fmt != "table":
        emit_payload(
            {**text.posterior_payload(prior, post, responders, n), "prior_file": output}, fmt
        )
        return
    print_posterior(prior, post, responders, n)


@design.command(
    "predictive", short_help="Predictive distribution of future responders (RBesT preddist)."
)
@click.option(
    "--prior",
    "prior_text",
    required=True,
    metavar="PRIOR",
    help="The response rate's distribution: a prior, or a posterior saved by design posterior "
    "--output. " + PRIOR_HELP,
)
@click.option("--n", "n", type=click.IntRange(1), required=True, help="Future patients.")
@plot_options("Figure: P(Y = y) as bars, P(Y <= y) as a step line.")
@table_format_option()
def predictive_cmd(prior_text: str, n: int, plot: Path | None, no_plot: bool, fmt: str) -> None:
    """Predictive distribution of future responders (RBesT preddist).

    The number of responders Y among N future patients whose response rate follows PRIOR (a
    prior, or a posterior from design posterior --output): a mixture of beta-binomials, exact.
    Prints P(Y = y) and the cumulative P(Y <= y) for y = 0..N, with the mean, sd and 2.5, 50 and
    97.5% quantiles of Y.

    \b
    Example: hlhbayes design predictive --prior post.json --n 20 --plot predictive.png
    """  # noqa: D301 - \b is click's no-rewrap marker
    from hlhbayes.cli.design_output import print_predictive
    from hlhbayes.design import text
    from hlhbayes.design.plots import plot_predictive
    from hlhbayes.design.predictive import predictive

    mix = _prior(prior_text, "--prior")
    pred = predictive(mix, n)
    if plot and not no_plot:
        plot_predictive(pred, plot, f"responders among {n} future patients")
    if fmt == "json":
        emit_json({"n": n, "summary": pred.summary(), "distribution": pred.records()})
        return
    if fmt == "csv":
        click.echo("responders,probability,cumulative")
        for r in pred.records():
            click.echo(
                f"{r['responders']},{text.exact(r['probability'])},{text.exact(r['cumulative'])}"
            )
        return
    print_predictive(pred)


# ---------------------------------------------------------------------- decide
@design.command("decide")
@click.option("--prior", "prior", metavar="PRIOR", help="Single arm: the prior. " + PRIOR_HELP)
@click.option("--responders", type=click.IntRange(0), help="Single arm: responders observed.")
@click.option("--n", "n", type=click.IntRange(1), help="Single arm: patients.")
@click.option("--p0", type=PROBABILITY, help="Single arm: threshold rate p0.")
@click.option("--prior-treat", metavar="PRIOR", help="Two arms: treatment prior.")
@click.option("--prior-control", metavar="PRIOR", help="Two arms: control prior (e.g. the MAP).")
@click.option("--responders-treat", type=click.IntRange(0), help="Two arms: treatment responders.")
@click.option("--n-treat", type=click.IntRange(1), help="Two arms: treatment patients.")
@click.option("--responders-control", type=click.IntRange(0), help="Two arms: control responders.")
@click.option("--n-control", type=click.IntRange(1), help="Two arms: control patients.")
@click.option("--delta", type=float, help="Two arms: margin delta (default 0).")
@_rule_options
@plot_options("Figure of the prior(s) and posterior(s).")
@table_format_option()
def decide_cmd(
    prior: str | None,
    responders: int | None,
    n: int | None,
    p0: float | None,
    prior_treat: str | None,
    prior_control: str | None,
    responders_treat: int | None,
    n_treat: int | None,
    responders_control: int | None,
    n_control: int | None,
    delta: float | None,
    prob: float,
    lower_tail: bool,
    plot: Path | None,
    no_plot: bool,
    fmt: str,
) -> None:
    """The decision for observed data (one or two arms).

    The posterior probability of the rule, against the cut-off:

    \b
    single arm: success if P(p > p0 | data) > PROB        (--lower-tail: p <= p0)
    two arms:   success if P(p_t - p_c > delta | data) > PROB (--lower-tail: <= delta)
    """  # noqa: D301 - \b is click's no-rewrap marker
    from hlhbayes.design import text
    from hlhbayes.design.decision import Rule1S, Rule2S
    from hlhbayes.design.plots import plot_priors

    single = {"prior": prior, "responders": responders, "n": n, "p0": p0}
    double = {
        "prior_treat": prior_treat,
        "prior_control": prior_control,
        "responders_treat": responders_treat,
        "n_treat": n_treat,
        "responders_control": responders_control,
        "n_control": n_control,
    }
    if _arms(single, {**double, "delta": delta}):
        _need(double, "two arms")
        rule = Rule2S(prob, delta or 0.0, lower_tail)
        pt = _prior(prior_treat, "--prior-treat")
        pc = _prior(prior_control, "--prior-control")
        post_t = pt.posterior(responders_treat, n_treat)
        post_c = pc.posterior(responders_control, n_control)
        probability = rule.probability(post_t, post_c)
        posts = {"treatment": post_t, "control": post_c}
        curves = [
            ("treatment prior", pt),
            ("treatment posterior", post_t),
            ("control prior", pc),
            ("control posterior", post_c),
        ]
    else:
        _need(single, "single arm")
        rule = Rule1S(p0, prob, lower_tail)
        analysis = _prior(prior, "--prior")
        post = analysis.posterior(responders, n)
        probability = rule.probability(post)
        posts = {"posterior": post}
        curves = [("prior", analysis), ("posterior", post)]
    success = probability > rule.prob
    if plot and not no_plot:
        plot_priors(curves, plot, rule.describe())
    if fmt != "table":
        payload: dict[str, Any] = {
            "rule": rule.describe(),
            "probability": probability,
            "success": success,
        }
        for name, mix in posts.items():
            key = "posterior" if name == "posterior" else f"posterior_{name}"
            payload[key] = mix.components()
            payload[f"{key}_summary"] = mix.summary()
        emit_payload(payload, fmt)
        return
    for name, mix in posts.items():
        label = "posterior" if name == "posterior" else f"{name} posterior"
        click.echo(f"{label}: {text.describe_prior(mix)}")
    verdict = "success" if success else "no success"
    op = ">" if success else "<="
    shown = text.probability_against(probability, rule.prob)
    click.echo(f"{rule.quantity()} = {shown} {op} {rule.prob:g}: {verdict}")


# ---------------------------------------------------------------------- oc (single arm)
@design.command("oc")
@click.option("--prior", "prior_text", required=True, metavar="PRIOR", help=PRIOR_HELP)
@click.option("--n", "n", type=click.IntRange(1), help="Patients (or search it: --target-power).")
@click.option("--p0", type=PROBABILITY, required=True, help="Threshold rate p0 of the rule.")
@_rule_options
@click.option("--rates", help="True rates: R1,R2,... or START:STOP:STEP (default 0:1:0.01).")
@click.option(
    "--target-power", type=PROBABILITY, help="Search the smallest n reaching this power ..."
)
@click.option("--rate", "power_rate", type=PROBABILITY, help="... at this true rate.")
@click.option(
    "--n-max", type=click.IntRange(1), default=500, show_default=True, help="Search limit."
)
@plot_options("Figure: OC curve, decision boundary, prior vs posteriors.")
@table_format_option()
def oc_cmd(
    prior_text: str,
    n: int | None,
    p0: float,
    prob: float,
    lower_tail: bool,
    rates: str | None,
    target_power: float | None,
    power_rate: float | None,
    n_max: int,
    plot: Path | None,
    no_plot: bool,
    fmt: str,
) -> None:
    """Exact operating characteristics, single arm.

    No simulation: the boundary and binomial sums.

    Success if P(p > P0 | data) > PROB (--lower-tail: P(p <= P0 | data) > PROB). Prints the
    decision boundary (the fewest responders that succeed; with --lower-tail, the most), the
    type I error at P0 and the probability of success at each true rate, from the binomial
    distribution. With --target-power and --rate instead of --n, first finds the smallest n
    whose power at that rate reaches the target.
    """
    from hlhbayes.cli.design_output import print_oc
    from hlhbayes.design import text
    from hlhbayes.design.decision import Rule1S
    from hlhbayes.design.oc import oc_1s, sample_size_1s
    from hlhbayes.design.plots import plot_oc_1s

    prior = _prior(prior_text, "--prior")
    rule = Rule1S(p0, prob, lower_tail)
    size = None
    if target_power is not None or power_rate is not None:
        _need({"target_power": target_power, "power_rate": power_rate}, "sample-size search")
        if n is not None:
            raise HlhBayesError("give --n or --target-power with --rate, not both")
        size = sample_size_1s(prior, rule, power_rate, target_power, n_max=n_max)
        if size.n is None:
            raise HlhBayesError(
                f"power {target_power:g} at rate {power_rate:g} is not reached for any "
                f"n up to {n_max}; raise --n-max or revisit the rule"
            )
        n = size.n
    elif n is None:
        raise HlhBayesError("give --n, or --target-power with --rate to search it")
    oc = oc_1s(prior, n, rule, _grid(rates, "--rates"))
    if plot and not no_plot:
        plot_oc_1s(oc, plot)
    if fmt == "json":
        payload: dict[str, Any] = {
            "rule": rule.describe(),
            "n": n,
            "boundary": oc.design.boundary,
            "type_i_error": oc.type_i_error,
            "oc": oc.records(),
        }
        if size is not None:
            payload["sample_size"] = text.size_payload(size, power_rate)
        emit_json(payload)
        return
    if fmt == "csv":
        click.echo("rate,probability_success")
        for r in oc.records():
            click.echo(f"{text.exact(r['rate'])},{text.exact(r['probability_success'])}")
        return
    if size is not None:
        click.echo(text.size_sentence(size, f"rate {power_rate:g}", "n"))
    click.echo(f"single arm, n = {n}: success if {rule.describe()}")
    click.echo(f"prior: {text.describe_with_ess(prior)}")
    click.echo(text.boundary_sentence(oc.design.boundary, n, rule.lower_tail))
    click.echo(f"type I error (P(success) at p = {rule.p0:g}): {text.probability(oc.type_i_error)}")
    print_oc(oc.records())


# ---------------------------------------------------------------------- sample size
@design.command("sample-size")
@click.option("--prior", metavar="PRIOR", help="Single arm: the prior. " + PRIOR_HELP)
@click.option("--p0", type=PROBABILITY, help="Single arm: threshold rate p0.")
@click.option("--rate", type=PROBABILITY, help="Single arm: true rate at which power is required.")
@click.option("--prior-treat", metavar="PRIOR", help="Two arms: treatment prior.")
@click.option("--prior-control", metavar="PRIOR", help="Two arms: control prior (e.g. the MAP).")
@click.option("--rate-treat", type=PROBABILITY, help="Two arms: true treatment rate.")
@click.option("--rate-control", type=PROBABILITY, help="Two arms: true control rate.")
@click.option("--delta", type=float, help="Two arms: margin of the rule (default 0).")
@click.option("--ratio", type=float, help="Two arms: n_treat / n_control (default 1).")
@click.option(
    "--n-control", type=click.IntRange(1), help="Two arms: fix the control arm, search n_treat."
)
@_rule_options
@click.option("--target-power", type=PROBABILITY, required=True, help="Power to reach (e.g. 0.8).")
@click.option("--n-min", type=click.IntRange(1), default=1, show_default=True, help="Search from.")
@click.option("--n-max", type=click.IntRange(1), help="Search limit (default 500; two arms 300).")
@click.option(
    "--scan-all",
    is_flag=True,
    help="Two arms: evaluate every size up to --n-max (slower) to find where the power stays "
    "above the target (single arm always does).",
)
@table_format_option()
def sample_size_cmd(
    prior: str | None,
    p0: float | None,
    rate: float | None,
    prior_treat: str | None,
    prior_control: str | None,
    rate_treat: float | None,
    rate_control: float | None,
    delta: float | None,
    ratio: float | None,
    n_control: int | None,
    prob: float,
    lower_tail: bool,
    target_power: float,
    n_min: int,
    n_max: int | None,
    scan_all: bool,
    fmt: str,
) -> None:
    """Smallest sample size reaching a target power.

    The smallest n whose exact power at the given true rate(s) reaches the target.

    \b
    single arm: --prior --p0 --prob --rate --target-power
    two arms:   --prior-treat --prior-control --prob --rate-treat --rate-control
                --target-power [--delta] [--ratio R | --n-control N]

    Power saw-tooths in n (discrete outcomes): the single-arm search also reports from which n
    on the power stays above the target (up to --n-max); the two-arm search does with --scan-all.
    """  # noqa: D301 - \b is click's no-rewrap marker
    from hlhbayes.design import text
    from hlhbayes.design.decision import Rule1S, Rule2S
    from hlhbayes.design.oc import sample_size_1s, sample_size_2s

    single = {"prior": prior, "p0": p0, "rate": rate}
    double = {
        "prior_treat": prior_treat,
        "prior_control": prior_control,
        "rate_treat": rate_treat,
        "rate_control": rate_control,
    }
    extra = {"delta": delta, "ratio": ratio, "n_control": n_control}
    if not _arms(single, {**double, **extra}):
        _need(single, "single arm")
        rule = Rule1S(p0, prob, lower_tail)
        size = sample_size_1s(
            _prior(prior, "--prior"),
            rule,
            rate,
            target_power,
            n_min=n_min,
            n_max=n_max or 500,
        )
        payload = {"arms": 1, "rule": rule.describe(), **text.size_payload(size, rate)}
        sentence = text.size_sentence(size, f"rate {rate:g}", "n")
    else:
        _need(double, "two arms")
        if ratio is not None and n_control is not None:
            raise HlhBayesError("give --ratio or --n-control, not both")
        rule = Rule2S(prob, delta or 0.0, lower_tail)
        size = sample_size_2s(
            _prior(prior_treat, "--prior-treat"),
            _prior(prior_control, "--prior-control"),
            rule,
            rate_treat,
            rate_control,
            target_power,
            ratio=ratio or 1.0,
            n_control=n_control,
            n_min=n_min,
            n_max=n_max or 300,
            scan_all=scan_all,
        )
        chosen = size.scan[size.n - n_min] if size.n is not None else {}
        payload = {
            "arms": 2,
            "rule": rule.describe(),
            "target_power": size.target_power,
            "rate_treatment": rate_treat,
            "rate_control": rate_control,
            "n_treatment": chosen.get("n_treatment"),
            "n_control": chosen.get("n_control"),
            "power": size.power,
            "n_stable": size.n_stable,
            "n_max": size.n_max,
            "scan": size.scan,
        }
        searched = "n_treat" if n_control is not None else "n_control"
        rates = f"p_t = {rate_treat:g}, p_c = {rate_control:g}"
        sentence = text.size_sentence(size, rates, searched)
        if size.n is not None:
            sentence += f": n_treat = {payload['n_treatment']}, n_control = {payload['n_control']}"
    if fmt != "table":
        emit_payload(payload, fmt)
        return
    click.echo(f"rule: success if {rule.describe()}")
    click.echo(sentence)


# ---------------------------------------------------------------------- oc2 (two arms)
@design.command("oc2")
@click.option(
    "--prior-treat", required=True, metavar="PRIOR", help="Treatment prior. " + PRIOR_HELP
)
@click.option(
    "--prior-control", required=True, metavar="PRIOR", help="Control prior (e.g. the MAP)."
)
@click.option("--n-treat", required=True, help="Treatment sample size(s): N or N1,N2,...")
@click.option("--n-control", required=True, help="Control sample size(s): N or N1,N2,...")
@click.option(
    "--delta", type=float, default=0.0, show_default=True, help="Margin delta of the rule."
)
@_rule_options
@click.option(
    "--rate-control",
    help="True control rate(s) (default: the control prior's mean): R or R1,R2,...",
)
@click.option("--rates-treat", help="True treatment rates: R1,... or START:STOP:STEP.")
@click.option(
    "--differences",
    help="True differences p_t - p_c instead (default 0 to 1 - p_c by 0.01; with --lower-tail "
    "0 down to -p_c).",
)
@click.option(
    "--target-power",
    type=PROBABILITY,
    help="Also find, per design and control rate, the true difference with this power.",
)
@plot_options("Figure: OC curves against the difference, decision boundaries.")
@table_format_option()
def oc2_cmd(
    prior_treat: str,
    prior_control: str,
    n_treat: str,
    n_control: str,
    delta: float,
    prob: float,
    lower_tail: bool,
    rate_control: str | None,
    rates_treat: str | None,
    differences: str | None,
    target_power: float | None,
    plot: Path | None,
    no_plot: bool,
    fmt: str,
) -> None:
    """Exact operating characteristics, two arms.

    Treatment against control.

    Success if P(p_t - p_c > DELTA | data) > PROB (--lower-tail: <= DELTA), with independent
    beta-mixture priors per arm (e.g. the MAP prior for control). For every design (each
    --n-treat with each --n-control) the decision boundary is computed once (exact posterior
    probabilities by numerical integration), then the probability of success at every pair of
    true rates exactly from binomial sums.
    """
    from hlhbayes.cli.design_output import print_oc2
    from hlhbayes.design import text
    from hlhbayes.design.decision import Rule2S
    from hlhbayes.design.oc import Design2S, oc_2s_table
    from hlhbayes.design.plots import plot_oc_2s

    pt = _prior(prior_treat, "--prior-treat")
    pc = _prior(prior_control, "--prior-control")
    rule = Rule2S(prob, delta, lower_tail)
    controls = _grid(rate_control, "--rate-control")
    if controls is None:
        controls = np.array([pc.mean()])
    designs = [
        Design2S(pt, pc, nt, nc, rule)
        for nt in _ints(n_treat, "--n-treat")
        for nc in _ints(n_control, "--n-control")
    ]
    table = oc_2s_table(
        designs,
        controls,
        _grid(rates_treat, "--rates-treat"),
        _grid(differences, "--differences"),
        target_power,
    )
    if plot and not no_plot:
        plot_oc_2s(designs, table.curves, plot)
    if fmt == "json":
        emit_json({"rule": rule.describe(), "designs": table.designs})
        return
    if fmt == "csv":
        click.echo("n_treatment,n_control,rate_treatment,rate_control,probability_success")
        for r in table.rows:
            click.echo(
                f"{r['n_treatment']},{r['n_control']},{text.exact(r['rate_treatment'])},"
                f"{text.exact(r['rate_control'])},{text.exact(r['probability_success'])}"
            )
        return
    print_oc2(rule, pt, pc, table.designs, lower_tail)


# ---------------------------------------------------------------------- pos
@design.command("pos")
@click.option("--prior", metavar="PRIOR", help="Single arm: analysis prior. " + PRIOR_HELP)
@click.option("--n", "n", type=click.IntRange(1), help="Single arm: patients.")
@click.option("--p0", type=PROBABILITY, help="Single arm: threshold rate p0.")
@click.option(
    "--design-prior",
    metavar="PRIOR|RATE",
    help="Single arm: distribution of the true rate (default: the analysis prior).",
)
@click.option("--prior-treat", metavar="PRIOR", help="Two arms: treatment analysis prior.")
@click.option("--prior-control", metavar="PRIOR", help="Two arms: control analysis prior.")
@click.option("--n-treat", type=click.IntRange(1), help="Two arms: treatment patients.")
@click.option("--n-control", type=click.IntRange(1), help="Two arms: control patients.")
@click.option("--delta", type=float, help="Two arms: margin delta (default 0).")
@click.option(
    "--design-treat",
    metavar="PRIOR|RATE",
    help="Two arms: true treatment rate's distribution, or a fixed rate (default: its prior).",
)
@click.option(
    "--design-control",
    metavar="PRIOR|RATE",
    help="Two arms: true control rate's distribution, e.g. the MAP (default: its prior).",
)
@_rule_options
@table_format_option()
def pos_cmd(
    prior: str | None,
    n: int | None,
    p0: float | None,
    design_prior: str | None,
    prior_treat: str | None,
    prior_control: str | None,
    n_treat: int | None,
    n_control: int | None,
    delta: float | None,
    design_treat: str | None,
    design_control: str | None,
    prob: float,
    lower_tail: bool,
    fmt: str,
) -> None:
    """Probability of success (assurance) of a planned trial.

    The power averaged over a design prior.

    The design prior says what the true rate(s) may be; for a control arm, the MAP prior is
    the natural choice. Exact: a sum of the design prior's beta-binomial predictive over the
    design's success region. A fixed rate (a number) instead of a prior gives the power.
    """
    from hlhbayes.design import text
    from hlhbayes.design.decision import Rule1S, Rule2S
    from hlhbayes.design.oc import Design1S, Design2S
    from hlhbayes.design.pos import pos_1s, pos_2s

    single = {"prior": prior, "n": n, "p0": p0}
    double = {
        "prior_treat": prior_treat,
        "prior_control": prior_control,
        "n_treat": n_treat,
        "n_control": n_control,
    }
    extra = {"delta": delta, "design_treat": design_treat, "design_control": design_control}
    if _arms({**single, "design_prior": design_prior}, {**double, **extra}):
        _need(double, "two arms")
        rule = Rule2S(prob, delta or 0.0, lower_tail)
        d2 = Design2S(
            _prior(prior_treat, "--prior-treat"),
            _prior(prior_control, "--prior-control"),
            n_treat,
            n_control,
            rule,
        )
        value = pos_2s(
            d2,
            _design_prior(design_treat, "--design-treat"),
            _design_prior(design_control, "--design-control"),
        )
        payload = {
            "arms": 2,
            "rule": rule.describe(),
            "n_treatment": d2.n_t,
            "n_control": d2.n_c,
            "probability_of_success": value,
        }
        what = f"two arms {d2.n_t}:{d2.n_c}"
    else:
        _need(single, "single arm")
        rule = Rule1S(p0, prob, lower_tail)
        d1 = Design1S(_prior(prior, "--prior"), n, rule)
        value = pos_1s(d1, _design_prior(design_prior, "--design-prior"))
        payload = {
            "arms": 1,
            "rule": rule.describe(),
            "n": d1.n,
            "boundary": d1.boundary,
            "probability_of_success": value,
        }
        what = f"single arm, n = {d1.n}"
    if fmt != "table":
        emit_payload(payload, fmt)
        return
    click.echo(f"{what}: success if {rule.describe()}")
    click.echo(f"probability of success: {text.probability(value)}")
