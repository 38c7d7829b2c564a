"""A report as PDF: the self-contained HTML page printed by headless Chromium.

The page carries its own print stylesheet (``@media print`` in the HTML template: A4, no cut
figures or table rows, technical sections on a new page, link targets printed where the link's
text does not show them), so the PDF is what a reader gets from their browser's Print, without
the browser's header and footer. Chromium is found as ``$HLHBAYES_CHROMIUM``, else the first of
:data:`BROWSERS` on the PATH; without one, ``--format pdf`` is refused before anything is
written, with one line naming what to install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from hlhbayes.errors import HlhBayesError

ENV = "HLHBAYES_CHROMIUM"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT = 180
"""Seconds a print may take (a long report prints in a few seconds)."""
FLAGS = (
    "--headless",
    "--no-sandbox",  # needed as root and in containers; the page runs no script
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--no-pdf-header-footer",
)


def find_browser() -> str:
    """The Chromium (or Chrome) executable to print with; one-line error naming the fix."""
    named = os.environ.get(ENV)
    if named:
        if shutil.which(named):
            return str(shutil.which(named))
        raise HlhBayesError(f"${ENV} is {named!r}, which is not an executable browser")
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    raise HlhBayesError(
        "--format pdf needs Chromium to print the report: install it (Debian and Ubuntu: "
        f"apt-get install chromium) or set ${ENV} to a Chromium or Chrome executable"
    )


def print_pdf(html: Path, pdf: Path, browser: str | None = None) -> Path:
    """Print the HTML file ``html`` to ``pdf`` with headless Chromium; returns ``pdf``.

    Raises :class:`~hlhbayes.errors.HlhBayesError` (one line) when the browser fails, times out
    or writes no PDF.
    """
    browser = browser or find_browser()
    with tempfile.TemporaryDirectory(prefix="hlhbayes-chromium-") as profile:
        command = [
            browser,
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--print-to-pdf={Path(pdf).resolve()}",
            Path(html).resolve().as_uri(),
        ]
        try:
            done = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=TIMEOUT,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise HlhBayesError(f"{browser}: printing the report took over {TIMEOUT} s") from None
    if done.returncode != 0 or not _is_pdf(Path(pdf)):
        reason = _last_line(done.stderr) or f"exit status {done.returncode}"
        raise HlhBayesError(f"{browser} could not print the report to PDF: {reason}")
    return Path(pdf)


def _is_pdf(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(5) == b"%PDF-"
    except OSError:
        return False


def _last_line(stderr: str) -> str:
    """The browser's last message that is not about D-Bus (absent in containers: harmless)."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip() and "dbus" not in ln.lower()]
    return lines[-1][:200] if lines else ""
