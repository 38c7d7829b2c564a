"""Speed of reading study files: the strict loaders against PyYAML's plain safe loaders.

Usage::

    .venv/bin/python benchmarks/yaml_speed.py --repeat 5

What it times (best of ``--repeat`` runs, seconds of wall-clock, in-process): parsing every
``data/studies/*.yaml`` of the shipped base once with

* ``yaml.CSafeLoader`` and ``yaml.SafeLoader`` (PyYAML as it comes: aliases followed, last
  duplicate key kept), and
* ``CStudyLoader`` and ``PythonStudyLoader`` of :mod:`hlhbayes.evidence.yaml_input` (the same
  loaders with the rules for study files: no aliases, bounded depth and size, no duplicate key);

and ``load_evidence`` of the whole base (YAML, schema, patient rows, cross-checks) with each
strict loader. Timings depend on the machine and its load; quote them with it.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import yaml

from hlhbayes.evidence import load_evidence, yaml_input
from hlhbayes.workspace import shipped_data_dir

DATA = shipped_data_dir()


def best(repeat: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    texts = [p.read_text(encoding="utf-8") for p in sorted((DATA / "studies").glob("*.yaml"))]
    loaders = {
        "yaml.SafeLoader": yaml.SafeLoader,
        "PythonStudyLoader": yaml_input.PythonStudyLoader,
    }
    if yaml.__with_libyaml__:
        loaders = {
            "yaml.CSafeLoader": yaml.CSafeLoader,
            "CStudyLoader": yaml_input.CStudyLoader,
            **loaders,
        }
    print(f"{len(texts)} study files, best of {args.repeat}")
    for name, loader in loaders.items():
        seconds = best(args.repeat, lambda ld=loader: [yaml.load(t, Loader=ld) for t in texts])
        print(f"parse   {name:<20} {seconds:.4f} s")
    original = yaml_input.load_yaml.__defaults__
    try:
        for name, loader in loaders.items():
            if "Study" not in name:
                continue
            yaml_input.load_yaml.__defaults__ = (loader,)
            seconds = best(args.repeat, lambda: load_evidence(DATA))
            print(f"load_evidence with {name:<20} {seconds:.4f} s")
    finally:
        yaml_input.load_yaml.__defaults__ = original


if __name__ == "__main__":
    main()
