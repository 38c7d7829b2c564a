"""The documentation cannot rot: the API reference builds strictly, the CLI reference is current."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def cli_reference():
    spec = importlib.util.spec_from_file_location(
        "cli_reference", REPO / "scripts" / "cli_reference.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_cli_reference_is_generated_from_the_commands_help():
    reference = cli_reference()
    committed = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    assert committed == reference.render(), "docs/cli.md is out of date: run make cli-reference"
    for command in ("hlhbayes fit", "hlhbayes data add", "hlhbayes design map"):
        assert f"## `{command}`\n\n```text\nUsage: {command} [OPTIONS]" in committed


def test_the_docs_build_strictly_and_document_the_api(tmp_path):
    import hlhbayes

    paths = [str(REPO / "docs"), str(tmp_path)]
    # -W: a warning is an error; -n: every cross-reference in a docstring must resolve
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-q", "-b", "html", *paths],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    api = (tmp_path / "api.html").read_text(encoding="utf-8")
    for name in hlhbayes.__all__:
        if name not in ("__version__", "design"):
            assert f'id="hlhbayes.api.{name}"' in api, name
    for name in ("summary", "save", "report", "idata", "diagnostics", "draws"):
        assert f'id="hlhbayes.api.Fit.{name}"' in api, name
    for name in hlhbayes.design.__all__:
        assert re.search(rf'id="hlhbayes\.design\.\w+\.{name}"', api), name
    assert "95 % equal-tailed" in api  # the interval policy, where users meet it
    assert (tmp_path / "cli.html").is_file()
