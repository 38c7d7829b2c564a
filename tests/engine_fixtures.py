"""Models for the compiled engine's own tests, with every varying input a ``pm.Data``.

* ``hierarchical``: the binomial-logit-normal random-effects model (non-centred), with the
  prior scales as data;
* ``double_well``: ``theta_k ~ N(0, 3)``, ``y_k ~ N(theta_k^2, sigma)``: unimodal for
  ``y < 0``, two far-apart modes (+-2) for ``y = 4, sigma = 0.1``, which no sampler crosses:
  a scenario that cannot converge;
* ``random_effects``: the same random-effects model with likelihood inclusion weights (a
  potential cancels the excluded studies' terms), for the padding tests.

The project's own models speak the engine's contract themselves (models/base.py,
``CompiledForm``); tests/test_models_compiled.py checks them.

Also runnable as a script (``python engine_fixtures.py CACHE_DIR``): one cold or warm fit of the
hierarchical model in a fresh process, printing a digest of the draws and the modules loaded.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from hlhbayes.engine import CompiledFitCache, CompiledModel, SamplerSettings, source_fingerprint
from hlhbayes.engine.cache import MACHINE_CODE

SOURCE = source_fingerprint([Path(__file__)])

HIER_N = np.array([21, 19, 10, 6, 40, 17, 15, 33, 11, 14, 13, 5])
HIER_R = np.array([16, 16, 7, 6, 22, 8, 11, 23, 8, 10, 5, 4])
HIER_STUDIES = [f"S{i + 1:02d}" for i in range(len(HIER_N))]


def hierarchical_data(n=HIER_N, r=HIER_R, mu_sigma=1.5, tau_sigma=1.0) -> dict[str, Any]:
    return {
        "total": np.asarray(n),
        "events": np.asarray(r),
        "mu_sigma": np.float64(mu_sigma),
        "tau_sigma": np.float64(tau_sigma),
    }


def hierarchical_pymc(data: dict[str, Any]):
    import pymc as pm

    coords = {"study": [f"s{i}" for i in range(len(data["total"]))]}
    with pm.Model(coords=coords) as model:
        total = pm.Data("total", data["total"], dims="study")
        events = pm.Data("events", data["events"], dims="study")
        mu_sigma = pm.Data("mu_sigma", data["mu_sigma"])
        tau_sigma = pm.Data("tau_sigma", data["tau_sigma"])
        mu = pm.Normal("mu", 0.0, mu_sigma)
        tau = pm.HalfNormal("tau", tau_sigma)
        z = pm.Normal("z", 0.0, 1.0, dims="study")
        theta = pm.Deterministic("theta", mu + tau * z, dims="study")
        pm.Binomial("y", n=total, logit_p=theta, observed=events, dims="study")
    return model


def hierarchical(n_studies: int = len(HIER_N)) -> CompiledModel:
    shapes = hierarchical_data(HIER_N[:n_studies], HIER_R[:n_studies])
    return CompiledModel(
        "test-hierarchical",
        lambda: hierarchical_pymc(shapes),
        {"studies": n_studies},
        SOURCE,
    )


def double_well_data(y: float, sigma: float, k: int = 8) -> dict[str, Any]:
    return {"y": np.full(k, float(y)), "sigma": np.float64(sigma)}


def double_well(k: int = 8) -> CompiledModel:
    def build():
        import pymc as pm

        data = double_well_data(-1.0, 0.5, k)
        with pm.Model(coords={"k": list(range(k))}) as model:
            y = pm.Data("y", data["y"], dims="k")
            sigma = pm.Data("sigma", data["sigma"])
            theta = pm.Normal("theta", 0.0, 3.0, dims="k")
            pm.Normal("obs", theta**2, sigma, observed=y, dims="k")
        return model

    return CompiledModel("test-double-well", build, {"k": k}, SOURCE)


def random_effects_data(
    events, total, mu_mu=0.0, mu_sigma=1.5, tau_sigma=1.0, include=None
) -> dict[str, Any]:
    events, total = np.asarray(events), np.asarray(total)
    return {
        "events": events,
        "total": total,
        "include": np.ones(len(total)) if include is None else np.asarray(include, float),
        "mu_mu": np.float64(mu_mu),
        "mu_sigma": np.float64(mu_sigma),
        "tau_sigma": np.float64(tau_sigma),
    }


def random_effects(n_studies: int) -> CompiledModel:
    r"""Copy of ``random-effects`` (one stratum per study), normal / half-normal priors.

    .. math:: r_i \sim \text{Binomial}(n_i, \operatorname{logit}^{-1}(\mu + \tau z_i))
    """

    def build():
        import pymc as pm
        import pytensor.tensor as pt

        data = random_effects_data(np.zeros(n_studies, int), np.ones(n_studies, int))
        coords = {"study": list(range(n_studies)), "stratum": list(range(n_studies))}
        with pm.Model(coords=coords) as model:
            events = pm.Data("events", data["events"], dims="stratum")
            total = pm.Data("total", data["total"], dims="stratum")
            include = pm.Data("include", data["include"], dims="stratum")
            mu = pm.Normal("mu", pm.Data("mu_mu", data["mu_mu"]), pm.Data("mu_sigma", 1.5))
            tau = pm.HalfNormal("tau", pm.Data("tau_sigma", data["tau_sigma"]))
            z = pm.Normal("z_study", 0.0, 1.0, dims="study")
            theta = pm.Deterministic("theta", mu + tau * z, dims="study")
            y = pm.Binomial("y_stratum", n=total, logit_p=theta, observed=events, dims="stratum")
            pm.Potential("excluded", -pt.sum((1.0 - include) * pm.logp(y, events)))
        return model

    return CompiledModel("test-random-effects", build, {"studies": n_studies}, SOURCE)


def program_cache(root: Path) -> CompiledFitCache:
    """An empty compiled-fit cache at ``root`` whose machine code is shared with the user's cache.

    Its programs are built and stored here, as on a new machine; the machine-code store (keyed on
    the program's bytes) is the user's, so the XLA compile of a program these tests build is
    paid once per machine rather than once per run.
    """
    shared = CompiledFitCache().machine_code_dir
    shared.mkdir(parents=True, exist_ok=True)
    root.mkdir(parents=True, exist_ok=True)
    (root / MACHINE_CODE).symlink_to(shared, target_is_directory=True)
    return CompiledFitCache(root)


def digest(arrays: list[np.ndarray]) -> str:
    """SHA-256 of the bytes of ``arrays`` (bit-identical draws give equal digests)."""
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _fresh_process_fit(cache_dir: str) -> None:
    import time

    start = time.perf_counter()
    from hlhbayes import engine

    said: list[str] = []
    result = engine.fit(
        hierarchical(),
        hierarchical_data(),
        settings=SamplerSettings(chains=4, draws=500, tune=300),
        seed=11,
        prior_draws=200,
        cache=engine.CompiledFitCache(Path(cache_dir)),
        log=said.append,
    )
    batch = engine.sample_batch(
        hierarchical(),
        [hierarchical_data(), hierarchical_data(mu_sigma=0.5)],
        settings=SamplerSettings(chains=2, draws=200, tune=200),
        seeds=[3, 4],
        cache=engine.CompiledFitCache(Path(cache_dir)),
        log=said.append,
    )
    heavy = ("pymc", "pytensor", "numpyro", "arviz", "arviz_base", "arviz_stats")
    print(
        json.dumps(
            {
                "posterior": digest([result.posterior[v].values for v in sorted(result.posterior)]),
                "prior": digest([result.prior[v].values for v in sorted(result.prior)]),
                "batch": digest(
                    [f.posterior[v].values for f in batch.fits for v in sorted(f.posterior)]
                ),
                "modules": sorted(m for m in heavy if m in sys.modules),
                "built": sorted(  # the programs this process built (not loaded)
                    m.split()[3] for m in said if m.startswith("building the compiled")
                ),
                "seconds": time.perf_counter() - start,
            }
        )
    )


if __name__ == "__main__":
    _fresh_process_fit(sys.argv[1])
