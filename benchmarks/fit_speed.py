"""End-to-end speed of the commands users repeat, cold and warm, each as a fresh process.

Usage::

    .venv/bin/python benchmarks/fit_speed.py --repeat 3
    .venv/bin/python benchmarks/fit_speed.py --repeat 1 --commands fit --conditions warm
    .venv/bin/python benchmarks/fit_speed.py --repeat 1 --commands sensitivity,cumulative,update
    .venv/bin/python benchmarks/fit_speed.py --repeat 3 --commands fit,fit-sensitivity --conditions warm

Commands measured (every one a new process; the parent times it from start to exit):

* ``fit``: ``hlhbayes fit --etiology infection --no-sensitivity --quiet --out <tmp>`` (the fit
  alone: the default model at the default settings, 4 chains x 1000 draws after 500 tuning
  steps, target_accept 0.95), run by a worker process of this script that calls the command
  line's ``main`` in-process and times its phases (below);
* ``fit-sensitivity``: ``hlhbayes fit --etiology infection --quiet --out <tmp>``, the command
  as a user types it: the fit, then its sensitivity table (8 scenarios in one batch, 3 model
  structures); its time minus ``fit``'s is what the table costs;
* ``sensitivity``: ``hlhbayes sensitivity --etiology infection`` (every scenario of the default
  cell, in one batch per model structure);
* ``cumulative``: ``hlhbayes cumulative --etiology infection`` (one step per study);
* ``as-data``: ``hlhbayes fit --model random-effects --data <AS.csv> --no-sensitivity --quiet
  --out <tmp>``:
  the random-effects model on RBesT's ankylosing spondylitis placebo arms (8 studies; RBesT
  vignette "Getting started with RBesT (binary)", data set ``AS``), the data set of RBesT's own
  ``gMAP`` example, at the default settings and priors of the random-effects spec;
* ``update``: in a new workspace (``hlhbayes init``) where the two made-up series of
  ``tests/fixtures/`` were added (untimed), ``hlhbayes update --new Example2024 --new
  Example2025`` (every saved analysis of a new workspace, the two models each for response and
  for death, fitted without and with the new series: eight fits).

Conditions. **cold**: a new, empty compiled-fit cache folder (``HLHBAYES_CACHE_DIR``, which
holds the programs' machine code too) and a new, empty PyTensor compile folder
(``PYTENSOR_FLAGS=base_compiledir=...``): every program is built and compiled.
**warm**: one untimed run of the same command fills a cache folder, then every warm repetition
reuses it. Every command runs without ``PYTHONDONTWRITEBYTECODE``, as a user's would: Python
compiles a module's bytecode once and reuses it.

Reported per run: wall seconds (what a user waits), CPU seconds (user + system of the child,
from ``getrusage``: the stabler figure on a shared machine), and the 1-minute load average
before it. For ``fit`` also the phases, from inside the worker:

* ``imports``: loading the command line and the libraries of a fit (Python's own start-up is
  in ``wall`` only);
* ``prepare``: the evidence base read and validated, the spec merged, the units encoded;
* ``cache load``: the compiled-fit cache entry read and checked, the program deserialised and
  its machine code loaded (JAX import included); on a cold run, building and compiling it;
* ``sampling``: the compiled program running (warm-up and draws of every chain);
* ``post-processing``: derived quantities, predictive draws, pointwise log-likelihood,
  summaries and the convergence gate;
* ``writing``: the run folder (``fit.nc`` and the JSON and CSV files);
* ``other``: the rest (printing, the engine's own bookkeeping).

Python's start-up and the process's end are in ``wall`` only; the worker ends as the
``hlhbayes`` executable does (:func:`hlhbayes.cli.main.run`: no collection at exit).

Every run of a command, cold or warm, must print the same numbers (the same seed gives the same
numbers whatever the state of the caches); the script says so when one does not.
Targets (the project's, for an idle 2-core machine): ``fit`` warm <= 3 s, cold <= 15 s;
``as-data`` warm <= 2 s;
``sensitivity`` warm <= 60 s; ``cumulative`` warm <= 20 s; ``update`` <= 20 s.
Timings depend on the machine and on its load: say so when quoting them.
"""

from __future__ import annotations

import time

START = time.perf_counter()

import argparse  # noqa: E402 - the worker's clock starts before any import
import hashlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
COMMANDS = ("fit", "fit-sensitivity", "as-data", "sensitivity", "cumulative", "update")
AS_DATA = (  # RBesT's AS data set: study, responders (ASAS20) on placebo, patients
    ("Study 1", 23, 107),
    ("Study 2", 12, 44),
    ("Study 3", 19, 51),
    ("Study 4", 9, 39),
    ("Study 5", 39, 139),
    ("Study 6", 6, 20),
    ("Study 7", 9, 78),
    ("Study 8", 10, 35),
)
TARGETS = {
    ("fit", "warm"): 3.0,
    ("fit", "cold"): 15.0,
    ("as-data", "warm"): 2.0,
    ("sensitivity", "warm"): 60.0,
    ("cumulative", "warm"): 20.0,
    ("update", "warm"): 20.0,
}
PHASES = ("imports", "prepare", "cache load", "sampling", "post-processing", "writing", "other")
ENGINE_LOAD = (
    "jax_import",
    "cache_load",
    "build",
    "deserialize",
    "machine_code_load",
    "xla_lower",
    "xla",
    "cache_store",
)
"""The engine's phases (:mod:`hlhbayes.engine.timing`) that make up ``cache load``."""


# ------------------------------------------------------------------------------------------
# the worker: one fit, its phases timed in-process


def worker(out: str) -> None:
    """Run ``hlhbayes fit --etiology infection`` (the fit alone) here; print its phases as JSON."""
    phases = dict.fromkeys(PHASES, 0.0)

    def timed(owner: Any, name: str, phase: str, keep: Callable[[Any], None] | None = None):
        original = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            result = original(*args, **kwargs)
            phases[phase] = phases.get(phase, 0.0) + time.perf_counter() - start
            if keep is not None:
                keep(result)
            return result

        setattr(owner, name, wrapper)

    import hlhbayes.engine as engine
    import hlhbayes.inference as inference
    import hlhbayes.pipeline as pipeline
    import hlhbayes.runs as runs
    from hlhbayes.cli.main import run

    phases["imports"] = time.perf_counter() - START
    engine_phases: dict[str, float] = {}
    timed(pipeline, "prepare", "prepare")
    timed(engine, "fit", "engine", lambda r: engine_phases.update(r.timings.wall))
    timed(inference, "complete_tree", "post-processing")
    timed(pipeline, "summarise", "post-processing")
    timed(pipeline, "diagnose", "post-processing")
    timed(runs, "write_run", "writing")
    sys.argv = [
        "hlhbayes",
        "fit",
        "--etiology",
        "infection",
        "--no-sensitivity",
        "-q",
        "--out",
        out,
    ]
    code = 0
    try:
        run()
    except SystemExit as exc:
        code = int(exc.code or 0)
    total = time.perf_counter() - START
    in_engine = phases.pop("engine", 0.0)
    phases["cache load"] = sum(engine_phases.get(p, 0.0) for p in ENGINE_LOAD)
    phases["sampling"] = engine_phases.get("sampling", 0.0)
    phases["post-processing"] += in_engine - phases["cache load"] - phases["sampling"]
    phases["other"] = total - sum(v for k, v in phases.items() if k != "other")
    print(json.dumps({"code": code, "phases": phases, "engine": engine_phases}))


# ------------------------------------------------------------------------------------------
# the parent: fresh processes, cold and warm


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _hlhbayes() -> str:
    return str(Path(sys.executable).parent / "hlhbayes")


def _environment(cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    # a user's Python writes the bytecode of what it imports once and reuses it (as `make` lets
    # it); with this variable set, every process would compile this package's modules again
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["HLHBAYES_CACHE_DIR"] = str(cache / "hlhbayes")
    env["PYTENSOR_FLAGS"] = f"base_compiledir={cache / 'pytensor'}"
    return env


RUN_FOLDER_TIME = re.compile(r"\b\d{8}T\d{6}Z-")
"""The UTC time in the name of a run folder ``update`` writes: it differs from run to run."""


def _numbers(text: str) -> str:
    """A digest of a command's printed table (the same seed must give the same numbers).

    The times in the names of the run folders a command prints are left out: they are not
    numbers of the fit.
    """
    text = RUN_FOLDER_TIME.sub("<time>-", text)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _update_workspace(root: Path, env: dict[str, str]) -> Path:
    """A new workspace with the two made-up series of tests/fixtures added (untimed)."""
    ws = root / "ws"
    steps = [
        ["init", str(ws)],
        [
            "data",
            "add",
            str(FIXTURES / "example_study.yaml"),
            "--patients",
            str(FIXTURES / "example_patients.csv"),
        ],
        ["data", "add", str(FIXTURES / "example_aggregate_study.yaml")],
    ]
    for args in steps:
        subprocess.run([_hlhbayes(), *args], cwd=root if args[0] == "init" else ws, env=env,
                       check=True, capture_output=True, text=True)  # fmt: skip
    return ws


def run_once(command: str, cache: Path, scratch: Path) -> dict[str, Any]:
    """One timed process of ``command`` with the caches in ``cache``."""
    env = _environment(cache)
    scratch.mkdir(parents=True)
    cwd = scratch
    if command == "fit":
        argv = [sys.executable, __file__, "--worker", str(scratch / "run")]
    elif command == "fit-sensitivity":
        argv = [_hlhbayes(), "fit", "--etiology", "infection", "-q", "--out", "out"]
    elif command == "as-data":
        table = scratch / "AS.csv"
        table.write_text("study,events,total\n" + "".join(f"{s},{r},{n}\n" for s, r, n in AS_DATA))
        argv = [_hlhbayes(), "fit", "--model", "random-effects", "--data", str(table),
                "--no-sensitivity", "-q", "--out", "out"]  # fmt: skip
    elif command == "update":
        cwd = _update_workspace(scratch, env)
        argv = [_hlhbayes(), "update", "--new", "Example2024", "--new", "Example2025", "-q"]
    else:
        argv = [_hlhbayes(), command, "--etiology", "infection", "-q", "--out", "out"]
    load = os.getloadavg()[0]
    cpu, start = _children_cpu(), time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - start, _children_cpu() - cpu
    row: dict[str, Any] = {"wall": wall, "cpu": cpu, "load": load, "code": done.returncode}
    if command == "fit":
        lines = done.stdout.strip().splitlines()
        inner = json.loads(lines[-1]) if lines else {"code": done.returncode, "phases": {}}
        row.update(code=inner["code"], phases=inner["phases"])
        printed = "\n".join(lines[:-1])
    else:
        printed = done.stdout
    row["numbers"] = _numbers(printed)
    if row["code"] not in (0, 3):
        row["error"] = done.stderr.strip().splitlines()[-1:] or ["(no message)"]
    return row


def measure(command: str, condition: str, repeat: int, log: Callable[[str], None]) -> list:
    """``repeat`` timed runs of ``command`` in ``condition`` (cold: new caches every time)."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="hlhbayes-speed-") as tmp:
        root = Path(tmp)
        warm_cache = root / "warm-cache"
        fill = None
        if condition == "warm":
            log(f"{command} warm: filling the caches (untimed)")
            fill = run_once(command, warm_cache, root / "fill")
        for k in range(repeat):
            cache = warm_cache if condition == "warm" else root / f"cold-cache-{k}"
            row = run_once(command, cache, root / f"run-{k}")
            log(f"{command} {condition} {k + 1}/{repeat}: {row['wall']:.1f} s wall, "
                f"{row['cpu']:.1f} s CPU, load {row['load']:.1f}, exit {row['code']}")  # fmt: skip
            if fill is not None:  # the untimed run's numbers count in the comparison too
                row["fill_numbers"] = fill["numbers"]
            rows.append(row)
            if condition == "cold":
                shutil.rmtree(cache, ignore_errors=True)
    return rows


def _median(values: list[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f})"


def print_table(results: dict[tuple[str, str], list[dict[str, Any]]]) -> None:
    """Wall and CPU per command and condition, then the fit's phases."""
    print(f"{'command':<17}{'condition':<10}{'wall s':>20}{'CPU s':>20}  load  target")
    for (command, condition), rows in results.items():
        target = TARGETS.get((command, condition))
        wall = [r["wall"] for r in rows]
        verdict = "-" if target is None else (
            f"<= {target:g}: {'ok' if statistics.median(wall) <= target else 'MISS'}")  # fmt: skip
        load = statistics.mean(r["load"] for r in rows)
        print(f"{command:<17}{condition:<10}{_median(wall):>20}"
              f"{_median([r['cpu'] for r in rows]):>20}  {load:4.1f}  {verdict}")  # fmt: skip
        failed = [r for r in rows if "error" in r]
        for r in failed:
            print(f"  failed (exit {r['code']}): {r['error'][0]}")
    fits = {c: rows for (cmd, c), rows in results.items() if cmd == "fit"}
    if fits:
        print("\nfit phases, wall s (median over repetitions):")
        print(f"{'phase':<17}" + "".join(f"{c:>10}" for c in fits))
        for phase in PHASES:
            cells = [statistics.median(r["phases"].get(phase, 0.0) for r in rows)
                     for rows in fits.values()]  # fmt: skip
            print(f"{phase:<17}" + "".join(f"{v:>10.2f}" for v in cells))
    for command in dict.fromkeys(cmd for cmd, _ in results):
        digests = {r[k] for (cmd, _), rows in results.items() if cmd == command
                   for r in rows for k in ("numbers", "fill_numbers") if k in r}  # fmt: skip
        same = "the same numbers in every run" if len(digests) == 1 else "DIFFERENT NUMBERS"
        print(f"{command}: {same}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--repeat", type=int, default=3, help="timed runs per command and condition"
    )
    parser.add_argument("--commands", default=",".join(COMMANDS), help="comma-separated")
    parser.add_argument("--conditions", default="warm,cold", help="warm, cold or both")
    parser.add_argument("--json", action="store_true", help="every run as JSON on stdout")
    parser.add_argument("--worker", metavar="OUT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker)
        return 0
    commands = [c for c in args.commands.split(",") if c]
    conditions = [c for c in args.conditions.split(",") if c]
    for c in commands:
        if c not in COMMANDS:
            parser.error(f"unknown command {c!r}; valid: {', '.join(COMMANDS)}")
    for c in conditions:
        if c not in ("warm", "cold"):
            parser.error(f"unknown condition {c!r}; valid: warm, cold")

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    results = {
        (command, condition): measure(command, condition, args.repeat, log)
        for command in commands
        for condition in conditions
    }
    if args.json:
        print(json.dumps([{"command": c, "condition": k, "runs": rows}
                          for (c, k), rows in results.items()], indent=1))  # fmt: skip
    else:
        print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
