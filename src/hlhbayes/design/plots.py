"""Figures for trial design: MAP fit, operating characteristics, boundaries, prior vs posterior.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no global backend switch), so
they work headless and never disturb another figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from hlhbayes.design.mixture import BetaMixture, FloatArray
from hlhbayes.design.oc import OC1S, Design2S
from hlhbayes.design.predictive import Predictive

_GRID = np.linspace(0.0005, 0.9995, 1000)


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    return path


def _density(mix: BetaMixture) -> FloatArray:
    d = mix.pdf(_GRID)
    if np.any((mix.a < 1) | (mix.b < 1)):
        # a density unbounded at an edge would flatten the rest of the plot
        inner = (_GRID > 0.02) & (_GRID < 0.98)
        d = np.minimum(d, 1.5 * float(np.max(d[inner])))
    return d


def plot_map_fit(
    draws: FloatArray,
    mixture: BetaMixture,
    path: str | Path,
    *,
    title: str = "MAP prior",
    robust: BetaMixture | None = None,
) -> Path:
    """Histogram of the MAP draws against the fitted mixture (and its components)."""
    fig = Figure(figsize=(7, 4.2))
    ax = fig.add_subplot()
    ax.hist(draws, bins=60, range=(0, 1), density=True, color="0.82", label="MAP draws")
    ax.plot(_GRID, _density(mixture), color="black", lw=2, label="beta mixture")
    for k in range(mixture.n_components):
        comp = BetaMixture.beta(mixture.a[k], mixture.b[k])
        ax.plot(
            _GRID,
            mixture.weights[k] * _density(comp),
            lw=1,
            ls=":",
            label=f"w={mixture.weights[k]:.3f} Beta({mixture.a[k]:.2f}, {mixture.b[k]:.2f})",
        )
    if robust is not None:
        ax.plot(_GRID, _density(robust), color="tab:red", lw=1.5, ls="--", label="robust mixture")
    ax.set_xlim(0, 1)
    ax.set_xlabel("response rate")
    ax.set_ylabel("density")
    ax.set_title(title)
    ax.legend(fontsize=8, frameon=False)
    return _save(fig, path)


def plot_oc_1s(oc: OC1S, path: str | Path) -> Path:
    """Three panels: OC curve, posterior probability by outcome (boundary), prior vs posteriors."""
    d = oc.design
    rule = d.rule
    fig = Figure(figsize=(13, 4))
    ax1, ax2, ax3 = fig.subplots(1, 3)
    ax1.plot(oc.rates, oc.probability, color="black")
    ax1.axvline(rule.p0, color="0.6", ls="--", lw=1)
    ax1.set_xlabel("true response rate")
    ax1.set_ylabel("P(success)")
    ax1.set_ylim(-0.02, 1.02)
    ax1.set_title(f"operating characteristics, n = {d.n}")

    y = np.arange(d.n + 1)
    probs = np.array([rule.probability(d.prior.posterior(int(k), d.n)) for k in y])
    colours = np.where(d.success(y), "tab:green", "0.6")
    ax2.bar(y, probs, color=colours, width=0.8)
    ax2.axhline(rule.prob, color="tab:red", lw=1)
    ax2.set_xlabel("responders y")
    ax2.set_ylabel(rule.quantity().replace("data", "y"))
    b = "none" if d.boundary is None else str(d.boundary)
    ax2.set_title(f"decision boundary: {b} (green: success)")

    ax3.plot(_GRID, _density(d.prior), color="black", lw=2, label="prior")
    if d.boundary is not None:
        step = 1 if rule.lower_tail else -1
        for k, style in ((d.boundary, "-"), (d.boundary + step, "--")):
            if 0 <= k <= d.n:
                post = d.prior.posterior(int(k), d.n)
                verdict = "success" if d.success(k) else "failure"
                ax3.plot(_GRID, _density(post), ls=style, label=f"posterior, y = {k} ({verdict})")
    ax3.axvline(rule.p0, color="0.6", ls="--", lw=1)
    ax3.set_xlabel("response rate")
    ax3.set_ylabel("density")
    ax3.set_title("prior and posteriors at the boundary")
    ax3.legend(fontsize=8, frameon=False)
    fig.suptitle(rule.describe())
    return _save(fig, path)


def plot_oc_2s(
    designs: Sequence[Design2S],
    curves: Sequence[tuple[str, FloatArray, FloatArray]],
    path: str | Path,
) -> Path:
    """OC curves (probability of success against the true difference) and boundaries.

    ``curves`` holds ``(label, difference, probability)`` triples.
    """
    fig = Figure(figsize=(11, 4))
    ax1, ax2 = fig.subplots(1, 2)
    for label, diff, prob in curves:
        ax1.plot(diff, prob, label=label)
    ax1.axhline(0.8, color="0.8", lw=0.8)
    ax1.set_xlabel("true difference p_t - p_c")
    ax1.set_ylabel("P(success)")
    ax1.set_ylim(-0.02, 1.02)
    ax1.legend(fontsize=8, frameon=False)
    ax1.set_title("operating characteristics")
    for d in designs:
        ax2.step(
            np.arange(d.n_c + 1), d.boundary, where="mid", label=f"n_t = {d.n_t}, n_c = {d.n_c}"
        )
    ax2.set_xlabel("control responders y_c")
    word = "most" if designs and designs[0].rule.lower_tail else "fewest"
    ax2.set_ylabel(f"{word} treatment responders for success")
    ax2.legend(fontsize=8, frameon=False)
    ax2.set_title("decision boundary")
    if designs:
        fig.suptitle(designs[0].rule.describe())
    return _save(fig, path)


def plot_priors(priors: Sequence[tuple[str, BetaMixture]], path: str | Path, title: str) -> Path:
    """Densities of several priors on one axis."""
    fig = Figure(figsize=(7, 4.2))
    ax = fig.add_subplot()
    for label, mix in priors:
        ax.plot(_GRID, _density(mix), label=label)
    ax.set_xlim(0, 1)
    ax.set_xlabel("response rate")
    ax.set_ylabel("density")
    ax.set_title(title)
    ax.legend(fontsize=8, frameon=False)
    return _save(fig, path)


def plot_predictive(pred: Predictive, path: str | Path, title: str) -> Path:
    """Bars of P(Y = y), with the cumulative P(Y <= y) on a second axis."""
    fig = Figure(figsize=(7, 4.2))
    ax = fig.add_subplot()
    y = np.arange(pred.n + 1)
    ax.bar(y, pred.pmf, color="0.6", width=0.8, label="P(Y = y)")
    ax.set_xlabel(f"responders y of {pred.n}")
    ax.set_ylabel("P(Y = y)")
    ax.set_xlim(-0.6, pred.n + 0.6)
    twin = ax.twinx()
    twin.step(y, pred.cdf, where="mid", color="black", lw=1.5, marker="o", ms=3, label="P(Y <= y)")
    twin.set_ylim(0, 1.02)
    twin.set_ylabel("P(Y <= y)")
    ax.set_title(title)
    handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    ax.legend(handles=handles, fontsize=8, frameon=False, loc="upper left")
    return _save(fig, path)
