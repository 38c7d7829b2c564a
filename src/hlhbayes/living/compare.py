"""Before and after: every reported quantity of two runs of the same analysis, side by side.

Records are matched by (quantity, etiology, line). For each: mean and 95% interval in run A
(before) and run B (after), the **shift in posterior standard deviations**
``(mean_B - mean_A) / sd_A`` (how far the estimate moved, in units of the earlier uncertainty),
and the **width change** of the 95% interval, absolute ``width_B - width_A`` and relative
``width_B / width_A - 1`` (negative: the estimate got more precise).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hlhbayes.errors import HlhBayesError
from hlhbayes.quoting import quoted
from hlhbayes.runs import Run, read_run

KEY = ("quantity", "etiology", "line")
COLUMNS = [
    "quantity",
    "etiology",
    "line",
    "mean_a",
    "q2.5_a",
    "q97.5_a",
    "sd_a",
    "mean_b",
    "q2.5_b",
    "q97.5_b",
    "sd_b",
    "shift_sd",
    "width_a",
    "width_b",
    "width_change",
    "width_change_rel",
]


@dataclass
class Comparison:
    """Two runs of one analysis and their matched records."""

    run_a: Run
    run_b: Run
    frame: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """Runs, matched records and notes as plain JSON types (missing values as null)."""
        return {
            "run_a": describe_run(self.run_a),
            "run_b": describe_run(self.run_b),
            "records": frame_records(self.frame),
            "notes": list(self.notes),
        }


def describe_run(run: Run) -> dict[str, Any]:
    """What identifies a run in a comparison."""
    return {
        "path": str(run.path),
        "model": run.model,
        "outcome": run.outcome,
        "data_hash": run.data_hash,
        "created": run.created or None,
        "converged": run.converged,
    }


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts with NaN turned into ``None``."""
    out = []
    for row in frame.to_dict(orient="records"):
        out.append({k: (None if _missing(v) else v) for k, v in row.items()})
    return out


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def check_comparable(a: dict[str, Any], b: dict[str, Any], name_a: str, name_b: str) -> None:
    """Refuse runs of different models or outcomes (one-line :class:`~hlhbayes.errors.HlhBayesError`)."""
    if (a["model"], a["outcome"]) != (b["model"], b["outcome"]):
        raise HlhBayesError(
            f"cannot compare runs of different analyses: {name_a} is "
            f"{a['model']}/{a['outcome']}, {name_b} is {b['model']}/{b['outcome']}"
        )


def compare_records(records_a: list[dict], records_b: list[dict]) -> pd.DataFrame:
    """Match two runs' summary records; quantities found in only one run keep empty cells."""
    index_b = {tuple(r[k] for k in KEY): r for r in records_b}
    seen = set()
    rows = []
    for ra in records_a:
        key = tuple(ra[k] for k in KEY)
        seen.add(key)
        rows.append(_row(key, ra, index_b.get(key)))
    for key, rb in index_b.items():
        if key not in seen:
            rows.append(_row(key, None, rb))
    return pd.DataFrame(rows, columns=COLUMNS)


def _row(key: tuple, ra: dict | None, rb: dict | None) -> dict[str, Any]:
    row: dict[str, Any] = dict(zip(KEY, key, strict=True))
    for suffix, rec in (("a", ra), ("b", rb)):
        for name in ("mean", "q2.5", "q97.5", "sd"):
            # None: absent from the run, or a moment that does not exist (an exact fit's)
            value = None if rec is None else rec[name]
            row[f"{name}_{suffix}"] = np.nan if value is None else float(value)
    row["width_a"] = row["q97.5_a"] - row["q2.5_a"]
    row["width_b"] = row["q97.5_b"] - row["q2.5_b"]
    sd_a = row["sd_a"]
    row["shift_sd"] = (row["mean_b"] - row["mean_a"]) / sd_a if sd_a and sd_a > 0 else np.nan
    row["width_change"] = row["width_b"] - row["width_a"]
    row["width_change_rel"] = (
        row["width_b"] / row["width_a"] - 1 if row["width_a"] and row["width_a"] > 0 else np.nan
    )
    return row


def spec_differences(spec_a: dict[str, Any], spec_b: dict[str, Any]) -> list[str]:
    """Priors, options and filters that differ between two runs' specs (sampler ignored)."""
    out = []
    for part in ("priors", "options", "filters"):
        a, b = spec_a.get(part) or {}, spec_b.get(part) or {}
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                out.append(f"{part} {key}: {quoted(a.get(key))} -> {quoted(b.get(key))}")
    return out


def compare_runs(path_a: Path, path_b: Path) -> Comparison:
    """Compare two run folders of the same model and outcome (A: before, B: after)."""
    run_a, run_b = read_run(path_a), read_run(path_b)
    check_comparable(run_a.summary, run_b.summary, str(path_a), str(path_b))
    return comparison(run_a, run_b)


def comparison(run_a: Run, run_b: Run) -> Comparison:
    """The :class:`Comparison` of two runs already read (and checked comparable)."""
    frame = compare_records(run_a.summary["summary"], run_b.summary["summary"])
    notes = []
    if run_a.data_hash and run_a.data_hash == run_b.data_hash:
        notes.append("both runs used the same evidence base (same data hash)")
    if run_a.spec and run_b.spec:
        for diff in spec_differences(run_a.spec, run_b.spec):
            notes.append(f"the runs' specs differ: {diff}")
    for label, run in (("A", run_a), ("B", run_b)):
        if run.converged is False:
            notes.append(f"run {label} ({run.path}) did NOT converge: treat its numbers with care")
    return Comparison(run_a, run_b, frame, notes)


def default_figure(path_a: Path, path_b: Path) -> Path:
    """``compare-<A>-vs-<B>.png`` beside run B (the folder names of both runs)."""
    a, b = Path(path_a).resolve(), Path(path_b).resolve()
    return b.parent / f"compare-{a.name}-vs-{b.name}.png"


def write_figure(result: Comparison, path: Path) -> Path:
    """Draw the intervals of both runs side by side to ``path`` (PNG)."""
    from hlhbayes.living.figures import compare_figure

    a = result.run_a
    title = f"{a.model}/{a.outcome}: A = {a.path}, B = {result.run_b.path}"
    return compare_figure(result.frame, path, title)


def largest_shifts(frame: pd.DataFrame, n: int = 3) -> pd.DataFrame:
    """The ``n`` records that moved most (largest absolute shift in SDs)."""
    shifted = frame.dropna(subset=["shift_sd"])
    order = shifted["shift_sd"].abs().sort_values(ascending=False).index
    return shifted.loc[order[:n]]


def label(row: dict[str, Any] | pd.Series) -> str:
    """``rate_new infection/later`` or ``tau``."""
    cell = "/".join(str(row[k]) for k in ("etiology", "line") if not _missing(row[k]))
    return f"{row['quantity']} {cell}".strip()
