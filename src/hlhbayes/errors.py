"""The one error type of the project: bad input or a domain problem, said in one line.

Library code raises :class:`HlhBayesError` (or a subclass, such as
:class:`hlhbayes.evidence.EvidenceError`, which lists every problem of an evidence base) when the
user can fix the cause: a file, a value, an option, a folder. Its message is complete as it
stands; the command line prints :meth:`HlhBayesError.user_message` as ``error: <message>`` and
exits with status 1. Python's own
exceptions (``ValueError``, ``TypeError``, ...) are kept for programming errors, and are not
caught.
"""

from __future__ import annotations


class HlhBayesError(Exception):
    """A problem with the user's input or data, with a message that names what to fix."""

    def user_message(self) -> str:
        """What the command line prints after ``error:`` (by default the message itself)."""
        return str(self)
