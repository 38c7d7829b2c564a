"""End-to-end speed of ``hlhbayes fit --etiology infection``, cold and warm, as a fresh process.

Usage::

    python benchmarks/fit_speed.py --repeat 3
    python benchmarks/fit_speed.py --repeat 1 --args "--tune 500"
    python benchmarks/fit_speed.py --repeat 1 --args "--sampler nutpie" --json

What it measures. Each run is a new process, exactly what a user types::

    .venv/bin/hlhbayes fit --etiology infection --quiet --format json --out <tmp> [--args ...]

(the executable is taken from the folder of ``sys.executable``, so run this script with the
project's ``.venv/bin/python``). Two conditions:

* **cold**: the PyTensor compile cache is empty. Every cold repetition gets its own fresh
  ``PYTENSOR_FLAGS=base_compiledir=<new temp dir>``, so it pays for compiling the model.
* **warm**: one extra (untimed) run fills a fresh cache dir, then every warm repetition reuses it.

For each condition it reports the median and min-max over ``--repeat`` repetitions of:

* ``wall``: wall-clock seconds of the whole process (start-up, imports, data, compile, sampling,
  prior predictive, summaries, writing the run folder);
* ``sampling``: the sampler's own time, the ``sampling_time`` attribute of the posterior group in
  the run's ``fit.nc`` (absent for samplers that do not record it);
* ``ess``: the minimum bulk ESS over the reported quantities (``rate_typical`` and ``rate_new``
  records of ``summary.json``); ``ess_all`` is the minimum over every summary record (the
  hyperparameters too) and ``ess_gate`` the convergence gate's figure (every free parameter);
* ``ess/s``: ``ess`` divided by ``wall``;
* ``div``: divergent transitions, and ``conv``: the convergence flag of ``summary.json``.

It also checks that every run, cold or warm, printed the same summary numbers (the same seed
must give the same numbers whatever the state of the compile cache).

``--conditions cold|warm`` measures one condition only (``warm`` still runs the untimed warm-up).
The compile cache is PyTensor's ``base_compiledir``: PyTensor 3 compiles with Numba by default and
keeps its Numba cache in ``<base_compiledir>/numba`` (the C cache is there too), so a fresh
``base_compiledir`` is a truly cold start. Other ``PYTENSOR_FLAGS`` in the environment are passed
through (e.g. ``PYTENSOR_FLAGS=linker=cvm`` to time the C backend).

Targets for the default settings: warm < 4 s, cold < 12 s wall time, bulk ESS >= 1000 for every
reported quantity, no divergences. The table marks each target ``ok`` or ``MISS``.

Timings depend on the machine and on its load; say so when quoting them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hlhbayes.runs import Run as RunFolder
from hlhbayes.runs import read_run

BASE_ARGS = ["fit", "--etiology", "infection", "--quiet", "--format", "json"]
TARGET_WARM_S = 4.0
TARGET_COLD_S = 12.0
TARGET_ESS = 1000.0
REPORTED = ("rate_typical", "rate_new")
METRICS = ("wall", "sampling", "ess", "ess_all", "ess_gate", "ess_per_s", "divergences")


@dataclass
class Run:
    """One timed process."""

    condition: str
    wall: float
    returncode: int
    sampling: float | None = None
    ess: float | None = None
    ess_all: float | None = None
    ess_gate: float | None = None
    ess_per_s: float | None = None
    divergences: int | None = None
    converged: bool | None = None
    fingerprint: str | None = None
    error: str | None = None


def executable() -> Path:
    """``hlhbayes`` next to the running interpreter (the project's venv)."""
    exe = Path(sys.executable).parent / "hlhbayes"
    if not exe.exists():
        sys.exit(f"error: {exe} not found; run this script with the project's .venv/bin/python")
    return exe


def run_once(condition: str, compiledir: Path, extra: list[str], workdir: Path) -> Run:
    """Run one fit in a fresh process and read its run folder."""
    out = Path(tempfile.mkdtemp(prefix="run-", dir=workdir)) / "fit"
    env = dict(os.environ)
    flags = [f for f in env.get("PYTENSOR_FLAGS", "").split(",") if f and "compiledir" not in f]
    env["PYTENSOR_FLAGS"] = ",".join([*flags, f"base_compiledir={compiledir}"])
    cmd = [str(executable()), *BASE_ARGS, "--out", str(out), *extra]
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    run = Run(condition, wall, proc.returncode)
    # Exit 3: the fit finished but failed the convergence gate; the run folder is still written.
    if proc.returncode not in (0, 3) or not out.is_dir():
        run.error = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return run
    folder = read_run(out)
    summary = folder.summary
    records = summary["summary"]
    run.fingerprint = hashlib.sha256(json.dumps(records, sort_keys=True).encode()).hexdigest()[:12]
    reported = [r["ess_bulk"] for r in records if r["quantity"] in REPORTED]
    run.ess = min(reported) if reported else None
    run.ess_all = min(r["ess_bulk"] for r in records)
    diag = summary["diagnostics"]
    run.ess_gate = diag["min_ess_bulk"]
    run.divergences = diag["divergences"]
    run.converged = diag["converged"]
    run.ess_per_s = run.ess / wall if run.ess is not None else None
    run.sampling = sampling_time(folder)
    return run


def sampling_time(folder: RunFolder) -> float | None:
    """``sampling_time`` of the posterior group of the run's ``fit.nc``, if recorded."""
    if not folder.has_draws:
        return None
    value = folder.group("posterior").attrs.get("sampling_time")
    return float(value) if value is not None else None


def stats(runs: list[Run], metric: str) -> dict[str, float] | None:
    """Median, min and max of ``metric`` over the runs that have it."""
    values = [v for r in runs if (v := getattr(r, metric)) is not None]
    if not values:
        return None
    return {
        "median": float(statistics.median(values)),
        "min": float(min(values)),
        "max": float(max(values)),
    }


def measure(
    repeat: int, extra: list[str], log: Any, conditions: tuple[str, ...] = ("cold", "warm")
) -> dict[str, list[Run]]:
    """Cold and (or) warm repetitions."""
    results: dict[str, list[Run]] = {c: [] for c in conditions}
    with tempfile.TemporaryDirectory(prefix="hlhbayes-bench-") as tmp:
        work = Path(tmp)
        for i in range(repeat if "cold" in conditions else 0):
            cache = Path(tempfile.mkdtemp(prefix="cold-cache-", dir=work))
            log(f"cold {i + 1}/{repeat} ...")
            run = run_once("cold", cache, extra, work)
            log(f"  {run.wall:.1f} s" + (f" (error: {run.error})" if run.error else ""))
            results["cold"].append(run)
        if "warm" not in conditions:
            return results
        warm_cache = Path(tempfile.mkdtemp(prefix="warm-cache-", dir=work))
        log("warm-up (fills the compile cache, not timed) ...")
        first = run_once("warm-up", warm_cache, extra, work)
        if first.error:
            log(f"  warm-up failed: {first.error}")
        for i in range(repeat):
            log(f"warm {i + 1}/{repeat} ...")
            run = run_once("warm", warm_cache, extra, work)
            log(f"  {run.wall:.1f} s" + (f" (error: {run.error})" if run.error else ""))
            results["warm"].append(run)
    return results


def _fmt(s: dict[str, float] | None, spec: str) -> str:
    if s is None:
        return "-"
    if s["min"] == s["max"]:
        return format(s["median"], spec)
    return f"{s['median']:{spec}} ({s['min']:{spec}}-{s['max']:{spec}})"


def _verdict(ok: bool | None) -> str:
    return "-" if ok is None else ("ok" if ok else "MISS")


def report(results: dict[str, list[Run]], extra: list[str], repeat: int) -> dict[str, Any]:
    """Summary per condition, with the targets (for the default settings)."""
    out: dict[str, Any] = {
        "command": ["hlhbayes", *BASE_ARGS, "--out", "<tmp>", *extra],
        "repeat": repeat,
        "targets": {
            "warm_wall_s": TARGET_WARM_S,
            "cold_wall_s": TARGET_COLD_S,
            "min_ess_bulk_reported": TARGET_ESS,
            "divergences": 0,
        },
        "conditions": {},
    }
    prints = {r.fingerprint for runs in results.values() for r in runs if r.fingerprint}
    counted = sum(r.fingerprint is not None for runs in results.values() for r in runs)
    out["same_numbers"] = len(prints) == 1 if counted > 1 else None
    for condition, runs in results.items():
        summary = {m: stats(runs, m) for m in METRICS}
        good = [r for r in runs if r.error is None]
        wall_target = TARGET_COLD_S if condition == "cold" else TARGET_WARM_S
        wall = summary["wall"]
        ess = summary["ess"]
        out["conditions"][condition] = {
            "summary": summary,
            "all_converged": all(r.converged for r in good) if good else None,
            "failures": len(runs) - len(good),
            "meets": {
                "wall": wall["median"] < wall_target if wall else None,
                "ess": ess["min"] >= TARGET_ESS if ess else None,
                "divergences": all(r.divergences == 0 for r in good) if good else None,
            },
            "runs": [asdict(r) for r in runs],
        }
    return out


def print_table(result: dict[str, Any]) -> None:
    """A small human-readable table (median, with min-max when repeat > 1)."""
    print(f"command: {shlex.join(result['command'])}")
    print(f"repetitions per condition: {result['repeat']} (median, min-max)")
    head = (
        f"{'':<6}{'wall s':>20}{'sampling s':>20}{'min ESS':>22}{'ESS/s':>18}{'div':>6}{'conv':>6}"
    )
    print(head)
    for condition, c in result["conditions"].items():
        s = c["summary"]
        conv = c["all_converged"]
        print(
            f"{condition:<6}{_fmt(s['wall'], '.1f'):>20}{_fmt(s['sampling'], '.1f'):>20}"
            f"{_fmt(s['ess'], '.0f'):>22}{_fmt(s['ess_per_s'], '.0f'):>18}"
            f"{_fmt(s['divergences'], '.0f'):>6}{'-' if conv is None else ('yes' if conv else 'NO'):>6}"
        )
        if c["failures"]:
            print(f"  {c['failures']} run(s) failed: {c['runs'][0].get('error')}")
    print(
        "min ESS: bulk, over rate_typical and rate_new; "
        + "; ".join(
            f"{k} all records {_fmt(c['summary']['ess_all'], '.0f')}, "
            f"gate {_fmt(c['summary']['ess_gate'], '.0f')}"
            for k, c in result["conditions"].items()
        )
    )
    same = result["same_numbers"]
    if same is not None:
        print(
            "same summary numbers in every run (same seed, cold and warm caches): "
            + ("yes" if same else "NO")
        )
    conds = result["conditions"]
    t = result["targets"]
    walls = [
        f"{k} < {t[k + '_wall_s']:g} s {_verdict(c['meets']['wall'])}" for k, c in conds.items()
    ]
    ess_ok = all(c["meets"]["ess"] for c in conds.values())
    div_ok = all(c["meets"]["divergences"] for c in conds.values())
    print(
        f"targets (default settings): {'; '.join(walls)}; "
        f"ESS >= {t['min_ess_bulk_reported']:g} {_verdict(ess_ok)}; "
        f"no divergences {_verdict(div_ok)}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="repetitions per condition")
    parser.add_argument(
        "--args",
        default="",
        help='extra arguments for hlhbayes fit, e.g. "--draws 500 --tune 500" or "--sampler nutpie"',
    )
    parser.add_argument(
        "--conditions",
        choices=("both", "cold", "warm"),
        default="both",
        help="measure cold, warm or both (default both)",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    opts = parser.parse_args(argv)
    if opts.repeat < 1:
        parser.error("--repeat must be at least 1")

    def log(message: str) -> None:
        if not opts.quiet:
            print(message, file=sys.stderr, flush=True)

    extra = shlex.split(opts.args)
    conditions = ("cold", "warm") if opts.conditions == "both" else (opts.conditions,)
    results = measure(opts.repeat, extra, log, conditions)
    result = report(results, extra, opts.repeat)
    if opts.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)
    failed = any(c["failures"] for c in result["conditions"].values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
