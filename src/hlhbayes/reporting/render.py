"""Render a report context to HTML and Markdown, and write them atomically.

HTML is one self-contained file; Markdown refers to PNG files in ``figures/`` beside it. Both go
under ``<out_dir>/<name>/``.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from hlhbayes.atomic import write_folder
from hlhbayes.errors import HlhBayesError
from hlhbayes.locking import Guard, hold
from hlhbayes.quoting import quoted
from hlhbayes.reporting import escape

FORMATS = ("html", "md", "both")
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def environment() -> Environment:
    """The Jinja environment: templates from the installed package, HTML autoescaped."""
    env = Environment(
        loader=PackageLoader("hlhbayes.reporting", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["b64"] = lambda data: base64.b64encode(data).decode("ascii")
    env.filters["md"] = escape.md_cell
    env.filters["md_code"] = escape.md_code
    env.filters["href"] = escape.safe_href
    return env


def render_html(context: dict[str, Any]) -> str:
    """One self-contained HTML page: CSS inline, figures as base64 PNG data URIs."""
    return environment().get_template("report.html.j2").render(figs=_by_id(context), **context)


def render_markdown(context: dict[str, Any], figure_dir: str = "figures") -> str:
    """Markdown that refers to ``<figure_dir>/<id>.png``."""
    template = environment().get_template("report.md.j2")
    return template.render(figure_dir=figure_dir, figs=_by_id(context), **context)


def _by_id(context: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["id"]: f for f in context["figures"]}


def check_name(name: str) -> str:
    """A report name is one folder name: letters, digits, ``.``, ``_``, ``-``."""
    if not NAME_PATTERN.fullmatch(name) or name in (".", ".."):
        raise HlhBayesError(f"--name {quoted(name)}: use letters, digits, '.', '_' and '-' only")
    return name


def report_guard(target: Path) -> Guard:
    """The lock, journal and leftovers of the report folder ``target`` (beside it)."""
    return Guard.beside(Path(target))


def write_files(context: dict[str, Any], target: Path, fmt: str) -> list[Path]:
    """Write the report into ``target`` atomically: build it beside, then swap it into place.

    On any failure nothing is left behind and an existing report at ``target`` is untouched
    (after a kill, the next report into ``target`` puts it back). Holds the folder's lock.
    """
    if fmt not in FORMATS:
        raise HlhBayesError(f"unknown format {quoted(fmt)}; valid: {', '.join(FORMATS)}")
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise HlhBayesError(f"{target}: exists and is not a folder")
    written = []
    if fmt in ("html", "both"):
        written.append("report.html")
    if fmt in ("md", "both"):
        written.append("report.md")

    def fill(folder: Path) -> None:
        if "report.html" in written:
            (folder / "report.html").write_text(render_html(context), encoding="utf-8")
        if "report.md" in written:
            (folder / "figures").mkdir()
            for fig in context["figures"]:
                (folder / "figures" / f"{fig['id']}.png").write_bytes(fig["png"])
            (folder / "report.md").write_text(render_markdown(context), encoding="utf-8")

    try:
        guard = report_guard(target)
        with hold(guard, tidy=True):
            write_folder(target, fill, journal=guard.journal)
    except OSError as exc:
        if exc.strerror and not exc.filename:
            exc.filename = str(target)  # a full disk fails a write(): name the report
        raise
    return [target / name for name in written]
