"""Quoting a user's input in a message: short, on one line, and cheap whatever the input.

Every message that echoes a value read from a file or the command line goes through
:func:`quoted`, so a 10 MB cell, a value with newlines or a deeply shared structure becomes at
most :data:`QUOTE_LIMIT` characters of ``repr`` on one line.
"""

from __future__ import annotations

import reprlib

QUOTE_LIMIT = 100
"""Characters of a quoted value shown in a message (longer ones are cut, with their length)."""

# reprlib bounds the work as well as the text: nested containers stop at ``maxlevel`` and each
# shows only its first elements, so quoting never walks (or expands) a whole structure.
_REPR = reprlib.Repr(
    maxlevel=3,
    maxtuple=4,
    maxlist=4,
    maxarray=4,
    maxdict=4,
    maxset=4,
    maxfrozenset=4,
    maxdeque=4,
    maxstring=QUOTE_LIMIT + 2,  # the quotes
    maxlong=QUOTE_LIMIT,
    maxother=QUOTE_LIMIT,
)


def quoted(value: object, limit: int = QUOTE_LIMIT) -> str:
    """``repr(value)`` cut to ``limit`` characters, on one line.

    A cut string says how long it was: ``'aaaa…' (5000 characters)``.
    """
    if isinstance(value, str):
        text = repr(value[:limit])
        if len(value) > limit or len(text) > limit:
            return f"{text[:limit]}… ({len(value)} characters)"
        return text
    if isinstance(value, int) and value.bit_length() > 4 * limit:  # repr would be long or fail
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    text = _REPR.repr(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def cut_line(text: str, limit: int = 2 * QUOTE_LIMIT) -> str:
    """Another library's message (which may quote input) on one line of at most ``limit``."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def field_label(name: object) -> str:
    """A key or column name as the field of a message: itself when short and printable."""
    if isinstance(name, str) and name.isprintable() and 0 < len(name) <= 40:
        return name
    return quoted(name, 40)
