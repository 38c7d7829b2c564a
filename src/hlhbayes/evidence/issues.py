"""Validation findings with their location, and the error that carries them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from hlhbayes.errors import HlhBayesError
from hlhbayes.quoting import quoted


@dataclass(frozen=True, order=True)
class Issue:
    """One problem in one place: file, row (or record path) and field."""

    file: str
    row: str
    field: str
    message: str

    def __str__(self) -> str:
        parts = [self.file, self.row, self.field]
        return ": ".join(p for p in parts if p) + f": {self.message}"


class EvidenceError(HlhBayesError):
    """Raised when the evidence base (or a file to be added to it) is invalid.

    Carries every issue found, not just the first, so a user can fix them all at once.
    """

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = sorted(set(issues))
        super().__init__("\n".join(str(i) for i in self.issues))

    def user_message(self) -> str:
        """The count of problems, then one line per issue."""
        count = len(self.issues)
        return f"{count} problem{'s' if count != 1 else ''} found:\n{self}"


# A record-level rule names its field first: "events: events (9) > total (5)".
_FIELD_NAME = re.compile(r"[a-z][a-z0-9_]*")
# Parts of pydantic's ``loc`` that name a validator or a union member, not a place in the file.
_NOT_LOCATIONS = frozenset({"function-after", "function-before", "int", "float", "str", "bool"})


def _validator_part(part: object) -> bool:
    """A validator or union member in ``loc`` (``function-after[one_line(), str]``), not a place."""
    return isinstance(part, str) and (
        part in _NOT_LOCATIONS or part.startswith(("function-after[", "function-before["))
    )


def issues_from_pydantic(file: str, errors: list[dict[str, Any]], row_of=None) -> list[Issue]:
    """Turn pydantic's error list into located issues.

    ``loc`` such as ``("strata", 2, "events")`` becomes row ``strata[2]`` and field ``events``.
    Record-level rules put the field name first in their message (``"events: ..."``).
    ``row_of`` maps the leading loc element to a row label (used for CSV rows).
    """
    found = []
    for err in errors:
        loc = list(err["loc"])
        if loc and loc[-1] == "[key]":  # a bad dict key: the key itself is in the message
            loc = loc[:-2]
        tail = loc[-1:] if err["type"] == "extra_forbidden" else []  # the unknown key itself
        loc = [p for p in loc[: len(loc) - len(tail)] if not _validator_part(p)] + tail
        message = str(err["msg"]).removeprefix("Value error, ")
        path: list[str] = []
        field = ""
        for part in loc:
            if isinstance(part, int):
                if path:
                    path[-1] = f"{path[-1]}[{part}]"
                else:
                    path.append(f"[{part}]")
            else:
                path.append(str(part))
        head, colon, rest = message.partition(": ")
        if err["type"] == "value_error" and colon and _FIELD_NAME.fullmatch(head):
            field, message = head, rest
        elif path and not path[-1].endswith("]"):
            field = path.pop()
        row = ".".join(path)
        if row_of is not None:
            row = row_of(row)
        if err["type"] not in ("missing", "value_error") and "input" in err:
            message = f"{message} (got {quoted(err['input'])})"
        found.append(Issue(file, row, field, message))
    return found
