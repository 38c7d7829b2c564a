"""Speed of the compiled engine, cold and warm, in fresh processes, with the phase breakdown.

Usage::

    .venv/bin/python benchmarks/engine_speed.py --repeat 3
    .venv/bin/python benchmarks/engine_speed.py --repeat 1 --only fit --json

Three jobs, each run as a new process (``python engine_speed.py --worker JOB CACHE``):

* ``fit``: the default fit of ``etiology-line`` on the shipped evidence base (4 chains x 1000
  draws, 500 tuning, target_accept 0.95), with its 1000 prior draws, then the posterior, sample
  statistics and prior groups written as a NetCDF DataTree (the run folder's ``fit.nc``);
* ``random-effects``: the same for ``random-effects`` on RBesT's AS data (8 studies);
* ``batch``: 20 scenarios of etiology-line through one program (leave-one-unit-out weights and
  three tau prior scales), the shape of a sensitivity analysis.

The model is the engine tests' copy of each production model with its evidence, weights and
prior scales as ``pm.Data`` (tests/engine_fixtures.py): the production builders bake the
evidence in as constants, so the engine cannot serve them one program until they are converted.

Conditions. **cold**: a new, empty engine cache folder (``HLHBAYES_CACHE_DIR``), which holds
JAX's persistent compilation cache too, and a new, empty PyTensor compile folder
(``PYTENSOR_FLAGS=base_compiledir=...``): everything is built and compiled. **warm**: one
untimed run fills a cache folder, then every warm repetition reuses it.

Reported per run: the process's wall time (start to exit, as the parent sees it) and CPU time
(user + system of the child, from ``getrusage``), and the phases the worker timed itself:
``imports`` (Python start-up excluded), ``data`` (evidence base to arrays), the engine's own
phases (``jax_import``, ``cache_load``, ``build``, ``deserialize``, ``xla_lower``, ``xla``,
``sampling``, ``postprocess``, ``diagnostics``, ``prior_*`` for the prior draws, which are
prepared in a second thread: their phases overlap the others; a warm fit reads the stored prior
draws) and ``write``. CPU seconds of a phase count every thread of the process. The 1-minute load average before
each run is printed: on a shared machine, CPU time is the stabler figure. A shared virtual
machine can also run at a fraction of its usual speed for a while, with no load visible
inside it: the CPU seconds of a fixed pure-Python loop (``calibration``), measured right before
each run (and before and after all runs), tell runs on a slow phase from runs on a fast one.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

START = time.perf_counter()
REPO = Path(__file__).resolve().parents[1]
JOBS = ("fit", "random-effects", "batch")
BATCH_SCENARIOS = 20
TARGETS = {("fit", "warm"): 3.0, ("fit", "cold"): 15.0, ("random-effects", "warm"): 2.0}


def worker(job: str, cache_dir: str) -> None:
    """One measured process: prints a JSON line with the phase timings."""
    phases: dict[str, dict[str, float]] = {}
    clock = [time.perf_counter(), time.process_time()]

    def lap(name: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        phases[name] = {"wall": wall - clock[0], "cpu": cpu - clock[1]}
        clock[:] = [wall, cpu]

    import numpy as np
    import xarray as xr

    sys.path.insert(0, str(REPO / "tests"))
    import engine_fixtures as fx
    from hlhbayes import engine

    lap("imports")
    cache = engine.CompiledFitCache(Path(cache_dir))
    if job == "random-effects":
        n = np.array([107, 44, 51, 39, 139, 20, 78, 35])
        r = np.array([23, 12, 19, 9, 39, 6, 9, 10])
        model = fx.random_effects(8)
        data = fx.random_effects_data(r, n, mu_sigma=2.0, tau_sigma=1.0)
        coords: dict[str, Any] = {"study": [f"Study {i + 1}" for i in range(8)]}
        coords["stratum"] = coords["study"]
    else:
        from hlhbayes.models.spec import load_spec
        from hlhbayes.pipeline import FitRequest, prepare

        spec = load_spec("etiology-line")
        units = prepare(FitRequest(spec=spec)).units
        model = fx.etiology_line(units)
        data = fx.etiology_line_data(units, spec.priors)
        coords = {"study": list(units.studies), "patient": list(units.pat_ids)}
        coords["stratum"] = list(units.agg_ids)
    lap("data")
    out: dict[str, Any] = {"job": job}
    if job == "batch":
        scenarios = []
        for i in range(BATCH_SCENARIOS):
            include = np.ones(units.n_units)
            include[i % units.n_units] = 0.0
            tau_sigma = (0.5, 1.0, 2.0)[i % 3]
            scenarios.append(fx.etiology_line_data(units, spec.priors, include=include))
            scenarios[-1]["tau_sigma"] = np.float64(tau_sigma)
        batch = engine.sample_batch(model, scenarios, coords=coords, cache=cache)
        result_timings = batch.timings
        out["failed"] = batch.failed
        out["divergences"] = [f.convergence.divergences for f in batch.fits]
        out["min_ess_bulk"] = min(f.convergence.min_ess_bulk for f in batch.fits)
    else:
        result = engine.fit(model, data, coords=coords, cache=cache)
        result_timings = result.timings
        out["converged"] = result.convergence.converged
        out["min_ess_bulk"] = result.convergence.min_ess_bulk
        out["divergences"] = result.convergence.divergences
        lap("engine")
        with tempfile.TemporaryDirectory() as folder:
            tree = xr.DataTree.from_dict(
                {
                    "posterior": result.posterior,
                    "sample_stats": result.sample_stats,
                    "prior": result.prior,
                    "prior_predictive": result.prior_predictive,
                }
            )
            tree.to_netcdf(Path(folder) / "fit.nc")
        lap("write")
    heavy = ("pymc", "pytensor", "numpyro", "arviz", "arviz_stats")
    out["heavy_modules"] = [m for m in heavy if m in sys.modules]
    out["phases"] = phases
    out["engine_phases"] = result_timings.as_dict()
    out["in_process_wall"] = time.perf_counter() - START
    print(json.dumps(out))


def calibration() -> float:
    """CPU seconds of a fixed pure-Python loop (10 million additions) in this process."""
    start = time.process_time()
    total = 0
    for i in range(10_000_000):
        total += i
    return time.process_time() - start


def run_process(job: str, cache_dir: Path, compiledir: Path) -> dict[str, Any]:
    """Run one worker; add its process wall and CPU time and the load before it."""
    env = dict(os.environ)
    env["HLHBAYES_CACHE_DIR"] = str(cache_dir)
    flags = [f for f in env.get("PYTENSOR_FLAGS", "").split(",") if f and "compiledir" not in f]
    env["PYTENSOR_FLAGS"] = ",".join([*flags, f"base_compiledir={compiledir}"])
    load = os.getloadavg()[0]
    speed = calibration()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", job, str(cache_dir)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{job} worker failed:\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["wall"] = wall
    out["cpu"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    out["load_before"] = load
    out["calibration"] = speed
    return out


def measure(jobs: list[str], repeat: int, log: Any) -> dict[str, dict[str, list[dict]]]:
    """Cold and warm runs of every job, interleaved job by job."""
    results: dict[str, dict[str, list[dict]]] = {job: {"cold": [], "warm": []} for job in jobs}
    with tempfile.TemporaryDirectory(prefix="hlhbayes-engine-bench-") as tmp:
        root = Path(tmp)
        warm = {job: (root / f"warm-{job}", root / f"warm-{job}-pytensor") for job in jobs}
        for job in jobs:
            log(f"{job}: filling the warm cache (not timed) ...")
            run_process(job, *warm[job])
        for i in range(repeat):
            for job in jobs:
                cold_dir = Path(tempfile.mkdtemp(prefix=f"cold-{job}-", dir=root))
                for condition, dirs in (
                    ("cold", (cold_dir, cold_dir / "pytensor")),
                    ("warm", warm[job]),
                ):
                    run = run_process(job, *dirs)
                    log(
                        f"{job} {condition} {i + 1}/{repeat}: {run['wall']:.1f} s wall, "
                        f"{run['cpu']:.1f} s CPU (load {run['load_before']:.1f}, "
                        f"calibration {run['calibration']:.2f} s)"
                    )
                    results[job][condition].append(run)
    return results


def _median(values: list[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def report(results: dict[str, dict[str, list[dict]]]) -> None:
    """Median (min-max) per job and condition, then the phase breakdown."""
    print(f"{'job':<16}{'condition':<10}{'wall s':>22}{'CPU s':>22}{'calibration s':>22}  target")
    for job, conditions in results.items():
        for condition, runs in conditions.items():
            wall = [r["wall"] for r in runs]
            target = TARGETS.get((job, condition))
            verdict = ""
            if target is not None and wall:
                verdict = f"{target:g} s {'ok' if statistics.median(wall) <= target else 'MISS'}"
            print(
                f"{job:<16}{condition:<10}{_median(wall):>22}"
                f"{_median([r['cpu'] for r in runs]):>22}"
                f"{_median([r['calibration'] for r in runs]):>22}  {verdict}"
            )
    for job, conditions in results.items():
        for condition, runs in conditions.items():
            if not runs:
                continue
            print(f"\n{job}, {condition}: phases, median wall / CPU s")
            phases: dict[str, dict[str, list[float]]] = {}
            for run in runs:
                for source in ("phases", "engine_phases"):
                    for name, t in run[source].items():
                        entry = phases.setdefault(name, {"wall": [], "cpu": []})
                        entry["wall"].append(t["wall"])
                        entry["cpu"].append(t["cpu"])
            for name, t in phases.items():
                print(
                    f"  {name:<22}{statistics.median(t['wall']):8.3f}"
                    f"{statistics.median(t['cpu']):8.3f}"
                )
            extra = {
                k: runs[-1][k]
                for k in ("divergences", "min_ess_bulk", "heavy_modules")
                if k in runs[-1]
            }
            print(f"  last run: {extra}")


def main() -> None:
    """Parse arguments; run the worker or the whole benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=JOBS, action="append", help="run only these jobs")
    parser.add_argument("--json", action="store_true", help="print the raw results as JSON")
    parser.add_argument("--worker", nargs=2, metavar=("JOB", "CACHE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    jobs = args.only or list(JOBS)
    before = calibration()
    results = measure(jobs, args.repeat, lambda m: print(m, file=sys.stderr))
    after = calibration()
    if args.json:
        print(json.dumps({"calibration_cpu_s": [before, after], "results": results}, indent=1))
    else:
        print(f"machine: {os.cpu_count()} cores; load averages now {os.getloadavg()}")
        print(
            f"calibration (10M-addition Python loop): {before:.2f} s CPU before, {after:.2f} after"
        )
        report(results)


if __name__ == "__main__":
    main()
