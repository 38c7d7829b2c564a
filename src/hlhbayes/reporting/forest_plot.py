"""Draw the forest plot of a :class:`~hlhbayes.reporting.forest.ForestTable`, as metafor does.

Text columns on the left (study, trigger, population, events/n), the plot in the middle, the
numbers on the right (the observed rate with its exact interval, the model's estimate), a
heading per group of studies, then the pooled rows and tau beneath. Column widths are measured
from the text, so long study names push the plot narrower rather than overlapping it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hlhbayes.reporting import palette
from hlhbayes.reporting.figures import percent_axis, pyplot, rate_label, styled
from hlhbayes.reporting.forest import ForestPooled, ForestStudy, ForestTable, Interval

FONT = palette.FONT_SIZE - 1
ROW = 0.2
"""Inches per row."""
GAP = 0.12
MARGIN = 0.05
OFFSET = 0.17
"""Rows apart (up and down) of a study's observed and model estimates."""
INDENT = 0.12
"""Inches: pooled rows are indented under their cell's heading."""


@dataclass
class Column:
    """A text column: its (bold) title, its text per study row, its alignment and width."""

    title: str
    align: str
    texts: list[str] = field(default_factory=list)
    width: float = 0.0
    x: float = 0.0  # the anchor in inches: the left edge, or the right edge if right-aligned


def percent(interval: Interval) -> str:
    """``88 [70, 99]``: a median and its 95% interval in whole percent."""
    return f"{100 * interval.median:.0f} [{100 * interval.lo:.0f}, {100 * interval.hi:.0f}]"


def rows_of(table: ForestTable) -> list[tuple[str, Any]]:
    """The plot's rows from the top: header, groups of studies, a rule, pooled rows by cell."""
    rows: list[tuple[str, Any]] = [("header", None)]
    for title, members in table.groups:
        if title:
            rows.append(("heading", (title, members[0].trigger_key)))
        rows += [("study", s) for s in members]
    rows.append(("rule", None))
    cell = None
    for p in table.pooled:
        if p.cell != cell:
            cell = p.cell
            rows.append(("heading", (cell, p.etiology)))
        rows.append(("pooled", p))
    return rows


def columns_of(table: ForestTable) -> tuple[list[Column], list[Column]]:
    """The left and right text columns, filled with one text per study (in plot order).

    The trigger is each group's heading (studies are grouped by it), not a column.
    """
    studies = [s for _, members in table.groups for s in members]
    left = [Column("Study", "left", [s.study for s in studies])]
    if any(s.population for s in studies):
        left.append(Column("Population", "left", [s.population for s in studies]))
    left.append(Column("Events/n", "right", [f"{s.events}/{s.total}" for s in studies]))
    right = [
        Column("Observed, %\n[95% CI]", "right", [percent(s.own) for s in studies]),
        Column(
            "Model, %\n[95% CrI]",
            "right",
            [percent(s.model) for s in studies] + [percent(p.estimate) for p in table.pooled],
        ),
    ]
    return left, right


@styled
def forest(table: ForestTable, outcome: str):
    """The forest plot (PNG bytes, through :func:`~hlhbayes.reporting.figures.styled`)."""
    plt = pyplot()
    with plt.rc_context({"font.size": FONT, "xtick.labelsize": FONT, "axes.labelsize": FONT}):
        return _draw(table, outcome)


def _draw(table: ForestTable, outcome: str):
    from matplotlib.transforms import blended_transform_factory

    plt = pyplot()
    rows = rows_of(table)
    left, right = columns_of(table)
    top, bottom = 0.1 + 1.6 * ROW, 1.2  # the header row sits above the axes
    span = len(rows) - 0.9  # rows 1 .. n-1, from 0.5 to n - 0.4
    height = top + ROW * span + bottom
    fig = plt.figure(figsize=(palette.FIGURE_WIDTH, height))
    renderer = fig.canvas.get_renderer()

    def width_of(text: str, **kw: Any) -> float:
        t = fig.text(0, 0, text, **kw)
        width = t.get_window_extent(renderer).width / fig.dpi
        t.remove()
        return width

    for col in left + right:
        col.width = max([width_of(col.title, weight="bold"), *map(width_of, col.texts)])
    # headings and pooled labels span the left columns: widen the first if they are longer
    longest = max(
        [0.0, *(width_of(p.words) + INDENT for p in table.pooled)]
        + [width_of(title, weight="bold") for kind, (title, _) in _headings(rows)]
    )
    left_width = sum(c.width for c in left) + GAP * (len(left) - 1)
    left[0].width += max(0.0, longest - left_width)
    x = MARGIN
    for col in left:
        col.x = x + (col.width if col.align == "right" else 0.0)
        x += col.width + GAP
    plot_left = x
    x = palette.FIGURE_WIDTH - MARGIN
    for col in reversed(right):
        col.x = x
        x -= col.width + GAP
    plot_right = x

    ax = fig.add_axes(
        (
            plot_left / palette.FIGURE_WIDTH,
            bottom / height,
            max(plot_right - plot_left, 0.8) / palette.FIGURE_WIDTH,
            ROW * span / height,
        )
    )
    ax.set_ylim(len(rows) - 0.4, 0.5)
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    percent_axis(ax, rate_label(outcome))
    ax.grid(axis="x", color="#E6E6E6", lw=0.6)
    ax.set_axisbelow(True)
    at = blended_transform_factory(fig.transFigure, ax.transData)

    def put(col_x: float, y: float, text: str, align: str = "left", **kw: Any) -> None:
        fig.text(col_x / palette.FIGURE_WIDTH, y, text, ha=align, va="center", transform=at, **kw)

    study_i = 0
    for y, (kind, item) in enumerate(rows):
        if kind == "header":
            for col in left + right:
                put(col.x, y - 0.1, col.title, col.align, weight="bold", linespacing=1.1)
        elif kind == "heading":
            title, key = item
            put(MARGIN, y, title, weight="bold", color=palette.trigger_color(key))
        elif kind == "study":
            for col in left + right:
                put(col.x, y, col.texts[study_i], col.align)
            study_i += 1
            _study(ax, item, y)
        elif kind == "rule":
            ax.axhline(y, color="#999999", lw=0.6)
        else:
            put(MARGIN + INDENT, y, item.words)
            put(right[1].x, y, right[1].texts[study_i], "right")
            study_i += 1
            _pooled(ax, item, y)
    _notes(fig, table, height)
    return fig


def _headings(rows: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    return [(kind, item) for kind, item in rows if kind == "heading"]


def _study(ax, s: ForestStudy, y: float) -> None:
    colour = palette.trigger_color(s.trigger_key)
    ax.hlines(y - OFFSET, s.own.lo, s.own.hi, color="black", lw=0.9)
    ax.plot(s.own.median, y - OFFSET, "s", mfc="white", mec="black", ms=4, mew=0.9, clip_on=False)
    ax.hlines(y + OFFSET, s.model.lo, s.model.hi, color=colour, lw=2.0)
    ax.plot(s.model.median, y + OFFSET, "o", color=colour, ms=4.4, clip_on=False)


def _pooled(ax, p: ForestPooled, y: float) -> None:
    from matplotlib.patches import Polygon

    colour = palette.trigger_color(p.etiology) if p.etiology else palette.POOLED_COLOR
    e = p.estimate
    if p.kind == "average":
        corners = [(e.lo, y), (e.median, y - 0.32), (e.hi, y), (e.median, y + 0.32)]
        ax.add_patch(Polygon(corners, closed=True, fc=colour, ec=colour, lw=0.8))
    else:
        ax.hlines(y, e.lo, e.hi, color=colour, lw=1.3)
        ax.vlines([e.lo, e.hi], y - 0.2, y + 0.2, color=colour, lw=1.3)
        ax.vlines(e.median, y - 0.3, y + 0.3, color=colour, lw=2.2)


def _notes(fig, table: ForestTable, height: float) -> None:
    """Tau and the point estimate beneath the axis (left), the legend (right)."""
    plt = pyplot()
    notes = ["Points: medians. Intervals: 95% (observed: exact Clopper-Pearson)."]
    if table.tau is not None:
        t = table.tau
        notes.insert(
            0, f"Between-study SD τ (logit scale): {t.median:.2f} [95% CrI {t.lo:.2f}, {t.hi:.2f}]"
        )
    fig.text(MARGIN / palette.FIGURE_WIDTH, 0.05 / height, "\n".join(notes), va="bottom")
    grey = "#555555"
    handles = [
        plt.Line2D([], [], color="black", marker="s", mfc="white", ms=4, lw=0.9),
        plt.Line2D([], [], color=grey, marker="o", ms=4.4, lw=2.0),
        plt.Line2D([], [], color=grey, marker="D", ms=5, lw=0),
        plt.Line2D([], [], color=grey, marker="|", ms=7, mew=1.3, lw=1.3),
    ]
    fig.legend(
        handles,
        ["observed", "model: the study's rate", "average across studies", "new centre"],
        loc="center",
        bbox_to_anchor=(0.5, 0.52 / height),
        ncol=4,
        frameon=False,
        handlelength=1.6,
        columnspacing=1.2,
        fontsize=FONT,
    )
