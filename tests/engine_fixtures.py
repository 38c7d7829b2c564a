"""Models for the compiled engine's tests, with every varying input a ``pm.Data``.

* ``hierarchical``: the binomial-logit-normal random-effects model (non-centred), with the
  prior scales as data;
* ``double_well``: ``theta_k ~ N(0, 3)``, ``y_k ~ N(theta_k^2, sigma)``: unimodal for
  ``y < 0``, two far-apart modes (+-2) for ``y = 4, sigma = 0.1``, which no sampler crosses:
  a scenario that cannot converge;
* ``random_effects`` and ``etiology_line``: copies of :mod:`hlhbayes.models.random_effects` and
  :mod:`hlhbayes.models.etiology_line` whose evidence arrays, inclusion weights, prior scales and
  composition centres are ``pm.Data`` (a test checks that each copy has exactly the log-density
  of the model it copies).

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

from hlhbayes.engine import CompiledModel, SamplerSettings, source_fingerprint
from hlhbayes.models.units import MODEL_ETIOLOGIES, MODEL_LINES, Units

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


def etiology_line_structure(units: Units) -> dict[str, Any]:
    """What the copy of ``etiology-line`` bakes into its graph: sizes and latent units."""
    return {
        "studies": len(units.studies),
        "patients": len(units.pat_ids),
        "strata": len(units.agg_ids),
        "unknown_mix": np.flatnonzero(np.isnan(units.agg_w).any(axis=1)).tolist(),
        "unknown_line": np.flatnonzero(np.isnan(units.agg_v)).tolist(),
    }


def etiology_line_data(
    units: Units,
    priors: dict[str, Any] | None = None,
    concentration: float = 5.0,
    include: np.ndarray | None = None,
) -> dict[str, Any]:
    """The copy's ``pm.Data`` values for ``units`` (default priors of the model)."""
    from hlhbayes.models import etiology_line as module

    priors = priors or module.DEFAULT_PRIORS
    weights = np.ones(units.n_units) if include is None else np.asarray(include, float)
    n_pat = len(units.pat_ids)
    later = float(np.clip(units.pooled_later(), 0.05, 0.95))
    return {
        "pat_w": units.pat_w,
        "pat_later": units.pat_later,
        "pat_study": units.pat_study,
        "pat_y": units.pat_y,
        "agg_w": np.nan_to_num(units.agg_w),
        "agg_v": np.nan_to_num(units.agg_v),
        "agg_study": units.agg_study,
        "agg_events": units.agg_events,
        "agg_total": units.agg_total,
        "include_patient": weights[:n_pat],
        "include_stratum": weights[n_pat:],
        "mix_alpha": 1.0 + concentration * units.pooled_mix(),
        "later_alpha": np.float64(1.0 + concentration * later),
        "later_beta": np.float64(1.0 + concentration * (1.0 - later)),
        "alpha_mu": np.float64(priors["alpha"].params["mu"]),
        "alpha_sigma": np.float64(priors["alpha"].params["sigma"]),
        "sigma_eta_sigma": np.float64(priors["sigma_eta"].params["sigma"]),
        "tau_sigma": np.float64(priors["tau"].params["sigma"]),
        "gamma_mu": np.float64(priors["gamma"].params["mu"]),
        "gamma_sigma": np.float64(priors["gamma"].params["sigma"]),
    }


def etiology_line_pymc(units: Units, data: dict[str, Any]):
    """Copy of :func:`hlhbayes.models.etiology_line.build` (normal / half-normal priors)."""
    import pymc as pm
    import pytensor.tensor as pt

    structure = etiology_line_structure(units)
    unknown_w, unknown_v = structure["unknown_mix"], structure["unknown_line"]
    coords = {
        "etiology": list(MODEL_ETIOLOGIES),
        "line": list(MODEL_LINES),
        "study": list(units.studies),
        "patient": list(units.pat_ids),
        "stratum": list(units.agg_ids),
        "stratum_unknown_mix": [units.agg_ids[i] for i in unknown_w],
        "stratum_unknown_line": [units.agg_ids[i] for i in unknown_v],
    }
    with pm.Model(coords=coords) as model:
        d = {
            name: pm.Data(name, value, dims=_ETIOLOGY_DIMS.get(name))
            for name, value in data.items()
        }
        alpha = pm.Normal("alpha", d["alpha_mu"], d["alpha_sigma"])
        sigma_eta = pm.HalfNormal("sigma_eta", d["sigma_eta_sigma"])
        tau = pm.HalfNormal("tau", d["tau_sigma"])
        gamma = pm.Normal("gamma", d["gamma_mu"], d["gamma_sigma"])
        z_eta = pm.Normal("z_eta", 0.0, 1.0, dims="etiology")
        eta = pm.Deterministic("eta", alpha + sigma_eta * z_eta, dims="etiology")
        z_study = pm.Normal("z_study", 0.0, 1.0, dims="study")
        u = pm.Deterministic("u", tau * z_study, dims="study")
        logit_p = pt.dot(d["pat_w"], eta) + gamma * d["pat_later"] + u[d["pat_study"]]
        y_pat = pm.Bernoulli("y_patient", logit_p=logit_p, observed=d["pat_y"], dims="patient")
        w = d["agg_w"]
        if unknown_w:
            gammas = pm.Gamma(
                "mix_gamma",
                alpha=pt.tile(d["mix_alpha"][None, :], (len(unknown_w), 1)),
                beta=1.0,
                dims=("stratum_unknown_mix", "etiology"),
            )
            w_latent = pm.Deterministic(
                "mix_latent",
                gammas / gammas.sum(axis=1, keepdims=True),
                dims=("stratum_unknown_mix", "etiology"),
            )
            w = pt.set_subtensor(w[unknown_w], w_latent)
        v = d["agg_v"]
        if unknown_v:
            v_latent = pm.Beta(
                "later_latent",
                alpha=d["later_alpha"],
                beta=d["later_beta"],
                dims="stratum_unknown_line",
            )
            v = pt.set_subtensor(v[unknown_v], v_latent)
        base = eta[None, :] + u[d["agg_study"]][:, None]
        q = (1 - v)[:, None] * pm.math.sigmoid(base) + v[:, None] * pm.math.sigmoid(base + gamma)
        p = pt.clip(pt.sum(w * q, axis=1), 1e-12, 1 - 1e-12)
        y_agg = pm.Binomial(
            "y_stratum", n=d["agg_total"], p=p, observed=d["agg_events"], dims="stratum"
        )
        excluded = pt.sum((1.0 - d["include_patient"]) * pm.logp(y_pat, d["pat_y"])) + pt.sum(
            (1.0 - d["include_stratum"]) * pm.logp(y_agg, d["agg_events"])
        )
        pm.Potential("excluded", -excluded)
    return model


_ETIOLOGY_DIMS = {
    "pat_w": ("patient", "etiology"),
    "pat_later": "patient",
    "pat_study": "patient",
    "pat_y": "patient",
    "agg_w": ("stratum", "etiology"),
    "agg_v": "stratum",
    "agg_study": "stratum",
    "agg_events": "stratum",
    "agg_total": "stratum",
    "include_patient": "patient",
    "include_stratum": "stratum",
    "mix_alpha": "etiology",
}


def etiology_line(units: Units) -> CompiledModel:
    data = etiology_line_data(units)
    return CompiledModel(
        "test-etiology-line",
        lambda: etiology_line_pymc(units, data),
        etiology_line_structure(units),
        SOURCE,
    )


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

    result = engine.fit(
        hierarchical(),
        hierarchical_data(),
        settings=SamplerSettings(chains=4, draws=500, tune=300),
        seed=11,
        prior_draws=200,
        cache=engine.CompiledFitCache(Path(cache_dir)),
    )
    heavy = ("pymc", "pytensor", "numpyro", "arviz", "arviz_base", "arviz_stats")
    print(
        json.dumps(
            {
                "posterior": digest([result.posterior[v].values for v in sorted(result.posterior)]),
                "prior": digest([result.prior[v].values for v in sorted(result.prior)]),
                "modules": sorted(m for m in heavy if m in sys.modules),
                "seconds": time.perf_counter() - start,
            }
        )
    )


if __name__ == "__main__":
    _fresh_process_fit(sys.argv[1])
