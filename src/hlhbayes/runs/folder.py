"""What a run folder is: the files a fit writes, and the one object they are read back into.

A run folder holds

- ``fit.nc``: the DataTree (posterior, sample_stats, prior, prior_predictive,
  posterior_predictive, log_likelihood, observed_data); absent for an ``--method exact`` fit;
- ``summary.json``: the contract of DESIGN section 4 (model, outcome, data hash, seed, one record
  per quantity, diagnostics), and ``summary.csv``: the same records as a table, each with what
  its estimate rests on (direct patients and studies, share borrowed, flags, in words);
- ``probabilities.json``: P(rate > threshold) per quantity, cell and threshold;
- ``provenance.json``: data hash and source, model spec, seed, method, units, package versions,
  time, command, the cells the fit was asked for and (for a user's table) how its columns were
  read;
- ``sensitivity.json`` and ``sensitivity.csv``: the sensitivity table of the fit
  (:mod:`hlhbayes.living.reviewer`), when ``fit`` made it (the default) or ``report
  --sensitivity`` added it (:func:`add_sensitivity`): the JSON is the whole record (rows, cells,
  scenarios, hashes, seed, sampler settings, command, time), the CSV its rows;
- ``report/``: the run's report, once ``hlhbayes report`` has written it there (the default).

:func:`write_run` writes it whole or not at all; :func:`read_run` reads it into a :class:`Run`,
which opens ``fit.nc`` only when a group is asked for. No other module opens these files.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from hlhbayes.atomic import json_text, write_atomically, write_folder, write_json
from hlhbayes.errors import HlhBayesError
from hlhbayes.spreadsheet import inert_frame

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr

FIT = "fit.nc"
SUMMARY = "summary.json"
SUMMARY_CSV = "summary.csv"
PROBABILITIES = "probabilities.json"
PROVENANCE = "provenance.json"
SENSITIVITY = "sensitivity.json"
SENSITIVITY_CSV = "sensitivity.csv"
RUN_FILES = (PROVENANCE, SUMMARY, FIT)
"""The files every MCMC run folder has."""
REPORT = "report"
"""The folder in a run folder where ``hlhbayes report`` writes by default."""

SUMMARY_COLUMNS = [
    "quantity",
    "etiology",
    "line",
    "mean",
    "sd",
    "q2.5",
    "q50",
    "q97.5",
    "mcse_mean",
    "ess_bulk",
    "r_hat",
]


class RunContent(Protocol):
    """What a finished fit hands to :func:`write_run` (:class:`hlhbayes.pipeline.FitResult`)."""

    idata: xr.DataTree | None
    records: list[dict[str, Any]]
    probabilities: list[dict[str, Any]]
    provenance: dict[str, Any]
    sensitivity: dict[str, Any] | None

    def summary_json(self) -> dict[str, Any]:
        """The ``summary.json`` contract."""
        ...

    def summary_table(self) -> list[dict[str, Any]]:
        """The rows of ``summary.csv``: each record with what its estimate rests on."""
        ...


def summary_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """The summary records as a frame with the contract's columns."""
    import pandas as pd

    return pd.DataFrame(records, columns=SUMMARY_COLUMNS)


def write_run(result: RunContent, out: Path, keep_previous: Path | None = None) -> Path:
    """Write the run folder atomically: build it beside ``out``, then swap it into place.

    An earlier run in ``out`` is moved to ``keep_previous`` when given (see
    :func:`hlhbayes.runs.plan_output`), otherwise replaced. If the swap fails part-way the
    earlier run is put back; if the process is killed part-way, the next command that takes the
    folder's lock puts it back. The lock is held for the writing (a caller that checked the
    folder before computing holds it from then on: :func:`hlhbayes.runs.reserve`).
    """
    from hlhbayes.runs.locks import guard, reserve

    def fill(folder: Path) -> None:
        fill_run(result, folder)

    out = Path(out)
    with reserve(out, tidy=True):
        return write_folder(out, fill, keep_previous, journal=guard(out).journal)


def fill_run(result: RunContent, folder: Path) -> None:
    """Write the files of a run folder into the (empty) ``folder``."""
    import pandas as pd

    if result.idata is not None:
        result.idata.to_netcdf(folder / FIT)
    write_json(folder / SUMMARY, result.summary_json())
    table = pd.DataFrame(result.summary_table())
    inert_frame(table).to_csv(folder / SUMMARY_CSV, index=False, lineterminator="\n")
    write_json(folder / PROBABILITIES, result.probabilities)
    write_json(folder / PROVENANCE, result.provenance)
    if result.sensitivity is not None:
        for name, content in sensitivity_files(result.sensitivity).items():
            (folder / name).write_bytes(content)


def sensitivity_files(record: dict[str, Any]) -> dict[str, bytes]:
    """The two files of a sensitivity table: the record as JSON, its rows as CSV.

    ``record``: with ``columns`` and ``rows`` (:func:`hlhbayes.living.reviewer.reviewer_sensitivity`).
    Text a spreadsheet would run as a formula (a study id of a user's table) is made inert.
    """
    import pandas as pd

    frame = pd.DataFrame(record["rows"], columns=record["columns"])
    return {
        SENSITIVITY: json_text(record).encode("utf-8"),
        SENSITIVITY_CSV: inert_frame(frame).to_csv(index=False, lineterminator="\n").encode(),
    }


def add_sensitivity(path: Path, record: dict[str, Any]) -> None:
    """Store the sensitivity table ``record`` in the run folder ``path`` (replacing one there).

    Both files are written together or not at all, under the folder's lock; a folder that is
    not a run is refused (:class:`~hlhbayes.errors.HlhBayesError`) and left untouched.
    """
    from hlhbayes.runs.locks import guard, reserve

    path = Path(path)
    with reserve(path):
        read_run(path)
        files = sensitivity_files(record)
        write_atomically(
            {path / name: content for name, content in files.items()}, journal=guard(path).journal
        )


@dataclass(eq=False)
class Run:
    """A run folder read back: its summary, provenance and probabilities; ``fit.nc`` on demand."""

    path: Path
    summary: dict[str, Any]
    provenance: dict[str, Any] = field(default_factory=dict)
    probabilities: list[dict[str, Any]] = field(default_factory=list)
    sensitivity: dict[str, Any] | None = None
    """The sensitivity table (``sensitivity.json``), ``None`` when the run has none."""
    _groups: dict[str, xr.Dataset] = field(default_factory=dict, repr=False)
    _tree: xr.DataTree | None = field(default=None, repr=False)

    @property
    def model(self) -> str:
        """The model's name."""
        return str(self.summary["model"])

    @property
    def outcome(self) -> str:
        """``response`` or ``death``."""
        return str(self.summary["outcome"])

    @property
    def created(self) -> str:
        """ISO time the run was written (empty when unknown)."""
        return str(self.provenance.get("created") or "")

    @property
    def data_hash(self) -> str:
        """Content hash of the evidence base (or table) the run was fitted on."""
        return str(self.summary.get("data_hash") or self.provenance.get("data_hash") or "")

    @property
    def converged(self) -> bool | None:
        """The convergence gate's verdict (``None`` when not recorded)."""
        return (self.summary.get("diagnostics") or {}).get("converged")

    @property
    def spec(self) -> dict[str, Any]:
        """The model spec the run used (priors, options, filters, sampler)."""
        return dict(self.provenance.get("model_spec") or {})

    @property
    def cells(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The etiologies and lines the fit was asked for; empty: all (also for older runs)."""
        asked = self.provenance.get("cells") or {}
        return tuple(asked.get("etiologies") or ()), tuple(asked.get("lines") or ())

    @property
    def table_columns(self) -> dict[str, str | None]:
        """How the columns of a user's table were named (empty: found by their usual names)."""
        return dict(self.provenance.get("table_columns") or {})

    @property
    def has_draws(self) -> bool:
        """Whether the run has ``fit.nc`` (an exact-method run has no draws)."""
        return (self.path / FIT).is_file()

    def tree(self) -> xr.DataTree:
        """The whole DataTree of ``fit.nc``, loaded into memory (read once)."""
        if self._tree is None:
            import xarray as xr

            try:
                with xr.open_datatree(self.path / FIT) as tree:
                    self._tree = tree.load()
            except (OSError, ValueError) as exc:
                raise HlhBayesError(f"{self.path}: cannot read {FIT}: {exc}") from None
        return self._tree

    def group(self, name: str) -> xr.Dataset:
        """One group of ``fit.nc`` (e.g. ``posterior``) as a dataset, loaded (read once).

        Raises :class:`~hlhbayes.errors.HlhBayesError` when the run has no such group.
        """
        if self._tree is not None:
            return self._tree[name].to_dataset()
        if name not in self._groups:
            import xarray as xr

            try:
                with xr.open_datatree(self.path / FIT) as tree:
                    if name not in tree.children:
                        raise HlhBayesError(f"{self.path / FIT}: no {name} group in this run")
                    self._groups[name] = tree[name].to_dataset().load()
            except (OSError, ValueError) as exc:
                raise HlhBayesError(f"{self.path}: cannot read {FIT}: {exc}") from None
        return self._groups[name]

    def posterior_studies(self) -> list[str] | None:
        """The studies of the run's posterior (``None`` without ``fit.nc`` or a study dimension)."""
        if not self.has_draws:
            return None
        posterior = self.group("posterior")
        if "study" not in posterior.coords:
            return None
        return [str(s) for s in posterior["study"].values]


def report_dir(run: Path) -> Path:
    """Where the report of the run folder ``run`` goes by default: ``<run>/report``."""
    return Path(run) / REPORT


def missing_files(path: Path, names: Sequence[str] = RUN_FILES) -> list[str]:
    """The files of ``names`` that the folder ``path`` lacks."""
    return [name for name in names if not (Path(path) / name).is_file()]


def read_run(path: Path) -> Run:
    """Read the run folder at ``path``; :class:`~hlhbayes.errors.HlhBayesError` (one line) when it is not one."""
    path = Path(path)
    summary_path = path / SUMMARY
    if not summary_path.is_file():
        raise HlhBayesError(f"{path}: not a run folder (no {SUMMARY})")
    summary = _read_json(summary_path)
    provenance = _read_json(path / PROVENANCE) if (path / PROVENANCE).is_file() else {}
    probabilities = _read_json(path / PROBABILITIES) if (path / PROBABILITIES).is_file() else []
    sensitivity = _read_json(path / SENSITIVITY) if (path / SENSITIVITY).is_file() else None
    if not isinstance(summary, dict):
        raise HlhBayesError(f"{summary_path}: not a summary.json of hlhbayes")
    for key in ("model", "outcome", "summary"):
        if key not in summary:
            raise HlhBayesError(f"{summary_path}: no {key!r}: not a summary.json of hlhbayes")
    if not isinstance(provenance, dict):
        raise HlhBayesError(f"{path}: not a run folder ({PROVENANCE} is not a record)")
    if sensitivity is not None and not (
        isinstance(sensitivity, dict) and isinstance(sensitivity.get("rows"), list)
    ):
        raise HlhBayesError(f"{path / SENSITIVITY}: not a sensitivity table of hlhbayes")
    return Run(path, summary, provenance, probabilities, sensitivity)


def _read_json(file: Path) -> Any:
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HlhBayesError(f"{file.parent}: not a run folder ({file.name}: {exc})") from None
