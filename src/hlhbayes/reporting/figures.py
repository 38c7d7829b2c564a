"""The report's figures, each returned as PNG bytes with its title and caption.

The forest plot and the predictive check are drawn with matplotlib directly (they combine data,
exact intervals and posterior draws); densities, prior vs posterior, trace and rank plots come
from ``arviz_plots``. Every interval is 95 % equal-tailed, passed explicitly (ArviZ 1.x would
default to 89 %).
"""

from __future__ import annotations

import io
import sys
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from hlhbayes.reporting.estimates import INTERVAL, EvidenceRow, eti

DPI = 90
OBSERVED_COLOR = "black"
SHRUNKEN_COLOR = "#1f77b4"
TYPICAL_COLOR = "#d62728"
NEW_COLOR = "#ff7f0e"


@dataclass
class Pooled:
    """A pooled quantity for the forest plot: label and posterior draws."""

    label: str
    draws: np.ndarray
    kind: str  # "typical" or "new"


def _pyplot():
    import matplotlib

    # Reports are files: draw off-screen unless the caller (a notebook) already chose a backend.
    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    plt = _pyplot()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def figure(fig_id: str, title: str, caption: str, png: bytes) -> dict[str, Any]:
    """A figure record for the templates."""
    return {"id": fig_id, "title": title, "caption": caption, "png": png}


def forest(rows: list[EvidenceRow], pooled: list[Pooled], outcome: str) -> bytes:
    """Observed rate (exact interval) and shrunken rate per study, then the pooled rates."""
    plt = _pyplot()
    studies = [r for r in rows if r.group is None]
    n_rows = len(studies) + len(pooled) + (1 if pooled else 0)
    fig, ax = plt.subplots(figsize=(8.5, 1.4 + 0.42 * n_rows))
    labels, ys = [], []
    y = n_rows
    for r in studies:
        lo, hi = r.exact_interval
        ax.hlines(y + 0.14, lo, hi, color=OBSERVED_COLOR, lw=1)
        ax.plot(r.observed, y + 0.14, "s", color=OBSERVED_COLOR, ms=5, clip_on=False)
        assert r.shrunken is not None
        slo, shi = eti(r.shrunken)
        ax.hlines(y - 0.14, slo, shi, color=SHRUNKEN_COLOR, lw=2.5)
        ax.plot(r.shrunken.mean(), y - 0.14, "o", color=SHRUNKEN_COLOR, ms=6)
        ax.text(1.02, y, f"{r.events}/{r.total}", va="center", transform=ax.get_yaxis_transform())
        labels.append(r.study)
        ys.append(y)
        y -= 1
    if pooled:
        ax.axhline(y, color="grey", lw=0.6)
        y -= 1
    for p in pooled:
        lo, hi = eti(p.draws)
        color = TYPICAL_COLOR if p.kind == "typical" else NEW_COLOR
        ax.hlines(y, lo, hi, color=color, lw=2.5)
        face = color if p.kind == "typical" else "white"
        ax.plot(p.draws.mean(), y, "D", mfc=face, mec=color, mew=1.5, ms=7)
        ax.text(
            1.02,
            y,
            f"{p.draws.mean():.2f} [{lo:.2f}, {hi:.2f}]",
            va="center",
            transform=ax.get_yaxis_transform(),
        )
        labels.append(p.label)
        ys.append(y)
        y -= 1
    ax.set_yticks(ys, labels)
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(0.3, n_rows + 0.7)
    ax.set_xlabel(f"{outcome} rate")
    ax.grid(axis="x", ls=":", lw=0.6)
    ax.spines[["top", "right"]].set_visible(False)
    ax.text(1.02, n_rows + 0.6, "events/n", transform=ax.get_yaxis_transform(), fontsize=9)
    handles = [
        plt.Line2D(
            [],
            [],
            color=OBSERVED_COLOR,
            marker="s",
            lw=1,
            ms=5,
            label="observed, exact 95% interval",
        ),
        plt.Line2D(
            [],
            [],
            color=SHRUNKEN_COLOR,
            marker="o",
            lw=2.5,
            label="model estimate for the study (shrunken), 95% interval",
        ),
        plt.Line2D([], [], color=TYPICAL_COLOR, marker="D", lw=2.5, label="rate_typical"),
        plt.Line2D(
            [], [], color=NEW_COLOR, marker="D", mfc="white", lw=2.5, label="rate_new (new study)"
        ),
    ]
    ax.legend(
        handles=handles if pooled else handles[:2],
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        ncol=2,
        frameon=False,
        fontsize=9,
    )
    return _png(fig)


def rate_densities(
    posterior: xr.Dataset, cells: list[tuple[str | None, str | None]], outcome: str
) -> bytes:
    """Posterior densities of the rates: one panel per line, one colour per etiology."""
    import arviz_plots as azp

    _pyplot()
    kinds = xr.DataArray(["typical study", "new study"], dims="rate in a")
    rate = xr.concat([posterior["rate_typical"], posterior["rate_new"]], dim=kinds)
    etiologies = sorted({e for e, _ in cells if e is not None}, key=_etiology_order)
    lines = sorted({ln for _, ln in cells if ln is not None})
    name = f"{outcome} rate"
    if etiologies:
        rate = rate.sel(etiology=etiologies, line=lines)
        aes = {"color": ["etiology"], "linestyle": ["rate in a"]}
        cols = ["line"]
    else:
        aes = {"color": ["rate in a"]}
        cols = []
    tree = xr.DataTree.from_dict({"posterior": xr.Dataset({name: rate})})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pc = azp.plot_dist(
            tree,
            cols=cols,
            aes=aes,
            kind="kde",
            ci_prob=INTERVAL,
            visuals={
                "point_estimate_text": False,
                "point_estimate": False,
                "credible_interval": False,
            },
            figure_kwargs={"figsize": (4.6 * max(1, len(lines)) + 1.6, 3.4)},
        )
        for i, (dims,) in enumerate(aes.values()):
            if i == 0:
                pc.add_legend(dims, loc="upper left", bbox_to_anchor=(1.0, 1.0))
            else:
                pc.add_legend(dims, loc="lower left", bbox_to_anchor=(1.0, 0.0))
    fig = pc.viz["figure"].item()
    plots = pc.viz["plot"]
    for ax, ln in zip(np.atleast_1d(plots.values), lines or [None], strict=False):
        ax.set_title(f"{ln} line" if ln else name)
        ax.set_xlim(0, 1)
        ax.set_xlabel(name)
    return _png(fig)


def _etiology_order(e: str) -> int:
    from hlhbayes.models.units import MODEL_ETIOLOGIES

    return MODEL_ETIOLOGIES.index(e)


def prior_posterior(idata: xr.DataTree, names: tuple[str, ...]) -> bytes:
    """Prior and posterior densities of the hyperparameters."""
    import arviz_plots as azp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pc = azp.plot_prior_posterior(
            idata, var_names=list(names), figure_kwargs={"figsize": (2.6 * len(names) + 1.5, 2.6)}
        )
    return _png(pc.viz["figure"].item())


def trace(idata: xr.DataTree, names: tuple[str, ...]) -> bytes:
    """Per-chain densities and traces of the hyperparameters."""
    import arviz_plots as azp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pc = azp.plot_trace_dist(
            idata, var_names=list(names), figure_kwargs={"figsize": (10, 1.7 * len(names) + 0.6)}
        )
    return _png(pc.viz["figure"].item())


def rank(idata: xr.DataTree, names: tuple[str, ...]) -> bytes:
    """Rank (fractional rank delta-ECDF) plots of the hyperparameters, one line per chain."""
    import arviz_plots as azp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pc = azp.plot_rank(
            idata, var_names=list(names), figure_kwargs={"figsize": (2.6 * len(names) + 1.5, 2.4)}
        )
    return _png(pc.viz["figure"].item())


def predictive_check(rows: list[EvidenceRow], outcome: str) -> bytes:
    """Observed counts against their posterior predictive intervals, and the total count."""
    plt = _pyplot()
    fig, (ax, axt) = plt.subplots(
        1,
        2,
        figsize=(10, 1.3 + 0.36 * len(rows)),
        gridspec_kw={"width_ratios": [3, 1.2], "wspace": 0.55},
    )
    ys = np.arange(len(rows))[::-1]
    for y, r in zip(ys, rows, strict=True):
        assert r.predicted is not None
        share = r.predicted / r.total
        lo, hi = eti(share)
        ax.hlines(y, lo, hi, color="#9ecae1", lw=4)
        ax.plot(share.mean(), y, "|", color=SHRUNKEN_COLOR, ms=12, mew=2.5)
        ax.plot(r.observed, y, "o", mfc="white", mec=OBSERVED_COLOR, mew=1.5, ms=7, zorder=3)
        ax.text(1.02, y, f"{r.events}/{r.total}", va="center", transform=ax.get_yaxis_transform())
    ax.set_yticks(ys, [f"↳ {r.group}" if r.group else r.study for r in rows])
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel(f"{outcome}s / n")
    ax.grid(axis="x", ls=":", lw=0.6)
    ax.spines[["top", "right"]].set_visible(False)
    handles = [
        plt.Line2D([], [], color="#9ecae1", lw=4, label="predicted, 95% interval"),
        plt.Line2D(
            [], [], color=SHRUNKEN_COLOR, marker="|", ms=12, mew=2.5, lw=0, label="predicted, mean"
        ),
        plt.Line2D([], [], color=OBSERVED_COLOR, marker="o", mfc="white", lw=0, label="observed"),
    ]
    ax.legend(
        handles=handles,
        loc="lower center",
        bbox_to_anchor=(0.5, 1.04),
        ncol=3,
        frameon=False,
        fontsize=9,
    )

    studies = [r for r in rows if r.group is None]
    total = sum(r.predicted for r in studies if r.predicted is not None)
    observed = sum(r.events for r in studies)
    values, counts = np.unique(np.asarray(total), return_counts=True)
    axt.bar(values, counts / counts.sum(), width=0.9, color="#9ecae1")
    axt.axvline(observed, color=OBSERVED_COLOR, lw=2)
    axt.set_title(f"total over all {sum(r.total for r in studies)} patients", fontsize=10)
    axt.set_xlabel(f"total {outcome}s")
    axt.set_yticks([])
    axt.spines[["top", "right", "left"]].set_visible(False)
    axt.text(observed, axt.get_ylim()[1], f" observed {observed}", va="top", fontsize=9)
    return _png(fig)
