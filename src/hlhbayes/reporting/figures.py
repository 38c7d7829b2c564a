"""The report's figures, each returned as PNG bytes with its title and caption.

Every figure is drawn with matplotlib at the report's column width and twice the screen
resolution, in one style (:mod:`hlhbayes.reporting.palette`): one colour per trigger, axes
labelled with their units (rates in %, hyperparameters on the logit scale), densities that
respect their bounds (:mod:`hlhbayes.reporting.density`), legends beside what they describe.
Only the rank plot comes from ``arviz_plots`` (its multi-chain uniformity test is the one
:mod:`hlhbayes.reporting.ranks` reports). Every interval is 95% equal-tailed, passed
explicitly (ArviZ 1.x would default to 89%).
"""

from __future__ import annotations

import functools
import io
import struct
import sys
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import xarray as xr

from hlhbayes.models.units import MODEL_ETIOLOGIES
from hlhbayes.reporting import palette
from hlhbayes.reporting.density import positive_density, rate_density, rate_grid, real_density
from hlhbayes.reporting.estimates import EvidenceRow, eti
from hlhbayes.reporting.ranks import RankCheck

STYLE = {
    "font.size": palette.FONT_SIZE,
    "axes.titlesize": palette.FONT_SIZE,
    "axes.labelsize": palette.FONT_SIZE,
    "xtick.labelsize": palette.FONT_SIZE - 0.5,
    "ytick.labelsize": palette.FONT_SIZE - 0.5,
    "legend.fontsize": palette.FONT_SIZE - 0.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "savefig.dpi": palette.DPI,
}
LIGHT = "#C8C8C8"
"""Fills and bars that carry no trigger (predictive intervals, histograms)."""


def pyplot():
    """matplotlib.pyplot, drawing off-screen (Agg) unless a backend was already chosen."""
    import matplotlib

    # Reports are files: draw off-screen unless the caller (a notebook) already chose a backend.
    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def styled(draw: Callable[..., Any]) -> Callable[..., bytes]:
    """Draw under the report's style and return the figure as PNG bytes."""

    @functools.wraps(draw)
    def wrapper(*args: Any, **kwargs: Any) -> bytes:
        plt = pyplot()
        with plt.rc_context(STYLE):
            fig = draw(*args, **kwargs)
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=palette.DPI)
        plt.close(fig)
        return buf.getvalue()

    return wrapper


def figure(fig_id: str, title: str, caption: str, png: bytes) -> dict[str, Any]:
    """A figure record for the templates; ``width`` is its CSS width (half its pixels)."""
    width, height = png_size(png)
    scale = palette.DPI / 96
    return {
        "id": fig_id,
        "title": title,
        "caption": caption,
        "png": png,
        "width": round(width / scale),
        "height": round(height / scale),
    }


def png_size(png: bytes) -> tuple[int, int]:
    """Pixel width and height from a PNG's header."""
    return struct.unpack(">II", png[16:24])


def percent_axis(ax, label: str) -> None:
    """An x axis for rates: 0 to 100%, labelled."""
    ax.set_xlim(0, 1)
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0], ["0", "25", "50", "75", "100"])
    ax.set_xlabel(label)


def rate_label(outcome: str) -> str:
    """``Response rate (%)``."""
    return f"{outcome.capitalize()} rate (%)"


# --- posterior densities of the rates ------------------------------------------------------------


@styled
def rate_densities(posterior: xr.Dataset, cells: list[tuple[str | None, str | None]], outcome: str):
    """Posterior densities of the rates: one panel per line, one row per trigger.

    A typical study filled, a new centre dashed; beta kernel estimates, so that no curve is cut
    at 0 or 1.
    """
    plt = pyplot()
    lines = [ln for ln in ("first", "later") if any(c[1] == ln for c in cells)] or [None]
    etiologies = [e for e in MODEL_ETIOLOGIES if any(c[0] == e for c in cells)] or [None]
    grid = rate_grid()
    height = 0.9 + 0.55 * len(etiologies)
    fig, axes = plt.subplots(
        1, len(lines), figsize=(palette.FIGURE_WIDTH, height), sharey=True, squeeze=False
    )
    for ax, ln in zip(axes[0], lines, strict=True):
        for k, e in enumerate(etiologies):
            if (e, ln) not in cells:
                continue
            colour = palette.trigger_color(e) if e else palette.POOLED_COLOR
            base = len(etiologies) - 1 - k
            curves = {}
            for q in ("rate_typical", "rate_new"):
                da = posterior[q] if e is None else posterior[q].sel(etiology=e, line=ln)
                curves[q] = rate_density(np.asarray(da.values).ravel(), grid)
            scale = 0.92 / max(c.max() for c in curves.values())
            typical = base + curves["rate_typical"] * scale
            ax.fill_between(grid, base, typical, color=colour, alpha=0.35, lw=0)
            ax.plot(grid, typical, color=colour, lw=1.3)
            ax.plot(grid, base + curves["rate_new"] * scale, color=colour, lw=1.2, ls="--")
            ax.axhline(base, color="#BBBBBB", lw=0.5)
            if ax is axes[0][0]:
                ax.text(
                    -0.02,
                    base + 0.25,
                    e or "all studies",
                    color=colour,
                    ha="right",
                    va="bottom",
                    transform=ax.get_yaxis_transform(),
                    weight="bold",
                )
        ax.set_title(f"{ln} line" if ln else "")
        percent_axis(ax, rate_label(outcome))
        ax.set_yticks([])
        ax.spines["left"].set_visible(False)
        ax.set_ylim(-0.05, len(etiologies))
    handles = [
        plt.Line2D([], [], color="#555555", lw=1.3),
        plt.Line2D([], [], color="#555555", lw=1.2, ls="--"),
    ]
    fig.legend(
        handles,
        ["average across studies (typical study)", "new centre (prediction)"],
        loc="upper center",
        ncol=2,
        frameon=False,
        bbox_to_anchor=(0.5, 1.0),
    )
    fig.subplots_adjust(
        left=0.16 if etiologies != [None] else 0.14,
        right=0.98,
        top=1 - 0.55 / height,
        bottom=0.5 / height,
        wspace=0.12,
    )
    return fig


# --- hyperparameters -----------------------------------------------------------------------------


def scale_label(positive: bool) -> str:
    """The unit of a hyperparameter: every one is on the logit scale; a positive one is an SD."""
    return "SD (logit scale)" if positive else "logit scale"


def _density(draws: np.ndarray, positive: bool) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = np.quantile(draws, [0.002, 0.998])
    if positive:
        grid = np.linspace(0.0, hi * 1.05, 300)
        return grid, positive_density(draws, grid)
    pad = 0.05 * (hi - lo)
    grid = np.linspace(lo - pad, hi + pad, 300)
    return grid, real_density(draws, grid)


@styled
def prior_posterior(idata: xr.DataTree, names: tuple[str, ...], positive: dict[str, bool]):
    """Prior (grey, dashed) and posterior (black, filled) densities of each hyperparameter.

    ``positive`` says which are bounded at 0 (their densities are reflected there).
    """
    plt = pyplot()
    prior = idata["prior"].to_dataset()
    post = idata["posterior"].to_dataset()
    fig, axes = plt.subplots(
        1, len(names), figsize=(palette.FIGURE_WIDTH, 2.3), squeeze=False, sharey=False
    )
    for ax, name in zip(axes[0], names, strict=True):
        p = np.asarray(prior[name].values).ravel()
        q = np.asarray(post[name].values).ravel()
        both = np.concatenate([p, q])
        grid, _ = _density(both, positive[name])
        if positive[name]:
            fp, fq = positive_density(p, grid), positive_density(q, grid)
        else:
            fp, fq = real_density(p, grid), real_density(q, grid)
        ax.fill_between(grid, fq, color=palette.POSTERIOR_COLOR, alpha=0.15, lw=0)
        ax.plot(grid, fq, color=palette.POSTERIOR_COLOR, lw=1.3)
        ax.plot(grid, fp, color=palette.PRIOR_COLOR, lw=1.3, ls="--")
        ax.set_title(name)
        ax.set_xlabel(scale_label(positive[name]))
        ax.set_yticks([])
        ax.spines["left"].set_visible(False)
        ax.set_ylim(0, None)
    fig.legend(
        [
            plt.Line2D([], [], color=palette.PRIOR_COLOR, lw=1.3, ls="--"),
            plt.Line2D([], [], color=palette.POSTERIOR_COLOR, lw=1.3),
        ],
        ["prior", "posterior"],
        loc="upper center",
        ncol=2,
        frameon=False,
    )
    fig.subplots_adjust(left=0.03, right=0.98, top=0.78, bottom=0.2, wspace=0.15)
    return fig


@styled
def trace(idata: xr.DataTree, names: tuple[str, ...], positive: dict[str, bool]):
    """Per chain, dark to light: the density (left) and the draws in order (right)."""
    plt = pyplot()
    post = idata["posterior"].to_dataset()
    n_chains = post.sizes["chain"]
    height = 0.6 + 1.25 * len(names)
    fig, axes = plt.subplots(
        len(names),
        2,
        figsize=(palette.FIGURE_WIDTH, height),
        squeeze=False,
        gridspec_kw={"width_ratios": [1, 2.4]},
    )
    for (ax_d, ax_t), name in zip(axes, names, strict=True):
        values = np.asarray(post[name].values)
        grid, _ = _density(values.ravel(), positive[name])
        for c in range(n_chains):
            colour = palette.chain_color(c)
            f = (positive_density if positive[name] else real_density)(values[c], grid)
            ax_d.plot(grid, f, color=colour, lw=1.0)
            ax_t.plot(values[c], color=colour, lw=0.4, alpha=0.8)
        ax_d.set_yticks([])
        ax_d.spines["left"].set_visible(False)
        ax_d.set_xlabel(f"{name}, {scale_label(positive[name])}", labelpad=1)
        ax_t.set_ylabel(name)
        ax_t.set_xlim(0, values.shape[1])
    axes[-1][1].set_xlabel("iteration (after tuning)")
    fig.legend(
        [plt.Line2D([], [], color=palette.chain_color(c), lw=1.5) for c in range(n_chains)],
        [f"chain {c + 1}" for c in range(n_chains)],
        loc="upper center",
        ncol=n_chains,
        frameon=False,
    )
    fig.subplots_adjust(
        left=0.04, right=0.965, top=1 - 0.4 / height, bottom=0.45 / height, hspace=0.75
    )
    return fig


@styled
def rank(idata: xr.DataTree, check: RankCheck):
    """Fractional-rank ΔECDF plots of the hyperparameters, one line per chain.

    Each panel prints the p-value of the multi-chain uniformity test as
    :func:`hlhbayes.reporting.ranks.rank_check` reports it.
    """
    import arviz_plots as azp

    plt = pyplot()
    names = [t.name for t in check.tests]
    n_chains = idata["posterior"].sizes["chain"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pc = azp.plot_rank(
            idata,
            var_names=names,
            envelope_prob=1 - check.level,
            aes={"color": ["chain"]},
            color=[palette.chain_color(c) for c in range(n_chains)],
            col_wrap=len(names),
            visuals={"xlabel": {"text": "fractional rank"}, "remove_axis": False},
            figure_kwargs={"figsize": (palette.FIGURE_WIDTH, 2.4)},
        )
    fig = pc.viz["figure"].item()
    for test in check.tests:
        ax = pc.viz["plot"][test.name].item()
        for text in list(ax.texts):
            if text.get_text().startswith("p="):
                text.remove()  # replaced by the test as reported, with its verdict
        verdict = f"p = {_p(test.p_value)}" + (" (flagged)" if test.flagged else "")
        ax.text(
            0.02,
            0.97,
            verdict,
            transform=ax.transAxes,
            va="top",
            weight="bold" if test.flagged else "normal",
        )
        ax.set_yticks([])
        ax.tick_params(axis="x", labelsize=palette.FONT_SIZE - 0.5)
    first = pc.viz["plot"][names[0]].item()
    first.set_ylabel("ECDF − uniform")
    fig.legend(
        [plt.Line2D([], [], color=palette.chain_color(c), lw=1.5) for c in range(n_chains)],
        [f"chain {c + 1}" for c in range(n_chains)],
        loc="upper center",
        ncol=n_chains,
        frameon=False,
    )
    fig.subplots_adjust(left=0.05, right=0.98, top=0.74, bottom=0.2, wspace=0.12)
    return fig


def _p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


# --- posterior predictive check ------------------------------------------------------------------


OUTCOME_WORDS = {"response": "responding", "death": "who died"}
"""Patients ... (%): the words of an axis that counts patients with the outcome."""


@styled
def predictive_check(rows: list[EvidenceRow], outcome: str):
    """Observed shares against their posterior predictive intervals, and the total count."""
    plt = pyplot()
    words = OUTCOME_WORDS.get(outcome, f"with {outcome}")
    fig, (ax, axt) = plt.subplots(
        1,
        2,
        figsize=(palette.FIGURE_WIDTH, 1.2 + 0.2 * len(rows)),
        width_ratios=[2.6, 1.2],
        layout="constrained",
    )
    ys = np.arange(len(rows))[::-1]
    for y, r in zip(ys, rows, strict=True):
        assert r.predicted is not None
        share = r.predicted / r.total
        lo, hi = eti(share)
        ax.hlines(y, lo, hi, color=LIGHT, lw=4)
        ax.plot(share.mean(), y, "|", color="black", ms=9, mew=2)
        ax.plot(r.observed, y, "o", mfc="white", mec="black", mew=1.2, ms=5, zorder=3)
        ax.text(1.04, y, f"{r.events}/{r.total}", va="center", transform=ax.get_yaxis_transform())
    ax.set_yticks(ys, [f"↳ {r.group}" if r.group else r.study for r in rows])
    ax.set_ylim(-0.7, len(rows) - 0.3)
    percent_axis(ax, f"Patients {words} (%)")
    ax.set_xlim(-0.02, 1.02)
    ax.grid(axis="x", color="#E6E6E6", lw=0.6)
    ax.set_axisbelow(True)
    fig.legend(
        [
            plt.Line2D([], [], color=LIGHT, lw=4),
            plt.Line2D([], [], color="black", marker="|", ms=9, mew=2, lw=0),
            plt.Line2D([], [], color="black", marker="o", mfc="white", lw=0),
        ],
        ["predicted: 95% interval", "predicted: mean", "observed"],
        loc="outside lower center",
        ncol=3,
        frameon=False,
    )

    studies = [r for r in rows if r.group is None]
    total = sum(r.predicted for r in studies if r.predicted is not None)
    observed = sum(r.events for r in studies)
    values, counts = np.unique(np.asarray(total), return_counts=True)
    axt.bar(values, counts / counts.sum(), width=0.9, color=LIGHT)
    axt.axvline(observed, color="black", lw=1.5)
    axt.set_title(f"All {sum(r.total for r in studies)} patients", loc="left")
    axt.set_xlabel(f"number {words}")
    axt.set_yticks([])
    axt.spines["left"].set_visible(False)
    right = observed > np.average(values, weights=counts)
    axt.annotate(
        f"observed {observed}",
        (observed, 1.0),
        xycoords=("data", "axes fraction"),
        xytext=(-3 if right else 3, 0),
        textcoords="offset points",
        ha="right" if right else "left",
        va="top",
    )
    return fig
