"""Monte Carlo comparisons shared by the engine's tests."""

from __future__ import annotations

import numpy as np
import xarray as xr

Z_MCSE = 4.0
"""|difference| / its Monte Carlo standard error is about N(0, 1) per check; at 4, the ~100
checks of a comparison fail together by chance with probability ~ 100 * 6e-5 < 1 %, while a
real bias of a few MCSE shows."""
QUANTILES = (0.05, 0.5, 0.95)


def pymc_nuts(model, tune: int, seed: int, draws: int = 1000) -> xr.Dataset:
    """The posterior of ``model`` by PyMC's own NUTS (4 chains, target_accept 0.95)."""
    import pymc as pm

    with model:
        idata = pm.sample(
            draws=draws,
            tune=tune,
            chains=4,
            cores=1,
            target_accept=0.95,
            random_seed=seed,
            progressbar=False,
            nuts_sampler="pymc",
            compute_convergence_checks=False,
        )
    return idata["posterior"].to_dataset()


def mcmc_disagreements(
    a: xr.Dataset, b: xr.Dataset, names: list[str], z: float = Z_MCSE
) -> list[str]:
    """Means and quantiles of two MCMC draw sets that differ by more than ``z`` joint MCSE."""
    import arviz_stats as azs

    out = []
    for name in names:
        da, db = a[[name]], b[[name]]
        checks = [
            (
                "mean",
                da[name].mean(("chain", "draw")),
                db[name].mean(("chain", "draw")),
                azs.mcse(da, method="mean")[name],
                azs.mcse(db, method="mean")[name],
            )
        ]
        for p in QUANTILES:
            checks.append(
                (
                    f"q{p}",
                    da[name].quantile(p, ("chain", "draw")).drop_vars("quantile"),
                    db[name].quantile(p, ("chain", "draw")).drop_vars("quantile"),
                    azs.mcse(da, method="quantile", prob=p)[name],
                    azs.mcse(db, method="quantile", prob=p)[name],
                )
            )
        for label, va, vb, ma, mb in checks:
            va, vb, ma, mb = (np.asarray(x, dtype=float) for x in (va, vb, ma, mb))
            bound = z * np.sqrt(ma**2 + mb**2)
            bad = np.abs(va - vb) > bound
            for index in zip(*np.nonzero(np.atleast_1d(bad)), strict=False):
                out.append(
                    f"{name}{list(index)} {label}: {np.atleast_1d(va)[index]:.4f} vs "
                    f"{np.atleast_1d(vb)[index]:.4f} (bound {np.atleast_1d(bound)[index]:.4f})"
                )
    return out
