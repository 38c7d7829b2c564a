"""Where the evidence base, the model specs and the runs are: a workspace, or what the package ships.

The package ships an evidence base and the model specs (``shipped/data/`` and
``shipped/models/`` inside it, read with :mod:`importlib.resources`); they are read-only. A
*workspace* is a folder of one's own: ``data/`` (a copy of the shipped evidence base),
``models/`` (the model specs), ``runs/`` and the marker file ``hlhbayes.toml`` that names them
(made by ``hlhbayes init``). A command finds the workspace as git finds a repository: the nearest
``hlhbayes.toml`` in the current folder or a folder above it.

Which evidence base a command uses, the first that applies:

1. ``--data PATH`` given on the command line;
2. ``$HLHBAYES_DATA``;
3. the workspace's evidence base (its ``data`` entry, ``data/`` by default);
4. the shipped evidence base, for reading only: a command that would write into it (``data
   add``) is refused with a message that says to run ``hlhbayes init``.

The model specs likewise (after ``fit --spec FILE``): ``$HLHBAYES_MODELS``, the workspace's
``models/``, the shipped specs. Runs go to the workspace's ``runs/``, or, outside any workspace,
to ``runs/`` in the current folder.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import importlib.resources
import json
import os
import shutil
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hlhbayes.atomic import commit, discard, stage
from hlhbayes.errors import HlhBayesError
from hlhbayes.quoting import quoted

MARKER = "hlhbayes.toml"
#: The marker's format; a marker of a newer format is refused (made by a newer hlhbayes).
FORMAT = 1
DATA, MODELS, RUNS = "data", "models", "runs"
COPIED_FROM = "copied-from"
MARKER_KEYS = {"format", DATA, MODELS, RUNS, COPIED_FROM}

#: How an evidence base or a specs folder was chosen (:attr:`Source.origin`).
EXPLICIT, ENVIRONMENT, WORKSPACE, SHIPPED = "--data", "environment", "workspace", "shipped"

_EXTRACTED = contextlib.ExitStack()  # the shipped files, if the package is not plain files
atexit.register(_EXTRACTED.close)


@dataclass(frozen=True)
class Workspace:
    """A workspace: its root (the marker's folder) and its three folders."""

    root: Path
    data: Path
    models: Path
    runs: Path

    @property
    def marker(self) -> Path:
        """The workspace's ``hlhbayes.toml``."""
        return self.root / MARKER


@dataclass(frozen=True)
class Source:
    """A folder (evidence base or model specs) and how it was chosen."""

    path: Path
    origin: str
    workspace: Workspace | None = None

    def describe(self) -> str:
        """How the folder was chosen, in words (for ``--version`` and messages)."""
        if self.origin == WORKSPACE and self.workspace is not None:
            return f"the workspace at {self.workspace.root}"
        return {
            EXPLICIT: "given with --data",
            ENVIRONMENT: "from the environment",
            SHIPPED: "shipped with the package, read-only",
        }.get(self.origin, self.origin)


# --------------------------------------------------------------------------------------------
# what the package ships


@functools.cache
def shipped_dir() -> Path:
    """The package's ``shipped/`` folder (``data/`` and ``models/``), as a file-system path.

    Installed as plain files (a wheel, an editable install) it is read in place; from an archive
    it is extracted once to a temporary folder that lasts as long as the process.
    """
    resource = importlib.resources.files("hlhbayes") / "shipped"
    if isinstance(resource, Path):
        return resource
    return _EXTRACTED.enter_context(importlib.resources.as_file(resource))


def shipped_data_dir() -> Path:
    """The evidence base the package ships (read-only)."""
    return shipped_dir() / DATA


def shipped_models_dir() -> Path:
    """The model specs the package ships (read-only)."""
    return shipped_dir() / MODELS


# --------------------------------------------------------------------------------------------
# finding the workspace


def find_workspace(start: Path | None = None) -> Workspace | None:
    """The workspace of the nearest ``hlhbayes.toml`` in ``start`` (the current folder) or above."""
    here = Path(start) if start is not None else Path.cwd()
    for folder in [here, *here.parents]:
        if (folder / MARKER).is_file():
            return read_workspace(folder)
    return None


def read_workspace(root: Path) -> Workspace:
    """The workspace whose marker is ``root/hlhbayes.toml``; :class:`HlhBayesError` if it is bad."""
    marker = Path(root) / MARKER
    try:
        raw = tomllib.loads(marker.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise HlhBayesError(f"{marker}: not a valid workspace marker: {exc}") from None
    unknown = sorted(set(raw) - MARKER_KEYS)
    if unknown:
        raise HlhBayesError(
            f"{marker}: unknown key {quoted(unknown[0])}; valid: {', '.join(sorted(MARKER_KEYS))}"
        )
    version = raw.get("format")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise HlhBayesError(f"{marker}: format: a whole number (this hlhbayes writes {FORMAT})")
    if version > FORMAT:
        raise HlhBayesError(
            f"{marker}: format {version} is newer than this hlhbayes reads ({FORMAT}); "
            "upgrade hlhbayes"
        )
    folders = {}
    for key in (DATA, MODELS, RUNS):
        value = raw.get(key, key)
        if not isinstance(value, str) or not value.strip():
            raise HlhBayesError(f"{marker}: {key}: a folder path (relative to this file)")
        folders[key] = Path(os.path.normpath(Path(root) / value))
    return Workspace(Path(root), folders[DATA], folders[MODELS], folders[RUNS])


# --------------------------------------------------------------------------------------------
# which evidence base, specs and runs folder


def evidence_source(explicit: Path | None = None) -> Source:
    """The evidence base a command uses (the precedence of the module docstring)."""
    if explicit is not None:
        return Source(Path(explicit), EXPLICIT)
    return _first_of("HLHBAYES_DATA", DATA, shipped_data_dir)


def models_source() -> Source:
    """The folder of model specs a command uses: ``$HLHBAYES_MODELS``, workspace, shipped."""
    return _first_of("HLHBAYES_MODELS", MODELS, shipped_models_dir)


def _first_of(variable: str, folder: str, shipped: Callable[[], Path]) -> Source:
    """The environment variable's folder, else the workspace's ``folder``, else the shipped one."""
    env = os.environ.get(variable)
    if env:
        return Source(Path(env), ENVIRONMENT)
    workspace = find_workspace()
    if workspace is not None:
        return Source(getattr(workspace, folder), WORKSPACE, workspace)
    return Source(shipped(), SHIPPED)


def runs_folder() -> Path:
    """The workspace's runs folder, or ``runs`` in the current folder outside any workspace.

    Relative to the current folder when it lies inside it (so messages stay short).
    """
    workspace = find_workspace()
    if workspace is None:
        return Path(RUNS)
    with contextlib.suppress(ValueError):
        return workspace.runs.relative_to(Path.cwd())
    return workspace.runs


def writable_evidence(explicit: Path | None = None) -> Path:
    """The evidence base a command that writes into it uses: never the one the package ships.

    The shipped base is written only through a workspace that names it (the source checkout's).
    """
    source = evidence_source(explicit)
    if source.origin != WORKSPACE and _within(source.path, shipped_data_dir()):
        raise HlhBayesError(
            f"the shipped evidence base ({source.path}) is read-only: run `hlhbayes init DIR` "
            "to make a workspace with a copy of it, then work there (or pass --data PATH)"
        )
    return source.path


def _within(path: Path, folder: Path) -> bool:
    path, folder = Path(path).resolve(), Path(folder).resolve()
    return path == folder or folder in path.parents


# --------------------------------------------------------------------------------------------
# making a workspace


@dataclass(frozen=True)
class NewWorkspace:
    """What :func:`create_workspace` made."""

    workspace: Workspace
    replaced: list[Path]
    specs: list[str]


def create_workspace(
    target: Path, content_hash: str, package: str, force: bool = False
) -> NewWorkspace:
    """Make a workspace in ``target``: copies of the shipped ``data/`` and ``models/``, ``runs/``.

    ``content_hash`` (of the shipped evidence base) and ``package`` (name and version) are
    written into the marker, so a workspace says which base it started from. A ``target`` that
    exists and is not empty is refused unless ``force``; then its ``data/``, ``models/`` and
    marker are replaced and everything else (``runs/`` with it) is kept. The two folders and the
    marker appear together or not at all.
    """
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise HlhBayesError(f"{target}: exists and is not a folder")
    occupied = target.is_dir() and any(target.iterdir())
    if occupied and not force:
        raise HlhBayesError(
            f"{target}: not empty; choose an empty or new folder, or use --force to make the "
            f"workspace here (its {DATA}/, {MODELS}/ and {MARKER} are then replaced)"
        )
    if (target / RUNS).exists() and not (target / RUNS).is_dir():
        raise HlhBayesError(f"{target / RUNS}: exists and is not a folder")
    ignore = shutil.ignore_patterns(".*", "__pycache__")
    staged = []
    try:
        for name, source in ((DATA, shipped_data_dir()), (MODELS, shipped_models_dir())):
            staged.append(
                stage(
                    target / name,
                    lambda folder, src=source: shutil.copytree(
                        src, folder, ignore=ignore, dirs_exist_ok=True
                    ),
                )
            )
    except BaseException:
        discard(staged, failed=True)
        raise
    replaced = [p for p in (target / DATA, target / MODELS, target / MARKER) if p.exists()]
    marker = marker_text(content_hash, package).encode("utf-8")
    commit(staged, pointers={target / MARKER: marker}, force=force)
    (target / RUNS).mkdir(exist_ok=True)
    specs = sorted(p.name for p in (target / MODELS).glob("*.yaml"))
    return NewWorkspace(read_workspace(target), replaced, specs)


def marker_text(content_hash: str, package: str) -> str:
    """The ``hlhbayes.toml`` of a new workspace."""
    return (
        "# An hlhbayes workspace (made by `hlhbayes init`). Every hlhbayes command run in this\n"
        "# folder or below it uses the evidence base, model specs and runs folder named here\n"
        "# (relative to this file), unless --data, $HLHBAYES_DATA or $HLHBAYES_MODELS say\n"
        "# otherwise.\n"
        f"format = {FORMAT}\n"
        f'{DATA} = "{DATA}"\n'
        f'{MODELS} = "{MODELS}"\n'
        f'{RUNS} = "{RUNS}"\n'
        "\n"
        "# The evidence base this workspace started from.\n"
        f"[{COPIED_FROM}]\n"
        f"package = {_toml_string(package)}\n"
        f"content-hash = {_toml_string(content_hash)}\n"
    )


def _toml_string(value: Any) -> str:
    """A TOML basic string (JSON's escapes are TOML's for the characters used here)."""
    return json.dumps(str(value), ensure_ascii=True)
