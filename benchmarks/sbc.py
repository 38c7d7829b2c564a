"""Simulation-based calibration (SBC) of the ``etiology-line`` model (Talts et al. 2018).

Usage::

    python benchmarks/sbc.py --sims 100 --out sbc-out
    python benchmarks/sbc.py --sims 40 --draws 300 --tune 300 --chains 2   # quick check

Procedure. The model is built for the units of the shipped evidence base (``load_evidence`` and
``build_units`` with the model spec's filters; priors and options from ``models/etiology-line.yaml``).
``pm.sample_prior_predictive`` gives ``S`` joint prior draws of the parameters (``alpha``,
``sigma_eta``, ``tau``, ``gamma``, ``z_eta``, ``z_study`` and, where a stratum's composition is
unknown, ``mix_latent`` / ``later_latent``) together with simulated outcomes (``y_patient``,
``y_stratum``). For each draw ``s`` the model is fitted to the simulated outcomes in place of the
observed ones, and the posterior draws are thinned evenly to ``L`` draws (default 99). The rank of
the true value among the ``L`` draws (the number of draws below it, 0..L) is recorded for
``alpha``, ``tau``, ``gamma``, ``sigma_eta`` and ``rate_typical`` of every etiology x line; the
true ``rate_typical`` is computed from the true ``eta`` and ``gamma`` by the model's own
``quantities`` function (``logit^-1(eta_e + gamma [later])``), the same code that derives it from
the posterior draws. If model, simulator and sampler are consistent, each rank is uniform on
0..L.

Uniformity tests, per quantity:

* a chi-square test of the rank histogram with ``B`` bins (default 10; the ``L + 1`` possible
  ranks grouped into ``B`` equal bins, so ``L + 1`` must be a multiple of ``B``), expected
  ``S / B`` per bin (the chi-square approximation wants ``S / B >= 5``);
* a Kolmogorov-Smirnov test of the scaled ranks ``(rank + 0.5) / (L + 1)`` against U(0, 1) (the
  half-rank centres each discrete rank in its cell; ``rank / (L + 1)`` would bias the statistic by
  up to ``1 / (L + 1)``).

A p-value below 0.01 is flagged (``*``). With ``k`` quantities (14 here) some small p-values are
expected by chance, so the failure criterion is Bonferroni-adjusted: calibration FAILS when any
p-value (either test) is below ``0.01 / k``. The script exits 1 in that case.

Speed. Recompiling a PyMC model per simulation is slow, so the model is built once, by
hlhbayes's own ``etiology-line`` builder (``MODEL.build``), from units whose observed outcomes
are PyTensor shared variables; each simulation swaps in its outcomes. Before any simulation, a check compares the
log-density of that model with the log-density of hlhbayes's model built the ordinary way, at
random points, for the real data and for the first simulated data set; the script stops if they
differ, so the swappable model cannot drift from the real one. ``--sampler nutpie`` (default)
compiles once and swaps data with ``with_data``; ``--sampler pymc`` runs ``pm.sample`` per
simulation (PyMC's NUTS, the project's default, but it recompiles the logp function every
time: slower).

Outputs with ``--out DIR``: ``ranks.csv`` (one row per simulation and quantity, with the true
value and the fit's divergences, max R-hat and min bulk ESS), ``results.json`` (settings, p-values,
verdict, runtime) and ``rank_histograms.png`` when matplotlib is installed (skipped otherwise).
Progress goes to stderr; the result table to stdout.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import logging
import math
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

FLAG_P = 0.01
HYPER = ("alpha", "tau", "gamma", "sigma_eta")
SHARED_NAMES = {"pat_y": "sbc_y_patient", "agg_events": "sbc_y_stratum"}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _ds(x: Any) -> xr.Dataset:
    return x.to_dataset() if isinstance(x, xr.DataTree) else x


def quantity_names() -> list[str]:
    from hlhbayes.models.units import MODEL_ETIOLOGIES, MODEL_LINES

    return [*HYPER, *(f"rate_typical[{e},{ln}]" for e in MODEL_ETIOLOGIES for ln in MODEL_LINES)]


def quantity_draws(ds: xr.Dataset, module: Any, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Flattened (chain-major) draws of every ranked quantity from a dataset with chain, draw."""
    rates = module.quantities(ds, rng)["rate_typical"]
    out = {name: ds[name].transpose("chain", "draw").values.ravel() for name in HYPER}
    for e in rates["etiology"].values:
        for ln in rates["line"].values:
            cell = rates.sel(etiology=e, line=ln).transpose("chain", "draw").values.ravel()
            out[f"rate_typical[{e},{ln}]"] = cell
    return out


def thin(values: np.ndarray, n: int) -> np.ndarray:
    """``n`` draws evenly spaced over all chains (chain-major order)."""
    if len(values) < n:
        raise ValueError(f"only {len(values)} posterior draws; need at least --thin-to {n}")
    return values[np.linspace(0, len(values) - 1, n).round().astype(int)]


def rank_of(truth: float, draws: np.ndarray, rng: np.random.Generator) -> int:
    """Number of draws below ``truth`` (ties, which should not occur, broken at random)."""
    below = int(np.sum(draws < truth))
    ties = int(np.sum(draws == truth))
    return below + (int(rng.integers(0, ties + 1)) if ties else 0)


def uniformity(ranks: np.ndarray, n_ranks: int, bins: int) -> dict[str, Any]:
    """Chi-square test of the binned ranks and KS test of the scaled ranks against U(0, 1)."""
    from scipy import stats

    counts = np.bincount(ranks * bins // n_ranks, minlength=bins)
    chi2 = stats.chisquare(counts)
    ks = stats.kstest((ranks + 0.5) / n_ranks, "uniform")
    return {
        "counts": counts.tolist(),
        "chi2": float(chi2.statistic),
        "chi2_p": float(chi2.pvalue),
        "ks": float(ks.statistic),
        "ks_p": float(ks.pvalue),
    }


def random_point(model: Any, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A random point on the unconstrained space (initial point plus N(0, 1) noise)."""
    point = model.initial_point()
    return {k: v + rng.normal(0.0, 1.0, size=np.shape(v)) for k, v in point.items()}


def check_logp(
    module: Any,
    units: Any,
    swappable: Any,
    shared: dict[str, Any],
    spec: Any,
    simulated: dict[str, np.ndarray],
    rng: np.random.Generator,
) -> float:
    """Stop unless the swappable model's logp equals hlhbayes's model logp (real and simulated).

    Returns the largest absolute difference seen.
    """
    f_swap = swappable.compile_logp()
    worst = 0.0
    datasets = {
        "real data": {"pat_y": units.pat_y, "agg_events": units.agg_events},
        "simulation 1": simulated,
    }
    for label, data in datasets.items():
        for field, var in shared.items():
            var.set_value(np.asarray(data[field], dtype=np.int64))
        reference = module.build(dataclasses.replace(units, **data), spec.priors, spec.options)
        f_ref = reference.compile_logp()
        for _ in range(3):
            point = random_point(reference, rng)
            a, b = float(f_swap(point)), float(f_ref(point))
            worst = max(worst, abs(a - b))
            if not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9):
                sys.exit(
                    f"error: logp check failed on {label}: swappable model {a!r} != "
                    f"hlhbayes model {b!r}; the SBC model no longer matches hlhbayes's"
                )
    for field, var in shared.items():
        var.set_value(np.asarray(getattr(units, field), dtype=np.int64))
    return worst


class Fitter:
    """Fits the swappable model to one simulated data set."""

    def __init__(self, model: Any, shared: dict[str, Any], opts: argparse.Namespace) -> None:
        self.model = model
        self.shared = shared
        self.opts = opts
        self.compiled: Any = None
        if opts.sampler == "nutpie":
            import nutpie

            start = time.perf_counter()
            self.compiled = nutpie.compile_pymc_model(model)
            log(f"nutpie compiled the model in {time.perf_counter() - start:.1f} s")

    def fit(self, data: dict[str, np.ndarray], seed: int) -> xr.DataTree:
        o = self.opts
        if o.sampler == "nutpie":
            import nutpie

            updates = {self.shared[f].name: np.asarray(v, np.int64) for f, v in data.items()}
            compiled = self.compiled.with_data(**updates)
            for var, key in compiled.shared_var_keys.items():
                if var.name in updates and not np.array_equal(
                    compiled.shared_data[key], updates[var.name]
                ):
                    sys.exit(f"error: nutpie did not take the simulated {var.name}")
            return nutpie.sample(
                compiled,
                draws=o.draws,
                tune=o.tune,
                chains=o.chains,
                cores=min(2, o.chains),
                seed=seed,
                target_accept=o.target_accept,
                progress_bar=False,
            )
        import pymc as pm

        for f, v in data.items():
            self.shared[f].set_value(np.asarray(v, np.int64))
        with self.model:
            return pm.sample(
                draws=o.draws,
                tune=o.tune,
                chains=o.chains,
                cores=min(2, o.chains),
                target_accept=o.target_accept,
                random_seed=seed,
                progressbar=False,
                quiet=True,
                compute_convergence_checks=False,
            )


def diagnostics(tree: xr.DataTree) -> dict[str, float]:
    """Divergences, max R-hat and min bulk ESS over the ranked hyperparameters."""
    import arviz as az

    post = _ds(tree["posterior"])[list(HYPER)]
    stats_ = _ds(tree["sample_stats"])
    rhat = az.rhat(post)
    ess = az.ess(post, method="bulk")
    return {
        "divergences": int(stats_["diverging"].sum()),
        "max_r_hat": float(max(float(rhat[v].max()) for v in HYPER)),
        "min_ess_bulk": float(min(float(ess[v].min()) for v in HYPER)),
    }


def write_outputs(out: Path, rows: list[dict[str, Any]], result: dict[str, Any]) -> None:
    import pandas as pd

    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(out / "ranks.csv", index=False)
    (out / "results.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib is not installed: rank_histograms.png skipped")
        return
    tests = result["tests"]
    names = list(tests)
    ncol = 4
    nrow = math.ceil(len(names) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 2.4 * nrow), squeeze=False)
    expected = result["settings"]["sims"] / result["settings"]["bins"]
    for ax, name in zip(axes.flat, names, strict=False):
        counts = tests[name]["counts"]
        ax.bar(range(len(counts)), counts, width=1.0, color="0.6", edgecolor="white")
        ax.axhline(expected, color="black", lw=1)
        lo = _binom_band(result["settings"]["sims"], 1 / len(counts))
        ax.axhspan(lo[0], lo[1], color="tab:blue", alpha=0.15, lw=0)
        ax.set_title(f"{name}\nchi2 p={tests[name]['chi2_p']:.2f} KS p={tests[name]['ks_p']:.2f}")
        ax.set_xticks([])
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(out / "rank_histograms.png", dpi=100)
    plt.close(fig)


def _binom_band(n: int, p: float) -> tuple[float, float]:
    from scipy import stats

    return float(stats.binom.ppf(0.005, n, p)), float(stats.binom.ppf(0.995, n, p))


def run(opts: argparse.Namespace) -> int:
    start = time.perf_counter()
    import pymc as pm
    import pytensor

    from hlhbayes.evidence import load_evidence
    from hlhbayes.models import get_model
    from hlhbayes.models.spec import load_spec
    from hlhbayes.models.units import build_units

    for name in ("pymc", "pymc.sampling", "pytensor", "numba"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*could not link to a BLAS.*")

    spec = load_spec("etiology-line")
    module = get_model("etiology-line")
    units = build_units(load_evidence(opts.data), spec.filters)
    n_ranks = opts.thin_to + 1
    if n_ranks % opts.bins:
        sys.exit(f"error: --thin-to + 1 ({n_ranks}) must be a multiple of --bins ({opts.bins})")
    if opts.chains * opts.draws < opts.thin_to:
        sys.exit("error: --chains x --draws must be at least --thin-to")
    if opts.sims / opts.bins < 5:
        log(f"note: {opts.sims / opts.bins:.1f} simulations per bin; the chi-square test is rough")
    u = units.describe()
    log(
        f"units: {u['studies']} studies, {u['patients']} patients, {u['strata']} strata "
        f"({u['strata_with_unknown_etiology']} with unknown mix, "
        f"{u['strata_with_unknown_line']} with unknown line)"
    )

    # 1. Joint prior draws of parameters and outcomes from hlhbayes's model.
    reference = module.build(units, spec.priors, spec.options)
    prior = pm.sample_prior_predictive(draws=opts.sims, model=reference, random_seed=opts.seed)
    prior_ds = _ds(prior["prior"])
    predictive = _ds(prior["prior_predictive"])
    rng = np.random.default_rng([opts.seed, 2])
    truths = quantity_draws(prior_ds, module, rng)
    sims: list[dict[str, np.ndarray]] = []
    for s in range(opts.sims):
        data = {}
        if len(units.pat_ids):
            data["pat_y"] = predictive["y_patient"].values[0, s]
        if len(units.agg_ids):
            data["agg_events"] = predictive["y_stratum"].values[0, s]
        sims.append(data)

    # 2. One swappable model (hlhbayes's build, outcomes as shared variables), checked.
    shared = {
        f: pytensor.shared(np.asarray(getattr(units, f), np.int64), name=n)
        for f, n in SHARED_NAMES.items()
        if f in sims[0]
    }
    swappable = module.build(dataclasses.replace(units, **shared), spec.priors, spec.options)
    worst = check_logp(module, units, swappable, shared, spec, sims[0], rng)
    log(f"logp check passed (swappable vs hlhbayes model; max |difference| {worst:.2e})")
    fitter = Fitter(swappable, shared, opts)

    # 3. Fit each simulated data set and rank the truth.
    names = quantity_names()
    rows: list[dict[str, Any]] = []
    ranks: dict[str, list[int]] = {name: [] for name in names}
    seeds = np.random.SeedSequence(opts.seed).generate_state(opts.sims)
    for s in range(opts.sims):
        t0 = time.perf_counter()
        tree = fitter.fit(sims[s], int(seeds[s]))
        post = _ds(tree["posterior"])
        draws = quantity_draws(post, module, rng)
        diag = diagnostics(tree)
        for name in names:
            r = rank_of(float(truths[name][s]), thin(draws[name], opts.thin_to), rng)
            ranks[name].append(r)
            rows.append(
                {"sim": s + 1, "quantity": name, "rank": r, "truth": truths[name][s], **diag}
            )
        log(
            f"sim {s + 1}/{opts.sims}: {time.perf_counter() - t0:.1f} s, "
            f"divergences {diag['divergences']}, max R-hat {diag['max_r_hat']:.3f}, "
            f"min ESS {diag['min_ess_bulk']:.0f}"
        )

    # 4. Uniformity tests.
    threshold = FLAG_P / len(names)
    tests = {name: uniformity(np.asarray(ranks[name]), n_ranks, opts.bins) for name in names}
    failed = [n for n, t in tests.items() if min(t["chi2_p"], t["ks_p"]) < threshold]
    divergent = sorted({r["sim"] for r in rows if r["divergences"] > 0})
    runtime = time.perf_counter() - start
    result = {
        "settings": {
            "sims": opts.sims,
            "chains": opts.chains,
            "draws": opts.draws,
            "tune": opts.tune,
            "target_accept": opts.target_accept,
            "thin_to": opts.thin_to,
            "bins": opts.bins,
            "sampler": opts.sampler,
            "seed": opts.seed,
        },
        "flag_p": FLAG_P,
        "bonferroni_threshold": threshold,
        "tests": tests,
        "failed": failed,
        "calibrated": not failed,
        "simulations_with_divergences": divergent,
        "logp_check_max_abs_difference": worst,
        "runtime_s": runtime,
    }
    print_table(result)
    if opts.out:
        write_outputs(Path(opts.out), rows, result)
        log(f"wrote {opts.out}")
    return 1 if failed else 0


def print_table(result: dict[str, Any]) -> None:
    s = result["settings"]
    print(
        f"SBC etiology-line: {s['sims']} simulations, {s['sampler']} NUTS {s['chains']} x "
        f"{s['draws']} draws ({s['tune']} tune, target_accept {s['target_accept']}), "
        f"thinned to L={s['thin_to']}, {s['bins']} bins"
    )
    print(f"{'quantity':<30}{'chi2 p':>9}{'KS p':>9}  rank histogram (counts per bin)")
    for name, t in result["tests"].items():
        flag = "*" if min(t["chi2_p"], t["ks_p"]) < result["flag_p"] else " "
        counts = " ".join(f"{c:>2}" for c in t["counts"])
        print(f"{name:<30}{t['chi2_p']:>9.3f}{t['ks_p']:>9.3f} {flag} {counts}")
    print(
        f"* p < {result['flag_p']:g}. Failure criterion (Bonferroni over "
        f"{len(result['tests'])} quantities): p < {result['bonferroni_threshold']:.2g} -> "
        + ("CALIBRATED (no failure)" if result["calibrated"] else f"FAILED: {result['failed']}")
    )
    div = result["simulations_with_divergences"]
    print(
        f"simulations with divergent transitions: {len(div)}"
        + (f" ({', '.join(map(str, div))})" if div else "")
        + f"; runtime {result['runtime_s']:.0f} s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sims", type=int, default=100, help="simulations S (default 100)")
    parser.add_argument("--draws", type=int, default=500, help="draws per chain (default 500)")
    parser.add_argument("--tune", type=int, default=500, help="tuning steps (default 500)")
    parser.add_argument("--chains", type=int, default=2, help="chains (default 2)")
    parser.add_argument("--target-accept", type=float, default=0.95, help="(default 0.95)")
    parser.add_argument(
        "--thin-to", type=int, default=99, help="posterior draws L kept per fit (default 99)"
    )
    parser.add_argument("--bins", type=int, default=10, help="histogram bins B (default 10)")
    parser.add_argument("--sampler", choices=("nutpie", "pymc"), default="nutpie")
    parser.add_argument("--seed", type=int, default=20180412, help="(default 20180412)")
    parser.add_argument("--data", type=Path, default=None, help="evidence base (default: shipped)")
    parser.add_argument("--out", type=Path, default=None, help="folder for ranks.csv, results")
    opts = parser.parse_args(argv)
    if opts.sampler == "nutpie" and importlib.util.find_spec("nutpie") is None:
        parser.error(
            "nutpie is not installed: `.venv/bin/pip install nutpie`, or use --sampler pymc"
        )
    if opts.sims < 2:
        parser.error("--sims must be at least 2")
    return run(opts)


if __name__ == "__main__":
    sys.exit(main())
