"""Checks on the free text of records: no control characters, and one line where one line is meant.

Text from a record reaches terminals, CSV exports and reports. A NUL byte, an escape sequence
or a bidirectional override (which makes text display in another order than it is stored) has
no place in it. Prose fields (notes, reasons, definitions, outcome summaries) may hold tabs and
line breaks; every other text field is one line.
"""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, and the bidirectional embeddings, overrides and isolates
_CONTROLS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
_IN_PROSE = re.compile(f"[{_CONTROLS}]")
_IN_LINE = re.compile(f"[{_CONTROLS}\t\n\r]")


def one_line(text: str) -> str:
    """``text`` if it is one line without control characters, else ``ValueError``."""
    return _check(text, _IN_LINE)


def prose(text: str) -> str:
    """``text`` if it holds no control character but tabs and line breaks, else ``ValueError``."""
    return _check(text, _IN_PROSE)


def _check(text: str, forbidden: re.Pattern[str]) -> str:
    found = forbidden.search(text)
    if found is None:
        return text
    char = found.group()
    where = f"(U+{ord(char):04X}) at character {found.start() + 1}"
    if char in "\t\n\r":
        raise ValueError(f"a line break or tab {where}; this field is one line of text")
    raise ValueError(f"a control character {where}; text may not hold one")
