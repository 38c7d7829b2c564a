"""Figures of the living-evidence commands: intervals side by side, cumulative, sensitivity.

Drawn with matplotlib's object interface (``Figure``, no ``pyplot`` state, no GUI backend), as
PNG. Every interval is the 95% equal-tailed interval with a dot at the posterior mean.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

TYPICAL = "#1f3b73"  # rate_typical, and run B / the current estimate
NEW = "#8c8c8c"  # rate_new, and run A / the previous estimate
FAILED = "#c0392b"  # not converged (also drawn dashed, with an open dot)
RATES = ("rate_typical", "rate_new")


def _figure(n_panels: int, n_rows: int, width: float = 4.2):
    from matplotlib.figure import Figure

    height = max(2.6, 0.28 * n_rows + 1.4)
    fig = Figure(figsize=(width * n_panels + 1.8, height), layout="constrained")
    axes = fig.subplots(1, n_panels, squeeze=False)[0]
    return fig, axes


def _cell_label(row: pd.Series | dict) -> str:
    parts = [str(row[k]) for k in ("etiology", "line") if isinstance(row[k], str) and row[k]]
    return "/".join(parts) or "all studies"


def _save(fig, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def compare_figure(frame: pd.DataFrame, path: Path, title: str, labels=("A", "B")) -> Path:
    """Before (A, grey) and after (B, blue) intervals of every quantity, side by side.

    One panel per rate (``rate_typical``, ``rate_new``) and one for the hyperparameters.
    """
    groups = [(q, frame[frame["quantity"] == q]) for q in RATES]
    hyper = frame[~frame["quantity"].isin(RATES)]
    if len(hyper):
        groups.append(("hyperparameters", hyper))
    groups = [(name, g) for name, g in groups if len(g)]
    fig, axes = _figure(len(groups), max(len(g) for _, g in groups))
    for ax, (name, g) in zip(axes, groups, strict=True):
        rows = g.to_dict(orient="records")
        ys = np.arange(len(rows))[::-1]
        for y, r in zip(ys, rows, strict=True):
            for suffix, offset, colour in (("a", 0.17, NEW), ("b", -0.17, TYPICAL)):
                mean = r[f"mean_{suffix}"]
                if mean is None or np.isnan(mean):
                    continue
                lo, hi = r[f"q2.5_{suffix}"], r[f"q97.5_{suffix}"]
                ax.plot([lo, hi], [y + offset] * 2, color=colour, lw=2)
                ax.plot([mean], [y + offset], "o", color=colour, ms=4)
        # rates are named by cell, hyperparameters by quantity
        names = [_cell_label(r) if name in RATES else r["quantity"] for r in rows]
        ax.set_yticks(ys, names)
        ax.set_title(name)
        ax.grid(axis="x", alpha=0.3)
        if name in RATES:
            ax.set_xlim(0, 1)
    axes[0].plot([], [], color=NEW, lw=2, label=f"{labels[0]} (before)")
    axes[0].plot([], [], color=TYPICAL, lw=2, label=f"{labels[1]} (after)")
    fig.legend(loc="outside lower center", ncols=2, fontsize=8)
    fig.suptitle(title, fontsize=9)
    return _save(fig, path)


def cumulative_figure(frame: pd.DataFrame, path: Path, title: str) -> Path:
    """Estimates after each step: one panel per cell (both rates) and one for ``tau``.

    ``frame`` has one row per step and record, with columns ``step``, ``label`` and
    ``converged`` next to the summary columns.
    """
    rates = frame[frame["quantity"].isin(RATES)]
    cells = _cells(rates)
    n_panels = len(cells) + int((frame["quantity"] == "tau").any())
    steps = frame.drop_duplicates("step").sort_values("step")
    fig, axes = _figure(n_panels, len(steps), width=3.2)
    ys = {s: len(steps) - i - 1 for i, s in enumerate(steps["step"])}
    panels = [
        (c, rates[_same(rates["etiology"], c[0]) & _same(rates["line"], c[1])]) for c in cells
    ]
    if n_panels > len(cells):
        panels.append((("tau",), frame[frame["quantity"] == "tau"]))
    for ax, (cell, g) in zip(axes, panels, strict=True):
        for row in g.to_dict(orient="records"):
            offset = {"rate_typical": 0.12, "rate_new": -0.12}.get(row["quantity"], 0.0)
            colour = NEW if row["quantity"] == "rate_new" else TYPICAL
            y = ys[row["step"]] + offset
            _interval(ax, row, y, colour, bool(row["converged"]))
        ax.set_title(
            _cell_label({"etiology": cell[0], "line": cell[-1]}) if len(cell) == 2 else "tau"
        )
        if len(cell) == 2:
            ax.set_xlim(0, 1)
        ax.set_ylim(-0.6, len(steps) - 0.4)  # the same rows in every panel
        ax.grid(axis="x", alpha=0.3)
    labels = [
        row["label"] + ("" if row["converged"] else "  (NOT CONVERGED)")
        for row in steps.to_dict(orient="records")
    ]
    axes[0].set_yticks([ys[s] for s in steps["step"]], labels, fontsize=8)
    for ax in axes[1:]:
        ax.set_yticks([ys[s] for s in steps["step"]], [""] * len(steps))
    axes[0].plot([], [], color=TYPICAL, lw=2, label="rate_typical")
    axes[0].plot([], [], color=NEW, lw=2, label="rate_new")
    axes[0].plot(
        [], [], color=FAILED, lw=1.5, ls="--", marker="o", mfc="white", label="not converged"
    )
    fig.legend(loc="outside lower center", ncols=3, fontsize=8)
    fig.suptitle(title, fontsize=9)
    return _save(fig, path)


def sensitivity_figure(frame: pd.DataFrame, path: Path, title: str) -> Path:
    """Forest plot: one row per scenario, one panel per cell, both rates.

    The baseline's ``rate_typical`` mean is the dashed line; scenarios that failed their
    convergence gate are drawn in red and labelled, those not estimable are labelled and empty.
    """
    scenarios = frame.drop_duplicates("scenario")
    cells = _cells(frame)
    fig, axes = _figure(len(cells), len(scenarios))
    ys = {s: len(scenarios) - i - 1 for i, s in enumerate(scenarios["scenario"])}
    for ax, cell in zip(axes, cells, strict=True):
        mine = frame[_same(frame["etiology"], cell[0]) & _same(frame["line"], cell[1])]
        for row in mine.to_dict(orient="records"):
            y = ys[row["scenario"]]
            if row["status"] == "not estimable" or row["mean"] is None or np.isnan(row["mean"]):
                ax.text(0.5, y, row["status"], ha="center", va="center", fontsize=7, color=NEW)
                continue
            offset = 0.14 if row["quantity"] == "rate_typical" else -0.14
            colour = TYPICAL if row["quantity"] == "rate_typical" else NEW
            _interval(ax, row, y + offset, colour, bool(row["converged"]))
            if row["scenario"] == "baseline" and row["quantity"] == "rate_typical":
                ax.axvline(row["mean"], color=TYPICAL, ls="--", lw=0.8, alpha=0.7)
        ax.set_xlim(0, 1)
        ax.set_ylim(-0.6, len(scenarios) - 0.4)  # the same rows in every panel
        ax.set_title(_cell_label({"etiology": cell[0], "line": cell[1]}))
        ax.grid(axis="x", alpha=0.3)
        ax.set_yticks(list(ys.values()), [""] * len(ys))
    labels = []
    for row in scenarios.to_dict(orient="records"):
        suffix = "  (NOT CONVERGED)" if row["status"] == "not converged" else ""
        labels.append(f"{row['scenario']}{suffix}")
    axes[0].set_yticks(list(ys.values()), labels, fontsize=8)
    axes[0].plot([], [], color=TYPICAL, lw=2, label="rate_typical")
    axes[0].plot([], [], color=NEW, lw=2, label="rate_new")
    axes[0].plot(
        [], [], color=FAILED, lw=1.5, ls="--", marker="o", mfc="white", label="not converged"
    )
    fig.legend(loc="outside lower center", ncols=3, fontsize=8)
    fig.suptitle(title, fontsize=9)
    return _save(fig, path)


def _same(series: pd.Series, value) -> pd.Series:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return series.isna()
    return series == value


def _cells(frame: pd.DataFrame) -> list[tuple[str | None, str | None]]:
    """The distinct (etiology, line) cells in order of appearance; missing values as None."""
    pairs = frame[["etiology", "line"]].astype(object).where(frame[["etiology", "line"]].notna())
    out: list[tuple[str | None, str | None]] = []
    for e, ln in pairs.itertuples(index=False):
        cell = (e if isinstance(e, str) else None, ln if isinstance(ln, str) else None)
        if cell not in out:
            out.append(cell)
    return out or [(None, None)]


def _interval(ax, row: dict, y: float, colour: str, converged: bool) -> None:
    """A 95% interval with a dot at the mean; dashed with an open red dot if not converged."""
    style = {"lw": 2} if converged else {"lw": 1.5, "ls": "--"}
    ax.plot([row["q2.5"], row["q97.5"]], [y, y], color=colour, **style)
    if converged:
        ax.plot([row["mean"]], [y], "o", color=colour, ms=4)
    else:
        ax.plot([row["mean"]], [y], "o", color=FAILED, mfc="white", ms=5)
