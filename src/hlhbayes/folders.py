"""Putting a finished folder in place of another in one step, or not at all."""

from __future__ import annotations

import shutil
from pathlib import Path


def swap_into_place(staging: Path, target: Path, keep_previous: Path | None = None) -> None:
    """Rename the finished folder ``staging`` to ``target``.

    An existing ``target`` is moved aside first: to ``keep_previous`` when given (where it
    stays), otherwise to a hidden sibling that is deleted once the swap has succeeded. If the
    final rename fails, the old ``target`` is put back.
    """
    if not target.exists():
        staging.rename(target)
        return
    aside = keep_previous if keep_previous is not None else target.with_name(f".{target.name}.old")
    if keep_previous is None:
        shutil.rmtree(aside, ignore_errors=True)
    aside.parent.mkdir(parents=True, exist_ok=True)
    target.rename(aside)
    try:
        staging.rename(target)
    except BaseException:
        aside.rename(target)
        raise
    if keep_previous is None:
        shutil.rmtree(aside, ignore_errors=True)
