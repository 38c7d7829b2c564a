"""The output folder of ``cumulative`` and ``sensitivity``: one table, three ways, and a figure.

``<kind>.csv`` and ``<kind>.json`` (the table's rows, missing values as empty / null),
``<kind>.png`` and ``provenance.json``, written whole or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from hlhbayes import atomic, runs
from hlhbayes.spreadsheet import inert_frame


def write_output(
    out: Path,
    kind: str,
    frame: pd.DataFrame,
    provenance: dict[str, Any],
    draw: Callable[[Path], Any],
    force: bool = False,
) -> None:
    """Write the folder ``out`` (an existing one is replaced only with ``force``).

    ``draw(path)`` draws the figure to ``path``. Holds the folder's lock for the writing (the
    command holds it from before its first check: :func:`hlhbayes.runs.reserve`).
    """

    def files(folder: Path) -> None:
        # text a spreadsheet would run as a formula is made inert
        inert_frame(frame).to_csv(folder / f"{kind}.csv", index=False)
        atomic.write_json(folder / f"{kind}.json", frame.to_dict(orient="records"))
        atomic.write_json(folder / "provenance.json", provenance)
        draw(folder / f"{kind}.png")

    with runs.reserve(out, tidy=True):
        atomic.commit([atomic.stage(out, files)], force=force, journal=runs.guard(out).journal)
