"""Did you mean ...?: the nearest of the names a user could have meant (``difflib``)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(word: str, names: Iterable[str], n: int = 3) -> list[str]:
    """The names most like ``word`` (case ignored), best first; empty if none is close."""
    names = list(names)
    by_lower = {name.lower(): name for name in names}
    found = difflib.get_close_matches(word.lower(), list(by_lower), n=n, cutoff=0.6)
    if not found:  # a prefix ("infect") is a near miss too
        found = [low for low in by_lower if low.startswith(word.lower())][:n] if word else []
    return [by_lower[low] for low in found]


def did_you_mean(word: str, names: Iterable[str]) -> str:
    """``did you mean 'x'?`` (or ``'x' or 'y'``) for the closest names; empty if none is close."""
    found = closest(word, names)
    if not found:
        return ""
    return "did you mean " + " or ".join(f"'{name}'" for name in found) + "?"
