"""Fixed text of a report: the question the run answers, and paths as a reader sees them.

The model's equations and the meaning of its parameters are the model's own
(:class:`hlhbayes.models.base.ModelText`): plain Unicode (no MathJax), so the report reads
offline.
"""

from __future__ import annotations

from pathlib import Path


def question(has_cells: bool, outcome: str, table: str | None) -> str:
    """The clinical question the run answers (by etiology and line when the model has cells)."""
    if table is not None:
        return (
            f"What is the pooled event rate across the studies of {table}, in a typical study "
            "and in a new study?"
        )
    what = (
        "how often does anakinra control secondary haemophagocytic lymphohistiocytosis (sHLH)"
        if outcome == "response"
        else "how often do patients with secondary HLH treated with anakinra die (mortality "
        "at last follow-up as reported)"
    )
    if not has_cells:
        return f"Across studies, {what}? (one pooled rate, all triggers and lines together)"
    return (
        f"{what[0].upper()}{what[1:]}, and how does that depend on the "
        "trigger (infection, malignancy, rheumatic disease, other, unknown) and on the line of "
        "therapy (anakinra first, or after another treatment failed)?"
    )


def shown_path(path: str) -> str:
    """``path`` relative to the working folder when it lies inside it (reports travel)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return path
