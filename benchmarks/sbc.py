"""Simulation-based calibration (SBC) of the ``etiology-line`` model (Talts et al. 2018).

Usage::

    python benchmarks/sbc.py --out sbc-out                      # 400 simulations, real settings
    python benchmarks/sbc.py --sims 40 --draws 300 --tune 300   # quick check

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

Fitting. The simulated data sets go through the compiled engine like the scenarios of a
multi-fit command: every simulation is the same model structure with other outcome counts
(``models.compiled.compiled_inputs``), so one compiled program (:func:`hlhbayes.engine.
sample_batch_with_retry`) fits them ``--batch`` at a time, at the production settings by default
(4 chains x 1000 draws after 500 tuning steps, the spec's target_accept). The simulator is
PyMC's own forward sampler on hlhbayes's model, so the check is also one of the engine against
PyMC. Each fit is gated as ``fit`` gates one (R-hat <= 1.01, bulk ESS >= 400, no divergences); a
fit that fails is run again as the multi-fit commands do (target_accept 0.99, then also twice
the warm-up). The script reports the share of simulations that failed the gate at the first
run and the share still failing after the re-runs: simulated data sets are drawn from the whole
prior, some far from any real evidence base, so the shares say how often the default settings
fall short, not how often a real fit does.

Outputs with ``--out DIR``: ``ranks.csv`` (one row per simulation and quantity, with the true
value and the fit's divergences, max R-hat, min bulk ESS, gate verdict and attempts), ``results.json`` (settings, p-values,
verdict, runtime) and ``rank_histograms.png`` when matplotlib is installed (skipped otherwise).
Progress goes to stderr; the result table to stdout.
"""

from __future__ import annotations

import argparse
import dataclasses
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

    from hlhbayes import engine
    from hlhbayes.evidence import load_evidence
    from hlhbayes.inference import complete_tree
    from hlhbayes.models import get_model
    from hlhbayes.models.compiled import compiled_inputs
    from hlhbayes.models.spec import load_spec
    from hlhbayes.models.units import build_units

    for name in ("pymc", "pymc.sampling", "pytensor", "numba"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*could not link to a BLAS.*")

    spec = load_spec("etiology-line")
    module = get_model("etiology-line")
    units = build_units(load_evidence(opts.data), spec.filters)
    if opts.target_accept is None:
        opts.target_accept = float(spec.sampler["target_accept"])
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

    # 1. Joint prior draws of parameters and outcomes from hlhbayes's model (PyMC's sampler).
    reference = module.build(units, spec.priors, spec.options)
    with warnings.catch_warnings():
        # the model's Potentials are its (weighted) likelihood, which prior draws leave out
        warnings.filterwarnings("ignore", "The effect of Potentials", UserWarning)
        prior = pm.sample_prior_predictive(draws=opts.sims, model=reference, random_seed=opts.seed)
    # the likelihood is a (weighted) Potential, so the outcomes are drawn as every fit draws its
    # predictive: binomial counts from the model's unit probabilities
    simulated_tree = complete_tree(module, units, opts.seed, prior=_ds(prior["prior"]))
    prior_ds = _ds(simulated_tree["prior"])
    predictive = _ds(simulated_tree["prior_predictive"])
    rng = np.random.default_rng([opts.seed, 2])
    truths = quantity_draws(prior_ds, module, rng)
    inputs = []
    for s in range(opts.sims):
        simulated = {}
        if len(units.pat_ids):
            simulated["pat_y"] = np.asarray(predictive["y_patient"].values[0, s], np.int64)
        if len(units.agg_ids):
            simulated["agg_events"] = np.asarray(predictive["y_stratum"].values[0, s], np.int64)
        sim_units = dataclasses.replace(units, **simulated)
        inputs.append(compiled_inputs(module, sim_units, spec.priors, spec.options))
    program = inputs[0].model
    if any(x.model.structure != program.structure for x in inputs):
        sys.exit("error: the simulated data sets do not share one model structure")

    # 2. Fit them through one compiled program, --batch at a time, and rank the truth.
    settings = engine.SamplerSettings(
        chains=opts.chains, draws=opts.draws, tune=opts.tune, target_accept=opts.target_accept
    )
    names = quantity_names()
    rows: list[dict[str, Any]] = []
    ranks: dict[str, list[int]] = {name: [] for name in names}
    seeds = [int(x) for x in np.random.SeedSequence(opts.seed).generate_state(opts.sims)]
    first_failed: list[int] = []
    for lo in range(0, opts.sims, opts.batch):
        part = list(range(lo, min(lo + opts.batch, opts.sims)))
        t0 = time.perf_counter()
        batch = engine.sample_batch_with_retry(
            program,
            [inputs[s].data for s in part],
            settings=settings,
            seeds=[seeds[s] for s in part],
            coords=inputs[0].coords,
            scenario_slots=opts.batch,
        )
        for s, fit in zip(part, batch.fits, strict=True):
            c = fit.convergence
            if fit.attempts > 1:
                first_failed.append(s + 1)
            diag = {
                "divergences": c.divergences,
                "max_r_hat": c.max_r_hat,
                "min_ess_bulk": c.min_ess_bulk,
                "converged": c.converged,
                "attempts": fit.attempts,
            }
            draws = quantity_draws(fit.posterior, module, rng)
            for name in names:
                r = rank_of(float(truths[name][s]), thin(draws[name], opts.thin_to), rng)
                ranks[name].append(r)
                rows.append(
                    {"sim": s + 1, "quantity": name, "rank": r, "truth": truths[name][s], **diag}
                )
        failing = sum(not f.convergence.converged for f in batch.fits)
        log(
            f"sims {part[0] + 1}-{part[-1] + 1}/{opts.sims}: {time.perf_counter() - t0:.1f} s, "
            f"{len(batch.failed)} failing the gate after re-runs"
            + (f" ({failing})" if failing != len(batch.failed) else "")
        )

    # 4. Uniformity tests.
    threshold = FLAG_P / len(names)
    tests = {name: uniformity(np.asarray(ranks[name]), n_ranks, opts.bins) for name in names}
    failed = [n for n, t in tests.items() if min(t["chi2_p"], t["ks_p"]) < threshold]
    divergent = sorted({r["sim"] for r in rows if r["divergences"] > 0})
    still_failing = sorted({r["sim"] for r in rows if not r["converged"]})
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
            "batch": opts.batch,
            "sampler": "compiled",
            "seed": opts.seed,
        },
        "flag_p": FLAG_P,
        "bonferroni_threshold": threshold,
        "tests": tests,
        "failed": failed,
        "calibrated": not failed,
        "simulations_with_divergences": divergent,
        "failed_gate_first_run": first_failed,
        "failed_gate_after_reruns": still_failing,
        "share_failed_gate_first_run": len(first_failed) / opts.sims,
        "share_failed_gate_after_reruns": len(still_failing) / opts.sims,
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
    first, after = result["failed_gate_first_run"], result["failed_gate_after_reruns"]
    print(
        f"failing the convergence gate: {len(first)} of {s['sims']} "
        f"({100 * result['share_failed_gate_first_run']:.1f} %) at the first run, "
        f"{len(after)} ({100 * result['share_failed_gate_after_reruns']:.1f} %) after the re-runs"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sims", type=int, default=400, help="simulations S (default 400)")
    parser.add_argument("--draws", type=int, default=1000, help="draws per chain (default 1000)")
    parser.add_argument("--tune", type=int, default=500, help="tuning steps (default 500)")
    parser.add_argument("--chains", type=int, default=4, help="chains (default 4)")
    parser.add_argument(
        "--batch", type=int, default=8, help="simulations per program call (default 8)"
    )
    parser.add_argument(
        "--target-accept", type=float, default=None, help="(default: the spec's, 0.95)"
    )
    parser.add_argument(
        "--thin-to", type=int, default=99, help="posterior draws L kept per fit (default 99)"
    )
    parser.add_argument("--bins", type=int, default=10, help="histogram bins B (default 10)")
    parser.add_argument("--seed", type=int, default=20180412, help="(default 20180412)")
    parser.add_argument("--data", type=Path, default=None, help="evidence base (default: shipped)")
    parser.add_argument("--out", type=Path, default=None, help="folder for ranks.csv, results")
    opts = parser.parse_args(argv)
    if opts.sims < 2:
        parser.error("--sims must be at least 2")
    return run(opts)


if __name__ == "__main__":
    sys.exit(main())
