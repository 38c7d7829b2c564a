"""Ctrl-C stops a command, and nothing half-written is kept.

Python turns SIGINT into ``KeyboardInterrupt``; the command line ends any command it reaches with
exit status 130 and one line. Two things could go wrong on the way out, and this module covers
both:

- a library catches the interrupt and carries on (PyMC's sampler returns the draws it has):
  while :func:`watching` is in force (the command line keeps it for the whole command) every
  SIGINT is recorded, and :func:`check` raises ``KeyboardInterrupt`` again where the project must
  not go on: after sampling, and before any change is written;
- an interrupt between the renames of a change would leave it half done until the next command
  undoes it: :func:`deferred` holds SIGINT back for the few milliseconds of those renames and
  raises it once they are over.

Signal handlers belong to the main thread; elsewhere these do nothing. A SIGINT that was being
ignored (a command started in the background) stays ignored.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_state = {"watching": False, "interrupted": False}


@contextmanager
def _handling(handler) -> Iterator[bool]:
    """SIGINT goes to ``handler`` while the block runs (yields whether it could be installed)."""
    main = threading.current_thread() is threading.main_thread()
    if not main or signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        yield False
        return
    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield True
    finally:
        signal.signal(signal.SIGINT, previous)


def _record(_signum: int, _frame: object) -> None:
    _state["interrupted"] = True
    raise KeyboardInterrupt


@contextmanager
def watching() -> Iterator[None]:
    """Record every SIGINT while the block runs (each still raises ``KeyboardInterrupt``)."""
    with _handling(_record) as installed:
        _state.update(watching=installed, interrupted=False)
        try:
            yield
        finally:
            _state.update(watching=False, interrupted=False)


def check() -> None:
    """Raise ``KeyboardInterrupt`` if Ctrl-C was pressed during :func:`watching`, even if caught."""
    if _state["interrupted"]:
        raise KeyboardInterrupt


@contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT back while the block runs; raise ``KeyboardInterrupt`` after it if one came."""
    received: list[int] = []
    try:
        with _handling(lambda signum, _frame: received.append(signum)):
            yield
    finally:
        if received and _state["watching"]:
            _state["interrupted"] = True
    if received:
        raise KeyboardInterrupt
