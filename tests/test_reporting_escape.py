"""Markup in study fields never becomes executable in a report (HTML or Markdown).

The end-to-end test fits (random-effects, tiny draws) an evidence base whose every text field
holds markup, renders both report files, and checks them as a browser would see them: the
HTML as it is, the Markdown after a CommonMark renderer that passes raw HTML through (the most
permissive kind), with tables enabled.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
import yaml
from click.testing import CliRunner
from markdown_it import MarkdownIt

from conftest import SHORT
from hlhbayes.cli import main
from hlhbayes.reporting.escape import md_cell, md_code, md_link, md_text, safe_href

MARKUP = [
    '<script>alert("x")</script>',
    "<img src=x onerror=alert(1)>",
    "[click me](javascript:alert(1))",
    "![pic](javascript:alert(1))",
    "<javascript:alert(1)>",
    '<a href="javascript:alert(1)">a</a>',
    "cell | with | pipes",
    "&lt;script&gt;",
    "`code` ``span",
]
LINE = " ".join(MARKUP)
PROSE = "\n".join(MARKUP)
HOSTILE_URL = "https://example.org/x)](javascript:alert(1))'onmouseover='alert(1)"
HOSTILE_READ_AT = "https://mirror.example.org/a|b)](javascript:alert(1))"
HOSTILE_DOI = '10.1234/{}"><script>alert(1)</script>'


class Page(HTMLParser):
    """What a browser would run: script tags, event handlers, link and image targets."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.handlers: list[str] = []
        self.targets: list[tuple[str, str]] = []
        self.rows: list[int] = []  # cells per table row

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append(f"{tag} {name}")
            if name in ("href", "src", "action", "formaction"):
                self.targets.append((tag, value or ""))
        if tag == "tr":
            self.rows.append(0)
        elif tag in ("td", "th") and self.rows:
            self.rows[-1] += 1


def page_targets(html: str) -> list[tuple[str, str]]:
    """The (tag, target) of every link and image in ``html``."""
    page = Page()
    page.feed(html)
    return page.targets


def executable(html: str) -> list[str]:
    """Everything in ``html`` that a browser could run or follow outside http(s)."""
    page = Page()
    page.feed(html)
    found = [f"<{t}>" for t in page.tags if t in ("script", "iframe", "object", "embed")]
    found += page.handlers
    for tag, target in page.targets:
        allowed = ("https://", "http://", "#")
        if tag == "img":
            allowed = ("data:image/png;base64,", "figures/")
        if not target.startswith(allowed):  # the scheme decides; "javascript:" in a path is text
            found.append(f"{tag} -> {target}")
    return found


def study(sid: str, *, pool: bool = True) -> dict:
    return {
        "study": {
            "id": sid,
            "citation": LINE,
            "year": 2024,
            "doi": HOSTILE_DOI.format(sid) if pool else None,
            "pmid": None,
            "url": HOSTILE_URL,
            "read_at": HOSTILE_READ_AT,
            "design": LINE,
            "country": LINE,
            "population": "adult",
            "condition": "classic_shlh",
            "response_definition": PROSE,
            "role": "primary",
            "pool": pool,
            "exclusion_reason": None if pool else PROSE,
            "overlap_group": None,
            "notes": PROSE,
        },
        "reported": [
            {"key": "n", "value": LINE, "location": LINE, "derived": False, "note": PROSE}
        ],
        "strata": [
            {
                "id": "response-all",
                "outcome": "response",
                "events": 3 if sid.endswith("A") else 6,
                "total": 8,
                "etiology": None,
                "line": None,
                "definition": "clinician_judged",
                "timeframe": None,  # a response stratum has none; death timeframes are codes
                "derived": False,
                "location": LINE,
                "source": HOSTILE_URL,
                "note": PROSE,
            }
        ],
    }


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory) -> tuple[str, str]:
    root = tmp_path_factory.mktemp("hostile")
    base = root / "data"
    (base / "studies").mkdir(parents=True)
    for sid, pool in (("HostileA", True), ("HostileB", True), ("HostileC", False)):
        text = yaml.safe_dump(study(sid, pool=pool), sort_keys=False, allow_unicode=True)
        (base / "studies" / f"{sid}.yaml").write_text(text, encoding="utf-8")
    validated = CliRunner().invoke(main, ["data", "validate", str(base)])
    assert validated.exit_code == 0, validated.output
    run = root / "run"
    fitted = CliRunner().invoke(
        main,
        [
            "fit",
            "--model",
            "random-effects",
            "--data",
            str(base),
            "--out",
            str(run),
            *SHORT,
            "-q",
            "--no-sensitivity",
        ],
    )
    assert fitted.exit_code in (0, 3), fitted.output
    out = root / "reports"
    reported = CliRunner().invoke(main, ["report", str(run), "--out-dir", str(out), "-q"])
    assert reported.exit_code == 0, reported.output
    html = (out / "run" / "report.html").read_text(encoding="utf-8")
    markdown = (out / "run" / "report.md").read_text(encoding="utf-8")
    return html, markdown


@pytest.mark.sampling
def test_nothing_executable_reaches_the_html_report(hostile_report) -> None:
    html, _ = hostile_report
    assert executable(html) == []
    # the text is shown, as text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    # the study's own address is a link, percent-encoded so it cannot leave the attribute
    assert (
        'href="https://example.org/x%29%5D%28javascript:alert%281%29%29%27onmouseover=%27alert%281%29"'
        in html
    )
    assert (
        'href="https://doi.org/10.1234/HostileA%22%3E%3Cscript%3Ealert%281%29%3C/script%3E"' in html
    )
    # the copy where the figures were read is text, never a link
    assert "mirror.example.org" not in "".join(t for _, t in page_targets(html))
    assert (
        "figures read at: <code>https://mirror.example.org/a%7Cb%29%5D%28javascript:alert%281%29%29</code>"
        in html
    )


@pytest.mark.sampling
def test_nothing_executable_reaches_the_markdown_report(hostile_report) -> None:
    _, markdown = hostile_report
    rendered = MarkdownIt("commonmark").enable("table").render(markdown)
    assert executable(rendered) == []
    page = Page()
    page.feed(rendered)
    assert page.rows and "<table>" in rendered
    # every row of a table has as many cells as its header: pipes and line breaks stayed text
    tables = rendered.split("<table>")[1:]
    for table in tables:
        part = Page()
        part.feed(table.split("</table>")[0])
        assert len(set(part.rows)) == 1, part.rows
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in rendered
    assert "mirror.example.org" not in "".join(t for _, t in page_targets(rendered))
    assert "figures read at: <code>https://mirror.example.org/a%7Cb%29" in rendered


# --- the escaping functions --------------------------------------------------------------------


@pytest.mark.parametrize("text", [*MARKUP, PROSE])
def test_md_text_renders_as_the_text_itself(text: str) -> None:
    rendered = (
        MarkdownIt("commonmark").enable("table").render(f"| a |\n|---|\n| {md_text(text)} |\n")
    )
    assert executable(rendered) == []
    assert rendered.count("<td>") == 1
    cell = rendered.split("<td>")[1].split("</td>")[0]
    import html as html_module

    assert html_module.unescape(cell) == " ".join(text.splitlines())


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.org/a b", "https://example.org/a%20b"),
        ("http://example.org/?q=1&r=(2)", "http://example.org/?q=1&r=%282%29"),
        ("javascript:alert(1)", ""),
        ("JaVaScRiPt:alert(1)", ""),
        ("data:text/html,<script>", ""),
        ("//example.org/x", ""),
        ("https://", ""),
        ("https://[::1", ""),
    ],
)
def test_safe_href_keeps_only_http_addresses(url: str, expected: str) -> None:
    assert safe_href(url) == expected


def test_a_link_that_is_not_http_is_text() -> None:
    assert md_link("URL", "javascript:alert(1)") == "URL"
    assert md_cell([{"text": "a]b", "href": "https://x.org/)"}]) == "[a\\]b](https://x.org/%29)"


def test_md_code_cannot_be_closed_by_its_content() -> None:
    assert md_code("fit --data x") == "`fit --data x`"
    assert md_code("a ` b") == "``a ` b``"
    assert md_code("`x`") == "`` `x` ``"
    rendered = MarkdownIt("commonmark").render(md_code("<script>`</script>"))
    assert "<script>" not in rendered
