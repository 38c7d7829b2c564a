"""Speed of the exact design computations (no simulation anywhere).

Usage::

    .venv/bin/python benchmarks/design_speed.py            # table, exit 1 if a target is missed
    .venv/bin/python benchmarks/design_speed.py --repeat 5 --json

What it times (best of ``--repeat`` runs, seconds of wall-clock, in-process, imports excluded):

* ``oc1 n=200``: one single-arm design, n = 200, MAP-like 2-component prior: the boundary
  (bisection over y) and the probability of success on the 101-point grid 0, 0.01, ..., 1.
* ``oc1 n=1..200``: the same for *every* n from 1 to 200 (200 boundaries, 200 x 101 binomial
  tails): what a sample-size scan costs.
* ``oc2 24:6``, ``oc2 100:100``, ``oc2 200:200``: two-arm designs (treatment Beta(0.5, 1), robust
  MAP control): the boundary by the staircase walk (at most n_t + n_c + 2 posterior
  probabilities of a difference, each a tanh-sinh integral) and the OC on 101 treatment rates.
* ``map fit``: EM with 1-4 components and the AIC choice on 4000 draws.

Targets: ``oc1 n=200`` and ``oc1 n=1..200`` well under a second (< 0.25 s and < 1 s). The others
are reported without a target. Timings depend on the machine and its load; quote them with it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable

import numpy as np

from hlhbayes.design.decision import Rule1S, Rule2S
from hlhbayes.design.em import auto_fit
from hlhbayes.design.mixture import BetaMixture
from hlhbayes.design.oc import DEFAULT_RATES, Design2S, oc_1s

MAP = BetaMixture.from_components(
    [(0.6167463, 19.1916387, 57.7779318), (0.3832537, 3.5278745, 9.373598)]
)
TARGETS = {"oc1 n=200": 0.25, "oc1 n=1..200": 1.0}


def best_of(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def cases() -> dict[str, Callable[[], object]]:
    rule1 = Rule1S(0.2, 0.9)
    rule2 = Rule2S(0.95)
    treat, robust = BetaMixture.beta(0.5, 1), MAP.robustify(0.2)
    draws = MAP.sample(4000, rng=1)

    def oc2(n_t: int, n_c: int) -> Callable[[], object]:
        def run() -> object:
            design = Design2S(treat, robust, n_t, n_c, rule2)
            return design.probability_success(DEFAULT_RATES, np.full(DEFAULT_RATES.size, 0.26))

        return run

    return {
        "oc1 n=200": lambda: oc_1s(MAP, 200, rule1),
        "oc1 n=1..200": lambda: [oc_1s(MAP, n, rule1) for n in range(1, 201)],
        "oc2 24:6": oc2(24, 6),
        "oc2 100:100": oc2(100, 100),
        "oc2 200:200": oc2(200, 200),
        "map fit": lambda: auto_fit(draws),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (best is kept)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    results = {}
    for name, fn in cases().items():
        repeat = 1 if name in {"map fit", "oc2 200:200"} else args.repeat
        results[name] = best_of(fn, repeat)
    missed = [k for k, limit in TARGETS.items() if results[k] >= limit]
    if args.json:
        print(json.dumps({"seconds": results, "targets": TARGETS, "missed": missed}, indent=2))
    else:
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"{'case':<14} {'seconds':>9}  target")
        for name, seconds in results.items():
            target = TARGETS.get(name)
            mark = (
                "" if target is None else f"< {target:g} s {'ok' if seconds < target else 'MISS'}"
            )
            print(f"{name:<14} {seconds:>9.4f}  {mark}")
        print(f"(load average {load:.2f}, {os.cpu_count()} CPUs)")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
