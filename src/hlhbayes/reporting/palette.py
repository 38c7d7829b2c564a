"""The colours and sizes every report figure shares.

One colour per trigger, from the Okabe-Ito palette (Okabe and Ito 2008, "Color Universal
Design"): the eight colours stay distinct for the common colour-vision deficiencies
(deuteranopia, protanopia, tritanopia) and in greyscale print by lightness. A trigger has the same
colour in every figure; what is not a trigger (a study of several triggers, a mix not reported,
MCMC chains, prior and posterior) never takes a trigger's colour.

Figures are drawn at the report's column width (:data:`FIGURE_WIDTH`, which prints at 100% on
A4 and Letter with 15 mm margins) and saved at twice the screen resolution (:data:`DPI`), so
text in a figure is as large as the report's own text and stays sharp on paper and on
high-density screens.
"""

from __future__ import annotations

TRIGGER_COLORS: dict[str, str] = {
    "infection": "#0072B2",  # blue
    "malignancy": "#D55E00",  # vermillion
    "rheumatic": "#009E73",  # bluish green
    "other": "#CC79A7",  # reddish purple
    "unknown": "#E69F00",  # orange
}
"""Okabe-Ito colours of the models' trigger categories."""

MIXED_COLOR = "#000000"
"""A study whose patients have several triggers (Okabe-Ito black)."""
UNREPORTED_COLOR = "#8C8C8C"
"""A study whose trigger mix is not reported (grey: no trigger is implied)."""
POOLED_COLOR = "#000000"
"""Pooled estimates of a model without triggers (``random-effects``)."""
PRIOR_COLOR = "#8C8C8C"
POSTERIOR_COLOR = "#000000"
CHAIN_COLORS = ("#00224E", "#4F576C", "#948E77", "#D6C35D")
"""Four MCMC chains: the cividis colour map (designed for colour-vision deficiency) at 0, 0.3,
0.6 and 0.85, dark to light, so that chains never look like triggers. More chains cycle."""

FIGURE_WIDTH = 7.0
"""Inches: the report's column width (672 CSS pixels); every figure is this wide."""
DPI = 192
"""Twice 96, the CSS pixel density: figures are 2x images shown at their CSS width."""
FONT_SIZE = 9.0


def trigger_color(key: str | None) -> str:
    """The colour of a trigger, of ``mixed`` or of ``unreported``; black without a trigger."""
    if key in TRIGGER_COLORS:
        return TRIGGER_COLORS[key]
    if key == "unreported":
        return UNREPORTED_COLOR
    return MIXED_COLOR


def chain_color(chain: int) -> str:
    """The colour of MCMC chain number ``chain`` (from 0)."""
    return CHAIN_COLORS[chain % len(CHAIN_COLORS)]
