"""ARCHITECTURE.md matches the tree: every module is on the map, and the rules it states hold.

The rules are checked on the source itself (its syntax tree, nothing is imported): which floor
imports which, who opens a run folder's files, who knows a model by name, who runs the sampler.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "src" / "hlhbayes"
ARCHITECTURE = (REPO / "ARCHITECTURE.md").read_text(encoding="utf-8")

# The floors of ARCHITECTURE.md: a module imports only from its own floor or below.
FLOORS = {
    "errors": 1,
    "atomic": 1,
    "journal": 1,
    "locking": 1,
    "interrupts": 1,
    "priors": 1,
    "special": 1,
    "progress": 1,
    "provenance": 1,
    "summary": 1,
    "datatree": 1,
    "exact": 1,
    "engine": 1,
    "inputs": 1,
    "quoting": 1,
    "rounding": 1,
    "spreadsheet": 1,
    "suggest": 1,
    "workspace": 1,
    "evidence": 2,
    "runs": 2,
    "models": 3,
    "inference": 4,
    "pipeline": 4,
    "support": 4,
    "reporting": 5,
    "living": 5,
    "design": 5,
    "api": 5,
    "cli": 6,
}
RUN_FILES = {"summary.json", "summary.csv", "fit.nc", "probabilities.json"}
MODEL_NAMES = {"etiology-line", "random-effects"}
NETCDF = {"open_datatree", "open_dataset", "from_netcdf", "to_netcdf", "load_dataset"}
SAMPLERS = {"sample", "sample_prior_predictive", "sample_posterior_predictive"}


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def part(path: Path) -> str:
    """The top-level module or package of ``path`` (``runs`` for runs/folder.py)."""
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def tree_of(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def docstrings(tree: ast.Module) -> set[int]:
    """ids of the string constants that are docstrings."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def constants(path: Path) -> set[str]:
    """The string constants of a module, docstrings left out."""
    tree = tree_of(path)
    skip = docstrings(tree)
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
    }


def imported(path: Path) -> set[str]:
    """The parts of hlhbayes a module imports (at the top or inside functions)."""
    out = set()
    for node in ast.walk(tree_of(path)):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            pieces = name.split(".")
            if pieces[0] == "hlhbayes" and len(pieces) > 1 and pieces[1] in FLOORS:
                out.add(pieces[1])
    return out


def test_every_module_is_on_the_map():
    missing = []
    for path in modules():
        rel = path.relative_to(PACKAGE)
        if len(rel.parts) == 1:
            named = f"`{rel}`" in ARCHITECTURE or rel.name == "__init__.py"
        else:
            folder = f"`{rel.parts[0]}/`"
            named = f"`{rel.as_posix()}`" in ARCHITECTURE or (
                folder in ARCHITECTURE
                and (rel.name == "__init__.py" or f"`{rel.name}`" in ARCHITECTURE)
            )
        if not named:
            missing.append(str(rel))
    assert missing == []
    assert set(FLOORS) == {
        part(p) for p in modules() if p.name != "__init__.py" or p.parent != PACKAGE
    }


def test_every_module_path_on_the_map_exists():
    rows = [line for line in ARCHITECTURE.splitlines() if line.startswith("| `")]
    for line in rows:
        first = line.split("|")[1]
        for name in (piece.strip(" `") for piece in first.split(",")):
            if name.endswith((".py", "/")):
                assert (PACKAGE / name).exists(), name


def module_name(path: Path) -> str:
    """``hlhbayes.reporting.text`` for reporting/text.py, ``hlhbayes.runs`` for runs/__init__.py."""
    parts = ("hlhbayes", *path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_imports(path: Path, known: set[str]) -> set[str]:
    """The modules of hlhbayes that ``path`` imports, at the top or inside functions.

    ``from hlhbayes.reporting import plain`` imports the module ``hlhbayes.reporting.plain``
    (and the package's ``__init__`` only when a name is not a module of it).
    """
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree_of(path)):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the package, or node.level - 1 packages up
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            submodules = {f"{source}.{a.name}" for a in node.names} & known
            out |= submodules if len(submodules) == len(node.names) else {source, *submodules}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
    return (out & known) - {here}


def test_no_modules_import_each_other_even_inside_functions():
    """An import deferred into a function hides a circle from Python but not from a reader:
    two modules that need each other are one module, or a third one is missing."""
    paths = {module_name(p): p for p in modules()}
    known = set(paths)
    graph = {name: module_imports(path, known) for name, path in paths.items()}
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        pytest.fail(f"modules import each other: {' -> '.join(exc.args[1])}")


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_import_runs_up_a_floor(path):
    if path.parent == PACKAGE and path.name == "__init__.py":
        return
    floor = FLOORS[part(path)]
    higher = {name for name in imported(path) if FLOORS[name] > floor}
    assert higher == set(), f"{path.relative_to(PACKAGE)} imports from a higher floor: {higher}"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_rules_of_the_house(path):
    where = part(path)
    found = constants(path)
    attributes = {n.attr for n in ast.walk(tree_of(path)) if isinstance(n, ast.Attribute)}
    if where != "runs":  # only runs/ opens a run folder's files
        assert found.isdisjoint(RUN_FILES), found & RUN_FILES
        assert attributes.isdisjoint(NETCDF), attributes & NETCDF
    if where != "models":  # only models/ knows a model by name
        assert found.isdisjoint(MODEL_NAMES), found & MODEL_NAMES
    if where != "inference":  # only inference runs the sampler
        calls = {
            n.attr
            for n in ast.walk(tree_of(path))
            if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "pm"
        }
        assert calls.isdisjoint(SAMPLERS), calls & SAMPLERS
