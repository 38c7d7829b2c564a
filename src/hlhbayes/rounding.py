"""The rounding rule of every printed number: significant digits, rates and probabilities.

Terminal tables (``hlhbayes.cli.tables``) and the design commands' text
(``hlhbayes.design.text``) print numbers through these helpers; ``--format json`` and CSV carry
full precision.

- :func:`number`: about three significant digits (shapes, effective sample sizes, standard
  deviations, log-likelihoods); :func:`compact` the same without trailing zeros (counts and
  stated figures: ``21``, ``0.5``, ``18.5``);
- :func:`rate`: three decimals (response rates, their means, quantiles and differences);
- :func:`probability`: three decimals, with ``<0.001`` and ``>0.999`` for values that are not
  exactly 0 or 1 (weights, posterior probabilities, power).
"""

from __future__ import annotations

import math

SIGNIFICANT = 3
"""Significant digits of a printed number (:func:`number`)."""

DECIMALS = 3
"""Decimals of a printed rate or probability (:func:`rate`, :func:`probability`)."""


def number(value: float | None, digits: int = SIGNIFICANT) -> str:
    """``value`` to ``digits`` significant digits; its whole part is never rounded away.

    ``36.817`` -> ``36.8``, ``7.2`` -> ``7.20``, ``0.084233`` -> ``0.0842``, ``4250.8`` ->
    ``4251``, ``0`` -> ``0``; below ``1e-4`` in size, scientific (``1.23e-05``); ``None`` ->
    ``-``.
    """
    if value is None:
        return "-"
    x = float(value)
    if not math.isfinite(x):
        return str(x)
    if x == 0:
        return "0"
    rounded = float(f"{x:.{digits - 1}e}")  # the carry of 9.996 -> 10.0 moves the exponent
    exponent = math.floor(math.log10(abs(rounded)))
    if exponent < -4:
        return f"{x:.{digits - 1}e}"
    return f"{x:.{max(0, digits - 1 - exponent)}f}"


def compact(value: float) -> str:
    """:func:`number` without trailing zeros: ``Beta(1, 1)``, ``Beta(12.1, 1.48)``, ``21``."""
    text = number(value)
    if "." in text and "e" not in text:
        text = text.rstrip("0").rstrip(".")
    return text


def rate(value: float | None, decimals: int = DECIMALS) -> str:
    """A rate (or a difference of rates) to ``decimals`` decimals (``None`` -> ``-``)."""
    if value is None:
        return "-"
    text = f"{float(value):.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def probability(value: float | None, decimals: int = DECIMALS) -> str:
    """A probability to ``decimals`` decimals; ``<0.001`` / ``>0.999`` when not exactly 0 / 1."""
    if value is None:
        return "-"
    x = float(value)
    half = 0.5 * 10.0**-decimals
    if 0.0 < x < half:
        return f"<{10.0**-decimals:.{decimals}f}"
    if 1.0 - half <= x < 1.0:
        return f">{1.0 - 10.0**-decimals:.{decimals}f}"
    return rate(x, decimals)
