"""The Python API: load the evidence, fit a model, summarise, save, report.

The same pipeline as ``hlhbayes fit`` and ``hlhbayes report``, for scripts and notebooks::

    import hlhbayes

    evidence = hlhbayes.load_evidence()
    fit = hlhbayes.fit(etiology="infection", seed=1)
    fit.summary()                       # pandas DataFrame, 95 % equal-tailed intervals
    fit.diagnostics.converged           # the convergence gate of the command line
    fit.sensitivity()                   # how the rates move under other priors, small series
    fit.save("runs/infection")          # a run folder: hlhbayes report runs/infection
    fit.report(out_dir="reports")       # HTML and Markdown

    import arviz as az
    az.loo(fit.idata)                   # one pointwise log-likelihood: no var_name needed

**Interval policy.** Every interval this package reports is the 95 % equal-tailed interval:
the 2.5 % and 97.5 % quantiles of the draws (columns ``q2.5`` and ``q97.5``). ArviZ 1.x
defaults to 89 %; pass ``ci_prob=0.95`` (and ``ci_kind="eti"``) to ``arviz.summary`` and to
ArviZ's plots to see the same intervals.

**The DataTree** (:attr:`Fit.idata`) has the groups ``posterior`` (parameters and the derived
``rate_typical`` / ``rate_new``), ``sample_stats``, ``prior``, ``prior_predictive``,
``posterior_predictive``, ``log_likelihood`` and ``observed_data``; every group with ``chain``
/ ``draw`` dimensions has coordinates on them. ``log_likelihood`` holds one variable, ``y``,
along the dimension ``unit`` (every patient, then every aggregate stratum), with the coordinate
``observed`` naming each unit's observed variable (``y_patient`` or ``y_stratum``); see
:mod:`hlhbayes.datatree`.

Nothing heavy is imported until it is used: ``import hlhbayes`` loads neither PyMC nor ArviZ.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import xarray as xr

    from hlhbayes.evidence import EvidenceBase
    from hlhbayes.pipeline import FitResult, Prepared
    from hlhbayes.priors import Prior
    from hlhbayes.summary import Diagnostics

INTERVAL = 0.95
"""The probability of every interval reported (equal-tailed: the 2.5 % and 97.5 % quantiles)."""


class ConvergenceWarning(UserWarning):
    """A fit failed the convergence gate: its estimates are not to be used as they are."""


def load_evidence(path: str | Path | None = None) -> EvidenceBase:
    """Load and validate the evidence base.

    Parameters
    ----------
    path
        The folder of an evidence base (with ``studies/`` and ``patients/``). Default: the
        workspace's (found upwards from the current folder), else ``$HLHBAYES_DATA``, else the
        base shipped with the package (read-only).

    Returns
    -------
    EvidenceBase
        The studies and patient rows, with ``studies_frame()``, ``strata_frame()``,
        ``patients_frame()`` and the ``content_hash`` stamped into every result.

    Raises
    ------
    hlhbayes.evidence.EvidenceError
        Listing every problem found, each located by file, row and field.
    """
    from hlhbayes.evidence import load_evidence as load

    return load(Path(path) if path is not None else None)


def fit(
    etiology: str | Sequence[str] = (),
    line: str | Sequence[str] = (),
    outcome: str | None = None,
    priors: Mapping[str, str | Prior] | None = None,
    seed: int = 1,
    *,
    model: str | None = None,
    data: EvidenceBase | str | Path | None = None,
    filters: Mapping[str, Any] | None = None,
    draws: int | None = None,
    tune: int | None = None,
    chains: int | None = None,
    target_accept: float | None = None,
    sampler: str | None = None,
    thresholds: Sequence[float] | None = None,
    method: str = "mcmc",
) -> Fit:
    """Fit a model to the evidence base: ``hlhbayes fit`` as a function.

    Everything is validated before sampling starts; a problem raises
    :class:`~hlhbayes.errors.HlhBayesError` with a one-line message. A fit that fails the
    convergence gate (R-hat, bulk ESS, divergences) is returned, and a
    :class:`ConvergenceWarning` says what failed and what to change.

    Parameters
    ----------
    etiology, line
        The etiology x line cells asked for (one name or several; default all). They choose
        what :meth:`Fit.summary` shows and what the report focuses on; every cell is fitted.
    outcome
        ``"response"`` (default) or ``"death"``.
    priors
        Prior overrides by parameter, as text (``{"tau": "halfnormal:0.5"}``) or
        :class:`~hlhbayes.priors.Prior`; merged over the model's defaults and its spec file.
    seed
        The random seed: the same inputs and seed give the same numbers.
    model
        The model's name (default ``etiology-line``; see ``hlhbayes fit --help``).
    data
        An evidence base (from :func:`load_evidence`) or the folder of one; for a model that
        fits one count per study also a CSV table of ``study, events, total``. Default: as
        :func:`load_evidence`.
    filters
        Which evidence enters: ``population``, ``conditions``, ``exclude_studies``,
        ``exclude_derived``, ``death_timeframes``, ``include_after_anakinra_failure`` (the
        options of ``hlhbayes fit`` of the same names).
    draws, tune, chains, target_accept, sampler
        Sampler settings (default: the model's spec file, else 4 chains x 1000 draws, 500
        tuning, target_accept 0.95, PyMC's NUTS).
    thresholds
        Report P(rate > threshold) for each (:meth:`Fit.probabilities`); default: the spec's
        thresholds, each stated there with its clinical reason.
    method
        ``"mcmc"``, or ``"exact"`` (quadrature; ``random-effects`` only; no draws).
    """
    from hlhbayes import pipeline
    from hlhbayes.evidence import EvidenceBase
    from hlhbayes.models import DEFAULT_MODEL
    from hlhbayes.models.spec import load_spec
    from hlhbayes.priors import Prior

    name = model or DEFAULT_MODEL
    overrides = {
        key: value if isinstance(value, Prior) else Prior.parse(value)
        for key, value in (priors or {}).items()
    }
    spec = load_spec(
        name,
        prior_overrides=overrides,
        filter_overrides={"outcome": outcome, **(filters or {})},
        sampler_overrides={
            "draws": draws,
            "tune": tune,
            "chains": chains,
            "target_accept": target_accept,
            "sampler": sampler,
        },
    )
    base = data if isinstance(data, EvidenceBase) else None
    given = {
        "etiology": etiology,
        "line": line,
        "outcome": outcome,
        "priors": dict(priors) if priors else None,
        "seed": seed,
        "model": model,
        "data": str(base.root) if base is not None else (str(data) if data is not None else None),
        "filters": dict(filters) if filters else None,
        "draws": draws,
        "tune": tune,
        "chains": chains,
        "target_accept": target_accept,
        "sampler": sampler,
        "thresholds": tuple(thresholds) if thresholds is not None else None,
        "method": method,
    }
    call = ", ".join(f"{k}={v!r}" for k, v in given.items() if v not in (None, (), "mcmc"))
    request = pipeline.FitRequest(
        spec=spec,
        data=base.root if base is not None else (Path(data) if data is not None else None),
        seed=seed,
        thresholds=tuple(thresholds) if thresholds is not None else spec.threshold_values(),
        method=method,
        command=[f"hlhbayes.fit({call})"],  # the provenance's record of how it was made
        etiologies=_names(etiology),
        lines=_names(line),
    )
    prepared = pipeline.prepare(request, base)
    result = pipeline.run_fit(prepared)
    done = Fit(result, prepared=prepared)
    if not result.diagnostics.converged:
        problems = "; ".join(result.diagnostics.problems())
        warnings.warn(
            f"the fit did NOT converge; do not use these estimates ({problems})",
            ConvergenceWarning,
            stacklevel=2,
        )
    return done


def _names(value: str | Sequence[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


@dataclass
class Fit:
    """A finished fit: its DataTree, summaries, diagnostics, and what it was asked for.

    Made by :func:`fit`. :meth:`save` writes it as a run folder (what ``hlhbayes fit``
    writes); :meth:`report` then renders it.
    """

    result: FitResult
    """The pipeline's result (summary records, provenance, evidence units)."""
    run_folder: Path | None = field(default=None)
    """Where :meth:`save` last wrote the fit (``None`` until then)."""
    prepared: Prepared | None = field(default=None, repr=False)
    """The fit as prepared (its units and evidence base); rebuilt from the provenance if absent."""

    @property
    def idata(self) -> xr.DataTree:
        """The posterior as an ``xarray.DataTree`` (see the module docstring for its groups).

        Raises :class:`~hlhbayes.errors.HlhBayesError` for an ``exact`` fit, which has no draws.
        """
        from hlhbayes.errors import HlhBayesError

        if self.result.idata is None:
            raise HlhBayesError("an exact (quadrature) fit has no draws; fit with method='mcmc'")
        return self.result.idata

    @property
    def model(self) -> str:
        """The model's name."""
        return self.result.model

    @property
    def outcome(self) -> str:
        """``response`` or ``death``."""
        return self.result.outcome

    @property
    def diagnostics(self) -> Diagnostics:
        """The convergence gate: ``max_r_hat``, ``min_ess_bulk``, ``divergences``, ``converged``.

        ``problems()`` lists what failed, each with a remedy.
        """
        return self.result.diagnostics

    @property
    def converged(self) -> bool:
        """Whether the fit passed the convergence gate (R-hat <= 1.01, bulk ESS >= 400, no divergence)."""
        return self.result.diagnostics.converged

    @property
    def provenance(self) -> dict[str, Any]:
        """Data hash and source, model spec and priors, seed, versions, time."""
        return self.result.provenance

    def summary(self, all_cells: bool = False) -> pd.DataFrame:
        """One row per quantity and cell: mean, sd, 95 % equal-tailed interval, MCSE, ESS, R-hat.

        The columns are those of ``summary.json``'s records (``summary.csv`` adds what each
        estimate rests on): ``quantity, etiology, line, mean, sd, q2.5, q50, q97.5, mcse_mean,
        ess_bulk, r_hat``; ``q2.5`` and ``q97.5`` bound the 95 %
        interval (not ArviZ's default 89 %). The hyperparameters come first (no etiology or
        line), then ``rate_typical`` and ``rate_new`` of the cells the fit was asked for (all
        cells with ``all_cells``). ``DataFrame.attrs["converged"]`` carries the gate's verdict.
        """
        from hlhbayes.pipeline import records_of_cells
        from hlhbayes.runs import summary_frame

        asked = self.result.provenance["cells"]
        records = (
            self.result.records
            if all_cells
            else records_of_cells(self.result, tuple(asked["etiologies"]), tuple(asked["lines"]))
        )
        frame = summary_frame(records)
        frame.attrs["interval"] = INTERVAL
        frame.attrs["converged"] = self.converged
        return frame

    def probabilities(self) -> pd.DataFrame:
        """P(rate > threshold) for every reported rate, cell and threshold asked for."""
        import pandas as pd

        return pd.DataFrame(
            self.result.probabilities,
            columns=["quantity", "etiology", "line", "threshold", "probability"],
        )

    def draws(
        self, quantity: str = "rate_new", etiology: str | None = None, line: str | None = None
    ) -> np.ndarray:
        """The posterior draws of one quantity (of one cell), chains pooled: a 1-d array.

        ``fit.draws("rate_new", "infection", "first")`` are the MAP prior's draws for that
        cell, ready for :func:`hlhbayes.design.map_prior`.
        """
        import numpy as np

        from hlhbayes.errors import HlhBayesError

        posterior = self.idata["posterior"].to_dataset()
        if quantity not in posterior:
            raise HlhBayesError(f"no posterior {quantity!r}; have: {', '.join(posterior)}")
        da = posterior[quantity]
        chosen = {"etiology": etiology, "line": line}
        for dim in (d for d in da.dims if d not in ("chain", "draw")):
            valid = [str(v) for v in da[dim].values]
            if chosen.get(dim) not in valid:
                raise HlhBayesError(f"{quantity}: give {dim}= one of {', '.join(valid)}")
            da = da.sel({dim: chosen[dim]})
        return np.asarray(da.values, dtype=float).ravel()

    def sensitivity(self, progress: bool = False) -> pd.DataFrame:
        """How the rates move under the changes a guideline reviewer asks for: one row each.

        The scenarios of ``hlhbayes fit``'s sensitivity table (which the command line makes by
        default): the heterogeneity prior ``tau`` and the etiology-spread prior ``sigma_eta``
        at half and double their scale and half-Cauchy, the series of fewer than 5 patients
        left out, and the series of fewer than 10 patients with every outcome favourable at
        likelihood weight 0.5. Each is this fit with one change (its data, sampler settings and
        seed), all fitted in one batch the first time this is called (tens of seconds once the
        programs are compiled); the fit itself is the ``baseline`` row. :meth:`save` then
        stores the table in the run folder, and :meth:`report` shows it.

        Columns: ``scenario, group, change, in_words, etiology, line, quantity, mean, lower,
        upper, lower_vs_baseline, status, reason``, for the cells the fit was asked for and both
        rates; ``lower`` and ``upper`` bound the 95 % equal-tailed interval and
        ``lower_vs_baseline`` is how far ``lower`` moves from the fit's own. A scenario that
        failed its convergence gate has status ``not converged`` (its numbers shown, not to be
        used); one that could not be fitted, ``not run`` or ``not estimable`` with the
        ``reason``. ``DataFrame.attrs["record"]`` holds the whole record (scenarios, hashes,
        seed, sampler settings). ``progress``: print the progress of the batch.
        """
        import pandas as pd

        from hlhbayes.errors import HlhBayesError
        from hlhbayes.living.reviewer import COLUMNS, prepared_from_provenance, reviewer_sensitivity
        from hlhbayes.models import select_cells

        result = self.result
        if result.idata is None:
            raise HlhBayesError("an exact (quadrature) fit has no sensitivity table; fit by MCMC")
        if result.sensitivity is None:
            if self.prepared is None:
                self.prepared = prepared_from_provenance(result.provenance)
            asked = result.provenance["cells"]
            cells = select_cells(
                self.prepared.model, tuple(asked["etiologies"]), tuple(asked["lines"])
            )
            result.sensitivity = reviewer_sensitivity(
                self.prepared,
                cells,
                result.records,
                result.diagnostics.converged,
                print if progress else (lambda _m: None),
                result.provenance.get("command"),
            )
        record = result.sensitivity
        frame = pd.DataFrame(record["rows"], columns=list(COLUMNS))
        frame.attrs["interval"] = INTERVAL
        frame.attrs["record"] = record
        return frame

    def save(self, run_folder: str | Path, force: bool = False) -> Path:
        """Write the fit as a run folder (``fit.nc``, ``summary.json``, ...); returns its path.

        With the sensitivity table when :meth:`sensitivity` made it. The folder is written whole or not at all, under its lock, exactly as ``hlhbayes fit
        --out RUN_FOLDER`` writes it; ``hlhbayes report``, ``design map`` and ``compare``
        read it. A folder that exists and is not empty is refused unless ``force`` (then it is
        replaced).
        """
        from hlhbayes.runs import plan_output, reserve, write_run

        out = Path(run_folder)
        with reserve(out):
            target, keep_previous = plan_output(out, out, force)
            write_run(self.result, target, keep_previous)
        self.run_folder = target
        return target

    def report(
        self,
        out_dir: str | Path = "reports",
        name: str | None = None,
        fmt: str = "both",
        etiology: str | Sequence[str] = (),
        line: str | Sequence[str] = (),
        thresholds: Sequence[float] = (),
        sensitivity: bool = False,
    ) -> list[Path]:
        """Write the report (``hlhbayes report``) of the saved fit to ``<out_dir>/<name>/``.

        Call :meth:`save` first: a report is made from a run folder. ``name`` defaults to the
        run folder's name, ``fmt`` is ``html``, ``md`` or ``both``; ``etiology``, ``line`` and
        ``thresholds`` focus it (default: what the fit was asked for). ``sensitivity``: if the
        saved run has no sensitivity table for the cells shown, fit it first and keep it in the
        run folder (as ``hlhbayes report --sensitivity``). Returns the files written.
        """
        from hlhbayes.errors import HlhBayesError
        from hlhbayes.reporting import ReportOptions, write_report

        if self.run_folder is None:
            raise HlhBayesError("save the fit first (fit.save(RUN_FOLDER)): a report reads a run")
        options = ReportOptions(_names(etiology), _names(line), tuple(thresholds))
        return write_report(
            self.run_folder, Path(out_dir), name, fmt, options, sensitivity=sensitivity
        )

    def __repr__(self) -> str:
        d = self.diagnostics
        state = "converged" if d.converged else "NOT CONVERGED"
        units = self.result.units.describe()
        return (
            f"<Fit {self.model}, outcome {self.outcome}: {units['studies']} studies, "
            f"{units['events']}/{units['total']} events; {state}>"
        )
