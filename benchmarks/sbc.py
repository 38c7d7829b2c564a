"""Simulation-based calibration (SBC) of ``etiology-line`` at the production sampler settings.

Usage::

    python benchmarks/sbc.py --out sbc-out                    # 400 simulations per simulator
    python benchmarks/sbc.py --out sbc-out --max-minutes 60   # stop after an hour; run the same
                                                              # command again to continue
    python benchmarks/sbc.py --out quick --sims 16 --draws 300 --tune 300 --chains 2

**Simulations.** The model is built for the units of the evidence base (shipped by default; the
model spec's filters, priors and options from ``models/etiology-line.yaml``), so every simulated
data set has the real base's shapes: its studies, patient rows and strata, each stratum with its
size and its known or unknown etiology and line composition. PyMC's forward sampler draws ``S``
sets of parameters from the joint prior (``alpha``, ``sigma_eta``, ``tau``, ``gamma``, the
etiology and study effects and, where a stratum's composition is unknown, its true latent mix
``mix_latent`` / ``later_latent``). Each set gets outcomes from one or both simulators
(``--simulate``):

* ``model``: the model's own likelihood: a patient row is Bernoulli, a stratum
  ``Binomial(n, mean probability of its members)`` (the model's ``unit_probabilities``).
  Classic SBC: if model, simulator and sampler agree, every rank is uniform.
* ``convolution``: the exact likelihood the mean-probability binomial approximates
  (:mod:`hlhbayes.models.convolution`): a stratum's count is the sum of one Bernoulli outcome
  per patient, its patients as its composition states them (a convolution of binomials, one per
  cell); where a composition is unknown, each patient's trigger or line is an independent draw
  from the true latent mix, as multinomial cell counts would be. The fits still use the
  mean-probability model, so this tests whether the approximation biases inference instead of
  assuming it does not: ranks, coverage and bias are reported as for ``model``.

The two simulators share everything but the likelihood of the strata: the true parameters, the
fits' seeds and the random numbers. Every count is the quantile of its distribution at a
uniform number common to both (a patient row ``[U < p]``, a stratum the quantile of the model's
binomial or of the exact pmf), so each data set is an exact draw from its own simulator and the
two differ only where the distributions differ (patient rows never; a stratum whose
compositions are both unknown never, since there the exact count is the model's binomial). The
posterior mean under ``convolution`` minus that under ``model``, per simulation, then measures
what the approximation moves, with little noise of its own (``paired`` in the results). A
``convolution`` data set identical to its ``model`` twin is not fitted again: with the same data
and seed, the twin's fit is its fit.

**Fitting.** All simulated data sets share one model structure, so one compiled program fits
them, ``--batch`` at a time (:func:`hlhbayes.engine.sample_batch_with_retry`), at the production
settings by default: 4 chains x 1000 draws after 500 tuning steps, the spec's target_accept
(0.95). Each fit is gated as ``fit`` gates one (every R-hat <= 1.01, every bulk ESS >= 400, no
divergent transition) and a failing fit is run again as the multi-fit commands do
(target_accept 0.99, then also twice the warm-up; ``--no-rerun`` skips this). The share failing
the gate at the first run and after the re-runs is reported, with every failing simulation
listed (its diagnostics and true hyperparameters). Ranks, coverage and bias use the fits that
passed the gate; their number is stated, and the rank tests on all fits are kept beside them.

**Ranks.** Ranked quantities: ``alpha``, ``tau``, ``gamma``, ``sigma_eta`` and, per etiology x
line, ``rate_typical`` and ``rate_new`` (24). The truth of ``rate_new`` is
``logit^-1(eta_e + gamma [l] + tau z)`` with a fresh ``z`` per simulation, as the posterior's
draws have one per draw. The rank of the truth is the number of ``L`` (``--thin-to``, default 99)
posterior draws below it, the draws evenly spaced over the 4 x 1000 (a stride of about 40 within
each chain). Ranks need near-independent draws: a fit that passes the gate has a bulk ESS of at
least 400 in 4000 draws on every parameter, an integrated autocorrelation time of at most 10,
so the stride is at least 4 autocorrelation times (for an AR(1) chain with time 10, a lag-40
correlation of 0.0003). The results give the smallest bulk ESS of each ranked quantity and the
number of (fit, quantity) pairs with an ESS below 4 L.

**Statistics** (:mod:`sbc_results`): per quantity a chi-square test of the rank histogram
(``--bins``, default 10) and a KS test of the scaled ranks; the coverage of the central 50, 90
and 95 % intervals; bias and RMSE of the posterior mean. Multiplicity: per simulator 2 x 24 rank
tests, failing when any p-value is below 0.01 / 48 (Bonferroni); coverage 3 x 24 binomial
tests, Bonferroni likewise.

**Output folder** (``--out``, required): ``settings.json`` (the settings; a resumed run must
match them), ``batches/<simulator>-<n>.json`` (each batch's records, with the data every fit
saw, written when the batch is done, so that an interrupted run continues where it stopped; a
resumed run checks that they are the data it simulates), and at the end ``results.json``
(settings, machine load, run time, every statistic above), ``ranks.csv`` (one row per
simulation, simulator and quantity) and ``rank_histograms.png``. Progress goes to stderr (a line
per batch with the time elapsed and left), the result table to stdout. Exit 0, or 1 when a
simulator's ranks fail the uniformity criterion or the folder belongs to other settings or
data.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sbc_results

MODES = ("model", "convolution")
HYPER = ("alpha", "tau", "gamma", "sigma_eta")
LOAD_NOTE = (
    "the machine's cores were shared with other work while this ran: wall times depend on that "
    "load (load_average_mean); CPU seconds are the steadier measure"
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def quantity_names() -> list[str]:
    from hlhbayes.models.units import MODEL_ETIOLOGIES, MODEL_LINES

    cells = [(e, ln) for e in MODEL_ETIOLOGIES for ln in MODEL_LINES]
    return [
        *HYPER,
        *(f"rate_typical[{e},{ln}]" for e, ln in cells),
        *(f"rate_new[{e},{ln}]" for e, ln in cells),
    ]


def quantity_draws(ds: Any, module: Any, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``(chain, draw)`` draws of every ranked quantity (the model's own ``quantities``)."""
    rates = module.quantities(ds, rng)
    out = {name: ds[name].transpose("chain", "draw").values for name in HYPER}
    for quantity in ("rate_typical", "rate_new"):
        q = rates[quantity]
        for e in q["etiology"].values:
            for ln in q["line"].values:
                cell = q.sel(etiology=e, line=ln).transpose("chain", "draw").values
                out[f"{quantity}[{e},{ln}]"] = cell
    return out


@dataclass(frozen=True)
class Simulated:
    """True values (name -> ``(S,)``) and outcomes per simulator (per simulation a dict)."""

    truths: dict[str, np.ndarray]
    outcomes: dict[str, list[dict[str, np.ndarray]]]


def simulate(module: Any, units: Any, spec: Any, sims: int, seed: int) -> Simulated:
    """Prior draws (PyMC's forward sampler) and the outcomes of both simulators.

    Both simulators draw each count as a quantile of its distribution at the same uniform
    number (common random numbers): a patient row ``y = [U < p]``; a stratum the quantile of
    the model's ``Binomial(n, mean p)`` or of the exact count's pmf
    (:func:`hlhbayes.models.convolution.simulate_strata`). Each is an exact draw from its own
    distribution, and the two data sets differ only where the distributions do.
    """
    import pymc as pm
    from scipy import stats

    from hlhbayes.models.convolution import simulate_strata

    reference = module.build(units, spec.priors, spec.options)
    with warnings.catch_warnings():
        # the model's Potentials are its (weighted) likelihood, which prior draws leave out
        warnings.filterwarnings("ignore", "The effect of Potentials", UserWarning)
        prior = pm.sample_prior_predictive(
            draws=sims,
            model=reference,
            random_seed=seed,
            compile_kwargs={"mode": "FAST_COMPILE"},  # the same draws, a fraction of the compile
        )
    prior_ds = prior["prior"].to_dataset()
    truths = {
        k: v.ravel()
        for k, v in quantity_draws(prior_ds, module, np.random.default_rng([seed, 2])).items()
    }
    # the model's own formulas for every unit's probability (a patient's, a stratum's mean)
    probabilities = module.unit_probabilities(prior_ds, units)
    uniforms = np.random.default_rng([seed, 3]).random((sims, units.n_units))
    n_pat = len(units.pat_ids)
    patients = np.zeros((sims, 0), dtype=np.int64)
    if n_pat:
        patients = (uniforms[:, :n_pat] < probabilities["y_patient"][0]).astype(np.int64)
    model_events = convolution_events = np.zeros((sims, 0), dtype=np.int64)
    if len(units.agg_ids):
        u_strata = uniforms[:, n_pat:]
        mean_p = probabilities["y_stratum"][0]
        model_events = stats.binom.ppf(u_strata, units.agg_total, mean_p).astype(np.int64)

        def first_chain(name: str) -> np.ndarray | None:
            return prior_ds[name].values[0] if name in prior_ds else None

        convolution_events = simulate_strata(
            units,
            first_chain("eta"),
            first_chain("gamma"),
            first_chain("u"),
            np.random.default_rng([seed, 5]),
            mix_latent=first_chain("mix_latent"),
            later_latent=first_chain("later_latent"),
            uniforms=u_strata,
        )
    outcomes: dict[str, list[dict[str, np.ndarray]]] = {mode: [] for mode in MODES}
    for s in range(sims):
        shared = {"pat_y": patients[s]} if n_pat else {}
        strata = len(units.agg_ids) > 0
        outcomes["model"].append({**shared, **({"agg_events": model_events[s]} if strata else {})})
        outcomes["convolution"].append(
            {**shared, **({"agg_events": convolution_events[s]} if strata else {})}
        )
    return Simulated(truths, outcomes)


def record_of(
    sim: int,
    mode: str,
    fit: Any,
    simulated: Simulated,
    module: Any,
    opts: argparse.Namespace,
) -> dict[str, Any]:
    """One fit's data and diagnostics and, per ranked quantity, truth, rank, mean, intervals, ESS."""
    from hlhbayes.engine import diagnostics

    # the same stream under both simulators: rate_new's z and rank ties are paired too
    rng = np.random.default_rng([opts.seed, 4, sim])
    draws = quantity_draws(fit.posterior, module, rng)
    names = list(draws)
    ess = diagnostics.ess_bulk(np.stack([draws[n] for n in names], axis=-1))
    quantities = {}
    for i, name in enumerate(names):
        flat = draws[name].ravel()  # chain-major
        thinned = flat[np.linspace(0, len(flat) - 1, opts.thin_to).round().astype(int)]
        truth = float(simulated.truths[name][sim])
        below = int(np.sum(thinned < truth))
        ties = int(np.sum(thinned == truth))
        rank = below + (int(rng.integers(0, ties + 1)) if ties else 0)
        quantities[name] = {
            "truth": truth,
            "rank": rank,
            "mean": float(flat.mean()),
            "interval": {
                str(level): np.quantile(flat, [(1 - level) / 2, (1 + level) / 2]).tolist()
                for level in sbc_results.LEVELS
            },
            "ess_bulk": float(ess[i]),
        }
    c = fit.convergence
    return {
        "sim": sim + 1,
        "mode": mode,
        "converged": bool(c.converged),
        "first_run_converged": bool(c.converged and fit.attempts == 1),
        "attempts": fit.attempts,
        "divergences": int(c.divergences),
        "max_r_hat": float(c.max_r_hat),
        "min_ess_bulk": float(c.min_ess_bulk),
        "target_accept": float(fit.target_accept),
        "tune": int(fit.tune),
        "data": {k: v.tolist() for k, v in simulated.outcomes[mode][sim].items()},
        "quantities": quantities,
    }


def clock(seconds: float) -> str:
    seconds = round(seconds)
    h, rest = divmod(seconds, 3600)
    return f"{h}h{rest // 60:02d}m" if h else f"{rest // 60}m{rest % 60:02d}s"


def check_folder(out: Path, settings: dict[str, Any]) -> None:
    """Check that the folder's simulations (``settings.json``, if any) have these settings."""
    path = out / "settings.json"
    if not path.exists():
        return
    held = json.loads(path.read_text(encoding="utf-8"))
    mine = json.loads(json.dumps(settings))
    differ = sorted(k for k in mine if held.get(k) != mine[k])
    if differ:
        sys.exit(
            f"error: {path}: this folder holds simulations with other settings "
            f"({', '.join(differ)} differ); choose another --out or delete the folder"
        )


@dataclass(frozen=True)
class Batch:
    """Fits run in one program call: the ``number``-th batch of a simulator, 0-based ``sims``."""

    mode: str
    number: int
    sims: list[int]

    def path(self, out: Path) -> Path:
        return out / "batches" / f"{self.mode}-{self.number:04d}.json"


def differing_sims(simulated: Simulated) -> list[int]:
    """The simulations whose data differ between the two simulators (0-based)."""
    model, convolution = simulated.outcomes["model"], simulated.outcomes["convolution"]
    return [
        s
        for s, (a, b) in enumerate(zip(model, convolution, strict=True))
        if any(not np.array_equal(a[k], b[k]) for k in a)
    ]


def plan_batches(modes: list[str], sims: int, differing: list[int], size: int) -> list[Batch]:
    """Every batch to fit, in the order that keeps a run cut short balanced.

    Under ``convolution`` only the data sets that differ from their ``model`` twin are fitted
    when both simulators run: an identical data set with the same seed has the twin's fit.
    Batches run in the order of their last simulation, so a partial run has whole pairs.
    """
    plan = []
    for mode in modes:
        own = differing if mode == "convolution" and "model" in modes else list(range(sims))
        plan += [Batch(mode, i // size + 1, own[i : i + size]) for i in range(0, len(own), size)]
    return sorted(plan, key=lambda b: (b.sims[-1], MODES.index(b.mode)))


@dataclass(frozen=True)
class Setup:
    """The model, its spec and the evidence base's units the simulations take their shapes from."""

    module: Any
    spec: Any
    units: Any


def fit_batches(
    todo: list[Batch],
    total: int,
    simulated: Simulated,
    setup: Setup,
    opts: argparse.Namespace,
    started: float,
) -> None:
    """Fit each batch and write its records when done; one progress line per batch."""
    from hlhbayes import engine
    from hlhbayes.atomic import write_json
    from hlhbayes.models.compiled import compiled_inputs

    if not todo:
        return
    module, spec, units = setup.module, setup.spec, setup.units

    def inputs(mode: str, s: int) -> Any:
        sim_units = replace(units, **simulated.outcomes[mode][s])
        return compiled_inputs(module, sim_units, spec.priors, spec.options)

    program = inputs(todo[0].mode, todo[0].sims[0])
    sampler = engine.SamplerSettings(
        chains=opts.chains, draws=opts.draws, tune=opts.tune, target_accept=opts.target_accept
    )
    policy = engine.RetryPolicy(steps=()) if opts.no_rerun else engine.RetryPolicy()
    seeds = [int(x) for x in np.random.SeedSequence(opts.seed).generate_state(opts.sims)]
    loop_start = time.perf_counter()
    for done, batch in enumerate(todo, start=1):
        if opts.max_minutes is not None and time.perf_counter() - started > 60 * opts.max_minutes:
            log(f"--max-minutes {opts.max_minutes:g} reached: stopping; run again to continue")
            return
        b_wall, b_cpu = time.perf_counter(), time.process_time()
        data = [inputs(batch.mode, s) for s in batch.sims]
        if any(x.model.structure != program.model.structure for x in data):
            sys.exit("error: the simulated data sets do not share one model structure")
        fits = engine.sample_batch_with_retry(
            program.model,
            [x.data for x in data],
            settings=sampler,
            seeds=[seeds[s] for s in batch.sims],
            coords=program.coords,
            scenario_slots=opts.batch,
            policy=policy,
        ).fits
        records = [
            record_of(s, batch.mode, fit, simulated, module, opts)
            for s, fit in zip(batch.sims, fits, strict=True)
        ]
        wall, cpu = time.perf_counter() - b_wall, time.process_time() - b_cpu
        load = os.getloadavg()[0]
        write_json(
            batch.path(opts.out),
            {"wall_s": wall, "cpu_s": cpu, "load_average": load, "records": records},
        )
        per_batch = (time.perf_counter() - loop_start) / done
        first = sum(not r["first_run_converged"] for r in records)
        after = sum(not r["converged"] for r in records)
        sims = (
            f"{batch.sims[0] + 1}-{batch.sims[-1] + 1}"
            if batch.mode == "model"
            else (",".join(str(s + 1) for s in batch.sims))
        )
        log(
            f"batch {total - len(todo) + done}/{total} ({batch.mode}, sims {sims} of "
            f"{opts.sims}): {wall:.0f} s wall, {cpu:.0f} s CPU, load {load:.1f}; gate: {first} "
            f"failed at the first run, {after} after re-runs; elapsed "
            f"{clock(time.perf_counter() - started)}, left ~{clock(per_batch * (len(todo) - done))}"
        )


def check_batches(plan: list[Batch], simulated: Simulated, out: Path) -> None:
    """Every finished batch fitted the data simulated now (the same settings, code and versions).

    A change of PyMC's forward sampler, or of the model's formulas, changes the simulated data;
    the fits of earlier data must then not be mixed with new ones.
    """
    for batch in plan:
        path = batch.path(out)
        if not path.exists():
            continue
        for r in json.loads(path.read_text(encoding="utf-8"))["records"]:
            now = simulated.outcomes[batch.mode][r["sim"] - 1]
            if any(list(map(int, now[k])) != r["data"][k] for k in now):
                sys.exit(
                    f"error: {path}: simulation {r['sim']} was fitted to other data than this "
                    "code simulates now; choose another --out or delete the folder"
                )


def gather(
    plan: list[Batch], modes: list[str], differing: list[int], sims: int, out: Path
) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
    """Per simulator the records of the simulations done under every simulator, and the batches.

    A ``convolution`` data set identical to its ``model`` twin gets the twin's record
    (``own_fit`` false).
    """
    fitted: dict[str, dict[int, dict[str, Any]]] = {mode: {} for mode in modes}
    batches = []
    for batch in plan:
        if batch.path(out).exists():
            held = json.loads(batch.path(out).read_text(encoding="utf-8"))
            batches.append(held)
            for r in held["records"]:
                fitted[batch.mode][r["sim"]] = {**r, "own_fit": True}
    if "convolution" in fitted and "model" in fitted:
        own = {s + 1 for s in differing}
        for sim, r in fitted["model"].items():
            if sim not in own:
                fitted["convolution"][sim] = {**r, "mode": "convolution", "own_fit": False}
    whole = [s for s in range(1, sims + 1) if all(s in fitted[m] for m in modes)]
    return {m: [fitted[m][s] for s in whole] for m in modes}, batches


def run(opts: argparse.Namespace) -> int:
    started, start_cpu = time.perf_counter(), time.process_time()
    from hlhbayes.atomic import write_json
    from hlhbayes.evidence import load_evidence
    from hlhbayes.models import get_model
    from hlhbayes.models.spec import load_spec

    for name in ("pymc", "pymc.sampling", "pytensor", "numba"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*could not link to a BLAS.*")

    spec = load_spec("etiology-line")
    module = get_model("etiology-line")
    units = module.units(load_evidence(opts.data), spec.filters)
    if opts.target_accept is None:
        opts.target_accept = float(spec.sampler["target_accept"])
    modes = list(MODES) if opts.simulate == "both" else [opts.simulate]
    u = units.describe()
    log(
        f"units: {u['studies']} studies, {u['patients']} patients, {u['strata']} strata "
        f"({u['strata_with_unknown_etiology']} with unknown mix, "
        f"{u['strata_with_unknown_line']} with unknown line)"
    )
    settings: dict[str, Any] = {
        "model": module.name,
        "units": units.fingerprint(),
        "sims": opts.sims,
        "chains": opts.chains,
        "draws": opts.draws,
        "tune": opts.tune,
        "target_accept": opts.target_accept,
        "thin_to": opts.thin_to,
        "batch": opts.batch,
        "rerun": not opts.no_rerun,
        "seed": opts.seed,
    }
    out = opts.out
    check_folder(out, settings)  # before the simulations: a wrong folder fails at once
    if not (out / "settings.json").exists():
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "settings.json", settings)
    (out / "batches").mkdir(exist_ok=True)
    t0 = time.perf_counter()
    simulated = simulate(module, units, spec, opts.sims, opts.seed)
    simulation_s = time.perf_counter() - t0
    differing = differing_sims(simulated)
    log(
        f"simulated {opts.sims} data sets per simulator in {simulation_s:.1f} s; "
        f"{len(differing)} differ between the simulators"
    )
    plan = plan_batches(modes, opts.sims, differing, opts.batch)
    check_batches(plan, simulated, out)
    todo = [b for b in plan if not b.path(out).exists()]
    if len(todo) < len(plan):
        log(f"resuming: {len(plan) - len(todo)} of {len(plan)} batches already done in {out}")
    fit_batches(todo, len(plan), simulated, Setup(module, spec, units), opts, started)

    records, batches = gather(plan, modes, differing, opts.sims, out)
    names = quantity_names()
    n_ranks = opts.thin_to + 1
    done = len(records[modes[0]])
    result: dict[str, Any] = {
        "settings": {**settings, "bins": opts.bins, "simulators": modes, "sampler": "compiled"},
        "complete": done == opts.sims,
        "modes": {
            mode: sbc_results.summarise_mode(records[mode], names, n_ranks, opts.bins)
            for mode in modes
        },
    }
    if len(modes) == 2:
        result["data_differ"] = sbc_results.data_differences(simulated.outcomes, units.agg_ids)
        result["paired"] = sbc_results.paired_shift(records["model"], records["convolution"], names)
    loads = [b["load_average"] for b in batches]
    result["runtime"] = {
        "batches": len(batches),
        "fits_wall_s": float(sum(b["wall_s"] for b in batches)),
        "fits_cpu_s": float(sum(b["cpu_s"] for b in batches)),
        "process_wall_s": time.perf_counter() - started,
        "process_cpu_s": time.process_time() - start_cpu,
        "simulation_s": simulation_s,
        "load_average_mean": float(np.mean(loads)) if loads else None,
        "load_average_max": float(np.max(loads)) if loads else None,
        "cpus": os.cpu_count(),
        "note": LOAD_NOTE,
    }
    sbc_results.print_table(result)
    sbc_results.write_outputs(out, result, [r for m in modes for r in records[m]], names)
    if not result["complete"]:
        log(f"partial: {done} of {opts.sims} simulations done under every simulator")
    log(f"wrote {out / 'results.json'}, ranks.csv, rank_histograms.png")
    return 1 if any(result["modes"][m]["ranks_uniform"] is False for m in modes) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="sbc.py",
        description=(
            "Simulation-based calibration of etiology-line on the evidence base's shapes, with "
            "data from the model's own likelihood and/or from the exact convolution of "
            "binomials. Resumable: run the same command again to continue an interrupted run."
        ),
        epilog="Details: the docstring of benchmarks/sbc.py.",
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder (resumable)")
    parser.add_argument(
        "--simulate",
        choices=("model", "convolution", "both"),
        default="both",
        help="model: the model's mean-probability binomial; convolution: the exact sum of "
        "binomials per cell; both (default): both, paired",
    )
    parser.add_argument("--sims", type=int, default=400, help="simulations per simulator (400)")
    parser.add_argument("--seed", type=int, default=20180412, help="(default 20180412)")
    parser.add_argument("--draws", type=int, default=1000, help="draws per chain (1000)")
    parser.add_argument("--tune", type=int, default=500, help="tuning steps per chain (500)")
    parser.add_argument("--chains", type=int, default=4, help="chains (4)")
    parser.add_argument(
        "--target-accept", type=float, default=None, help="(default: the spec's, 0.95)"
    )
    parser.add_argument("--batch", type=int, default=8, help="fits per program call (8)")
    parser.add_argument(
        "--thin-to", type=int, default=99, help="posterior draws L the truth is ranked among (99)"
    )
    parser.add_argument("--bins", type=int, default=10, help="rank histogram bins (10)")
    parser.add_argument(
        "--no-rerun", action="store_true", help="do not re-run fits failing the gate"
    )
    parser.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="start no new batch after this many minutes; summarise what is done",
    )
    parser.add_argument("--data", type=Path, default=None, help="evidence base (default: shipped)")
    opts = parser.parse_args(argv)
    if opts.sims < 2:
        parser.error("--sims must be at least 2")
    if not 1 <= opts.batch <= 64:
        parser.error("--batch must be between 1 and 64")
    if (opts.thin_to + 1) % opts.bins:
        parser.error(f"--thin-to + 1 ({opts.thin_to + 1}) must be a multiple of --bins")
    if opts.chains * opts.draws < opts.thin_to:
        parser.error("--chains x --draws must be at least --thin-to")
    return run(opts)


if __name__ == "__main__":
    sys.exit(main())
