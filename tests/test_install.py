"""A wheel installed outside the checkout works from an empty folder, and carries the evidence.

The wheel is built from a copy of the sources (the checkout is not touched) and installed into a
new virtual environment in a temporary folder. That environment borrows the dependencies (PyMC
and the rest) from the test environment through a ``.pth`` line, which adds that folder to
``sys.path`` without running its own ``.pth`` files, so the checkout's editable install is not
seen: hlhbayes itself comes only from the wheel (checked).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from conftest import REPO, SHIPPED, snapshot

FIXTURES = Path(__file__).parent / "fixtures"
STUDY, PATIENTS = FIXTURES / "example_study.yaml", FIXTURES / "example_patients.csv"
PURELIB = "import sysconfig; print(sysconfig.get_paths()['purelib'])"


def shipped_files() -> dict[str, bytes]:
    """The checkout's shipped files (hidden files and caches left out), by relative path."""
    return {
        name: content
        for name, content in snapshot(SHIPPED).items()
        if not any(part.startswith(".") or part == "__pycache__" for part in Path(name).parts)
    }


class Installed:
    """A virtual environment with hlhbayes from the wheel, and an empty folder to work in."""

    def __init__(self, root: Path, wheel: Path) -> None:
        self.root, self.wheel = root, wheel
        self.venv = root / "venv"
        self.bin = self.venv / "bin"
        self.work = root / "work"
        self.work.mkdir()
        drop = ("HLHBAYES_DATA", "HLHBAYES_MODELS", "PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
        self.env = {k: v for k, v in os.environ.items() if k not in drop}
        self.env["PATH"] = f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}"

    def run(self, *args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(a) for a in args],
            cwd=cwd or self.work,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def hlhbayes(self, *args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
        return self.run(self.bin / "hlhbayes", *args, cwd=cwd)

    @property
    def package(self) -> Path:
        found = self.run(
            self.bin / "python", "-c", "import hlhbayes; print(hlhbayes.__file__)"
        ).stdout.strip()
        return Path(found).parent


def build_wheel(into: Path) -> Path:
    """``pip wheel`` of a copy of the sources (pyproject.toml, README.md, src/)."""
    source = into / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", ".*")
    shutil.copytree(REPO / "src", source / "src", ignore=skip)
    wheels = into / "wheels"
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    subprocess.run([*pip, "--wheel-dir", str(wheels), str(source)], check=True, timeout=300)
    (wheel,) = wheels.glob("hlhbayes-*.whl")
    return wheel


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    root = tmp_path_factory.mktemp("install")
    assert REPO not in root.parents
    wheel = build_wheel(root)
    env = Installed(root, wheel)
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(env.venv)], check=True, timeout=120
    )
    target = Path(env.run(env.bin / "python", "-c", PURELIB).stdout.strip())
    (target / "_hlhbayes_dependencies.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8"
    )
    pip = [sys.executable, "-m", "pip", "--python", str(env.bin / "python"), "install"]
    subprocess.run([*pip, "--no-deps", "--no-index", "-q", str(wheel)], check=True, timeout=300)
    return env


def test_the_package_comes_from_the_wheel_not_the_checkout(installed):
    assert installed.venv in installed.package.parents
    paths = installed.run(installed.bin / "python", "-c", "import sys; print(sys.path)").stdout
    assert str(REPO / "src") not in paths


def test_the_wheel_carries_every_shipped_file(installed):
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
    files = shipped_files()
    assert {f"hlhbayes/shipped/{name}" for name in files} <= names
    assert snapshot(installed.package / "shipped") == files


def test_commands_work_from_an_empty_folder_on_the_shipped_base(installed, shipped):
    shipped_data = installed.package / "shipped" / "data"
    version = installed.hlhbayes("--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.splitlines()[1:3] == [
        f"evidence base: {shipped_data} (shipped with the package, read-only)",
        f"content hash: {shipped.content_hash}",
    ]
    validated = installed.hlhbayes("data", "validate")
    assert validated.returncode == 0, validated.stderr
    assert validated.stdout.splitlines()[0].endswith(f" in {shipped_data}")
    dry = installed.hlhbayes("fit", "--etiology", "infection", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "model: etiology-line (spec: " in dry.stdout
    assert str(installed.package / "shipped" / "models" / "etiology-line.yaml") in dry.stdout
    assert list(installed.work.iterdir()) == []  # nothing written


def test_a_workspace_holds_its_own_evidence_and_the_shipped_base_is_untouched(installed, shipped):
    shipped_data = installed.package / "shipped" / "data"
    before = snapshot(shipped_data)
    refused = installed.hlhbayes("data", "add", STUDY, "--patients", PATIENTS)
    assert refused.returncode == 1
    assert "is read-only: run `hlhbayes init DIR`" in refused.stderr
    assert len(refused.stderr.splitlines()) == 1

    made = installed.hlhbayes("init", "ws")
    assert made.returncode == 0, made.stderr
    ws = installed.work / "ws"
    added = installed.hlhbayes("data", "add", STUDY, "--patients", PATIENTS, cwd=ws)
    assert added.returncode == 0, added.stderr
    assert f"wrote {ws / 'data' / 'studies' / 'Example2024.yaml'}" in added.stdout
    validated = installed.hlhbayes("data", "validate", cwd=ws)
    assert validated.returncode == 0, validated.stderr
    assert validated.stdout.splitlines()[0].endswith(f" in {ws / 'data'}")
    assert validated.stdout.splitlines()[1] != f"content hash: {shipped.content_hash}"
    assert snapshot(shipped_data) == before
