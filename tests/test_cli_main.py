"""The command group: every command resolves, and subcommands are imported only when used."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from hlhbayes.cli import main
from hlhbayes.cli.main import COMMANDS


def test_every_listed_command_resolves_and_has_help():
    runner = CliRunner()
    listing = runner.invoke(main, ["--help"])
    assert listing.exit_code == 0, listing.output
    for name in COMMANDS:
        assert name in listing.output
        command = main.get_command(None, name)  # type: ignore[arg-type]
        assert command is not None and command.name == name
        result = runner.invoke(main, [name, "--help"])
        assert result.exit_code == 0, result.output
    assert main.get_command(None, "no-such-command") is None  # type: ignore[arg-type]


def test_fit_help_does_not_import_other_commands():
    code = (
        "import sys\n"
        "from hlhbayes.cli import main\n"
        "try:\n"
        "    main(['fit', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('hlhbayes.cli.', 'hlhbayes.reporting',"
        " 'hlhbayes.design', 'hlhbayes.living', 'pymc', 'matplotlib')))\n"
        "print(' '.join(loaded))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(out.stdout.split())
    assert "hlhbayes.cli.fit_cmd" in loaded
    for eager in (
        "hlhbayes.cli.report_cmd",
        "hlhbayes.cli.design_cmd",
        "hlhbayes.reporting",
        "hlhbayes.design",
        "pymc",
        "matplotlib",
    ):
        assert eager not in loaded, f"{eager} imported by `hlhbayes fit --help`"


def test_the_command_list_imports_no_heavy_library():
    """``hlhbayes --help`` lists every command (importing each command's module for its short
    help), so no command module may import scipy.stats, PyMC, JAX, matplotlib or arviz-stats at
    its top: the listing took 2.8 s when one did (scipy.stats alone costs about a second)."""
    code = (
        "import sys\n"
        "from hlhbayes.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('scipy.stats', 'pymc', 'jax', 'matplotlib', 'arviz_stats')\n"
        "print(' '.join(m for m in heavy if m in sys.modules), file=sys.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "Commands:" in out.stdout
    assert out.stderr.split() == []


def test_the_executable_ends_without_the_final_collection_and_after_every_exit_handler():
    """The installed ``hlhbayes`` is :func:`~hlhbayes.cli.main.run`: it freezes the garbage
    collector's objects as its last exit handler, so that Python's collections at exit (about
    half a second after a fit) have nothing to traverse, while handlers registered later, as
    every library's are, still run before it, and the command's output is complete."""
    from importlib.metadata import entry_points

    (script,) = entry_points(group="console_scripts", name="hlhbayes")
    assert script.value == "hlhbayes.cli:run"
    code = (
        "import atexit, gc, os, sys\n"
        "seen = {}\n"
        "atexit.register(lambda: os.write(2, f'frozen at the end: {gc.get_freeze_count()}, '\n"
        "    f'frozen in a later handler: {seen[\"later\"]}'.encode()))\n"
        "from hlhbayes.cli import run\n"
        "import hlhbayes.cli.main as m\n"
        "real = m.main\n"
        "def main():\n"
        "    atexit.register(lambda: seen.update(later=gc.get_freeze_count()))\n"
        "    real()\n"
        "m.main = main\n"
        "sys.argv = ['hlhbayes', '--help']\n"
        "run()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "Commands:" in out.stdout
    frozen, later = (int(part.rsplit(" ", 1)[1]) for part in out.stderr.split(", "))
    assert frozen > 1000 and later == 0


def test_output_to_a_reader_that_left_ends_quietly():
    """``hlhbayes data list | head -0``: no "error: Broken pipe", no traceback at exit."""
    code = (
        "import sys; sys.argv = ['hlhbayes', 'data', 'list']\nfrom hlhbayes.cli import run\nrun()\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    process.stdout.close()  # the reader leaves before the first line
    with process.stderr:
        stderr = process.stderr.read().decode()
    assert process.wait() == 1
    assert stderr == ""
