"""The lock of an output folder: commands that write the same folder take turns.

A run folder and its history share one lock (:func:`guard`); :func:`reserve` holds the locks of
several folders at once, always in the same order, so two commands cannot wait on each other.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from hlhbayes.locking import Guard, hold

HISTORY = "history"


def guard(target: Path) -> Guard:
    """The lock, journal and leftover places of the output folder ``target`` (and its history)."""
    target = Path(target)
    return Guard.beside(target, target.parent / HISTORY / target.name)


@contextmanager
def reserve(*targets: Path, tidy: bool = False) -> Iterator[None]:
    """Hold the lock of every output folder of ``targets`` for the block (always in one order).

    A command that writes a folder holds it from before its first check (is the folder there,
    may it be replaced) to after its last write, so that a second command into the same folder
    waits, and then sees the first one's result, before it computes anything. ``tidy``: remove
    the stale leftovers of a killed command first.
    """
    guards = sorted({guard(t) for t in targets}, key=lambda g: str(g.lock.resolve()))
    with ExitStack() as stack:
        for g in guards:
            stack.enter_context(hold(g, tidy=tidy))
        yield
