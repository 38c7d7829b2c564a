"""Text and links from records made inert in the reports.

Study fields and file names reach both report files. In HTML, Jinja's autoescaping makes text
inert; a link additionally needs a safe target (:func:`safe_href`: ``http(s)`` only, so a
``javascript:`` address never becomes a live link, whatever a record holds). Markdown has no
autoescaping: :func:`md_text` escapes what would start raw HTML (``<``, ``&``), a link or image
(``[``, ``]``), a code span, a table cell (``|``) or a new line; :func:`md_code` writes a code span that the
text cannot close early.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlsplit

# Characters a link target keeps as they are; every other one is percent-encoded, so that a
# target cannot close a Markdown link, an HTML attribute or hold a space or control character.
_URL_SAFE = "/:?#@!$&*+,;=%-._~"
_MD_SPECIAL = {
    "\\": "\\\\",
    "|": "\\|",
    "`": "\\`",
    "[": "\\[",
    "]": "\\]",
    "<": "&lt;",
    ">": "&gt;",
    "&": "&amp;",
    "\r": " ",
    "\n": " ",
}
_MD_PATTERN = re.compile("|".join(re.escape(c) for c in _MD_SPECIAL))


def safe_href(url: str) -> str:
    """``url`` percent-encoded if it is an http(s) address with a host, else ``""`` (no link)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return ""
    return quote(url.strip(), safe=_URL_SAFE)


def md_text(text: Any) -> str:
    """``text`` as inert Markdown on one line (renders as the text itself)."""
    return _MD_PATTERN.sub(lambda m: _MD_SPECIAL[m.group()], str(text))


def md_cell(value: Any) -> str:
    """A table cell: text, or a list of items joined by commas.

    An item is a link (``{"text", "href"}``) or a label with an address that must not become a
    link (``{"text", "address"}``: a code span, which no Markdown renderer autolinks).
    """
    if isinstance(value, list):
        return ", ".join(
            f"{md_text(item['text'])}: {md_code(item['address'])}"
            if "address" in item
            else md_link(item["text"], item["href"])
            for item in value
        )
    return md_text(value)


def md_link(text: str, href: str) -> str:
    """``[text](href)`` with both made inert; only the text when the target is not http(s)."""
    target = safe_href(href)
    return f"[{md_text(text)}]({target})" if target else md_text(text)


def md_code(text: Any) -> str:
    """``text`` as a Markdown code span on one line, fenced by more backticks than it holds."""
    body = " ".join(str(text).splitlines())
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * (longest + 1)
    if body.startswith("`") or body.endswith("`"):
        body = f" {body} "
    return f"{fence}{body}{fence}"
