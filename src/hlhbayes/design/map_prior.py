r"""From a fitted run to a parametric MAP prior (RBesT ``gMAP`` then ``automixfit``).

The meta-analytic-predictive (MAP) prior of a cell (etiology :math:`e`, line :math:`l`) is the
posterior distribution of ``rate_new[e, l]``, the response rate of a *new* study. A run folder
holds it as MCMC draws; trial design needs it as a beta mixture
(:func:`hlhbayes.design.em.auto_fit`), optionally robustified
(:meth:`~hlhbayes.design.mixture.BetaMixture.robustify`), with its effective sample size.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hlhbayes import runs
from hlhbayes.design.em import AIC_PENALTY, AutoFit, auto_fit, fit_beta_mixture
from hlhbayes.design.ess import ess
from hlhbayes.design.mixture import BetaMixture, FloatArray
from hlhbayes.errors import HlhBayesError

QUANTITY = "rate_new"


@dataclass(frozen=True)
class MapDraws:
    """The MAP draws of one cell of a run, with where they came from."""

    draws: FloatArray
    run: Path
    etiology: str | None
    line: str | None
    model: str | None
    converged: bool | None

    @property
    def label(self) -> str:
        """``rate_new[infection, first]`` (or ``rate_new`` for a single-cell model)."""
        if self.etiology is None:
            return QUANTITY
        return f"{QUANTITY}[{self.etiology}, {self.line}]"

    @property
    def cell(self) -> str:
        """``infection-first`` (or ``all``), for file names."""
        return "all" if self.etiology is None else f"{self.etiology}-{self.line}"


def load_map_draws(
    run: str | Path, etiology: str | None = None, line: str | None = None
) -> MapDraws:
    """Read the ``rate_new`` draws of one cell from a run folder's ``fit.nc``.

    For a model with etiology and line dimensions both must be given (one of the run's
    coordinates); for a single-cell model (``random-effects``) neither may be.
    """
    folder = Path(run)
    if not folder.is_dir():
        raise HlhBayesError(f"{folder}: no such run folder")
    if runs.missing_files(folder, [runs.FIT]):
        raise HlhBayesError(
            f"{folder}: no fit.nc (no posterior draws; an --method exact fit stores none: refit "
            "with MCMC)"
        )
    opened = runs.read_run(folder)
    model, converged = opened.model, opened.converged
    path = folder / runs.FIT
    posterior = opened.group("posterior")
    if QUANTITY not in posterior:
        raise HlhBayesError(f"{path}: no posterior {QUANTITY} in this run")
    da = posterior[QUANTITY]
    extra = [d for d in da.dims if d not in ("chain", "draw")]
    if not extra:
        if etiology is not None or line is not None:
            raise HlhBayesError(
                f"{run}: this run ({model or 'single cell'}) has one {QUANTITY}; drop --etiology "
                "and --line"
            )
    else:
        chosen = {"etiology": etiology, "line": line}
        for dim in extra:
            if dim not in chosen:
                raise HlhBayesError(f"{path}: unexpected dimension {dim!r} of {QUANTITY}")
            valid = [str(v) for v in da.coords[dim].values]
            if chosen[dim] is None:
                raise HlhBayesError(f"{run}: give --{dim} (one of {', '.join(valid)})")
            if chosen[dim] not in valid:
                raise HlhBayesError(
                    f"--{dim} {chosen[dim]}: not in this run (one of {', '.join(valid)})"
                )
        da = da.sel({dim: chosen[dim] for dim in extra})
    draws = np.asarray(da.values, dtype=float).ravel()
    if draws.size == 0 or not np.all(np.isfinite(draws)):
        raise HlhBayesError(f"{path}: {QUANTITY} draws are empty or not finite")
    return MapDraws(
        draws, folder, etiology if extra else None, line if extra else None, model, converged
    )


@dataclass(frozen=True)
class MapPrior:
    """A fitted MAP prior: the mixture, the fits behind it, its robust version and ESS."""

    mixture: BetaMixture
    fit: AutoFit
    draws: FloatArray
    robust: BetaMixture | None
    robust_weight: float | None
    robust_mean: float | None

    @property
    def final(self) -> BetaMixture:
        """The prior to use: the robust mixture if one was asked for, else the MAP mixture."""
        return self.robust if self.robust is not None else self.mixture

    def draws_summary(self) -> dict[str, float]:
        """Mean, sd and 2.5/50/97.5% quantiles of the draws (the mixture should match them)."""
        q = np.quantile(self.draws, [0.025, 0.5, 0.975])
        return {
            "mean": float(np.mean(self.draws)),
            "sd": float(np.std(self.draws, ddof=1)),
            "q2.5": float(q[0]),
            "q50": float(q[1]),
            "q97.5": float(q[2]),
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (``--format json`` of ``hlhbayes design map``)."""
        from hlhbayes.design.text import ess_notes, fit_notes

        values = ess(self.mixture)
        out: dict[str, Any] = {
            "draws": int(self.draws.size),
            "selection": {"penalty": self.fit.penalty, "fits": self.fit.table()},
            "constrained": self.fit.best.lower > 0,
            "mixture": self.mixture.components(),
            "at_bounds": self.fit.best.at_bounds(),
            "fit_notes": fit_notes(self.fit.best),
            "summary": {"draws": self.draws_summary(), "mixture": self.mixture.summary()},
            "ess": values,
            "ess_notes": ess_notes(self.mixture, values),
            "robust": None,
        }
        if self.robust is not None:
            robust_values = ess(self.robust)
            out["robust"] = {
                "weight": self.robust_weight,
                "mean": self.robust_mean,
                "mixture": self.robust.components(),
                "summary": self.robust.summary(),
                "ess": robust_values,
                "ess_notes": ess_notes(self.robust, robust_values),
            }
        return out


def map_prior(
    draws: FloatArray,
    *,
    components: int | None = None,
    robust_weight: float | None = None,
    robust_mean: float = 0.5,
    penalty: float = AIC_PENALTY,
    constrain_gt1: bool = True,
) -> MapPrior:
    """Fit the MAP draws by a beta mixture and optionally robustify it.

    Parameters
    ----------
    draws
        MAP draws (e.g. :attr:`MapDraws.draws`).
    components
        Number of components; ``None`` chooses 1-4 by the penalised AIC (``penalty``).
    robust_weight, robust_mean
        Add ``Beta(2 m, 2 (1 - m))`` (``m`` = ``robust_mean``) with this weight.
    penalty
        AIC penalty per parameter for the automatic choice (RBesT: 6).
    constrain_gt1
        Keep every shape at or above 1 (RBesT's default;
        :meth:`~hlhbayes.design.em.MixtureFit.at_bounds` lists the shapes held there).
    """
    if components is None:
        fit = auto_fit(draws, penalty=penalty, constrain_gt1=constrain_gt1)
    else:
        single = fit_beta_mixture(draws, components, constrain_gt1=constrain_gt1)
        fit = AutoFit(single, (single,), penalty)
    robust = None
    if robust_weight is not None:
        robust = fit.best.mixture.robustify(robust_weight, robust_mean)
    return MapPrior(
        mixture=fit.best.mixture,
        fit=fit,
        draws=np.asarray(draws, dtype=float).ravel(),
        robust=robust,
        robust_weight=robust_weight,
        robust_mean=robust_mean if robust_weight is not None else None,
    )
