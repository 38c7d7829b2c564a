"""Evidence-table links go to the publisher, the DOI or PubMed, never to a mirror.

``MIRROR_HOSTS`` are hosts known to serve copies of papers that are not their source: a
translation proxy, a text-mining mirror, aggregator and scraper sites, a QR-code redirector and
a library catalogue (each seen in this evidence base before the ``read_at`` field existed). A
study file may keep such an address as ``read_at`` (where the figures were read); a report shows
it as text, never as a link.
"""

from __future__ import annotations

from html import escape
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from markdown_it import MarkdownIt

from conftest import DATA
from hlhbayes.evidence import load_evidence
from hlhbayes.evidence.schema import Study
from hlhbayes.reporting import ReportOptions, build_context, open_run
from hlhbayes.reporting.render import render_html, render_markdown
from hlhbayes.reporting.tables import study_links

MIRROR_HOSTS = (
    "weglot.com",  # translation proxy
    "distantreader.org",  # text-mining mirror of CORD-19
    "mdnxs.com",
    "medluna.com",
    "ichgcp.net",
    "scilit.net",
    "scite.ai",  # aggregators and scrapers
    "vukou.com",  # QR-code redirector
    "lib.cas.cz",  # library catalogue
)


def is_mirror(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return any(host == m or host.endswith("." + m) for m in MIRROR_HOSTS)


class Anchors(HTMLParser):
    """The targets of every <a href> in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.hrefs += [v or "" for k, v in attrs if k == "href"]


def hrefs(html: str) -> list[str]:
    parser = Anchors()
    parser.feed(html)
    return parser.hrefs


def test_no_study_with_a_doi_or_pmid_links_to_a_mirror():
    """Every study of the shipped base: its links (as the report builds them) avoid mirrors."""
    base = load_evidence(DATA)
    for sid, record in base.studies.items():
        s = record.study
        links = [item["href"] for item in study_links(s) if "href" in item]
        if s.doi or s.pmid:
            assert not [h for h in links if is_mirror(h)], sid
        if s.url:  # the study's own page is never a mirror: such an address is read_at
            assert not is_mirror(s.url), (sid, s.url)


def test_a_mirror_is_shown_as_where_the_figures_were_read_and_not_linked():
    study = Study(
        id="Mirrored2024",
        citation="A study read through a proxy",
        year=2024,
        doi="10.1234/abc",
        read_at="https://proxy.weglot.com/x/pubmed.ncbi.nlm.nih.gov/1",
        design="case series",
        population="adult",
        condition="classic_shlh",
    )
    items = study_links(study)
    assert items == [
        {"text": "doi:10.1234/abc", "href": "https://doi.org/10.1234/abc"},
        {
            "text": "figures read at",
            "address": "https://proxy.weglot.com/x/pubmed.ncbi.nlm.nih.gov/1",
        },
    ]


def test_a_copy_alone_is_a_valid_record_and_none_at_all_is_not():
    fields = {
        "id": "OnlyCopy",
        "citation": "x",
        "year": None,
        "design": "x",
        "population": None,
        "condition": "mas",
    }
    assert Study(**fields, read_at="https://www.scilit.net/p/1").read_at
    with pytest.raises(ValueError, match="needs at least one of doi, pmid, url, read_at"):
        Study(**fields)


@pytest.mark.sampling
def test_no_link_of_a_rendered_report_goes_to_a_mirror(short_run):
    run = open_run(short_run)
    context = build_context(run, ReportOptions())
    html = render_html(context)
    markdown = MarkdownIt("commonmark").enable("table").render(render_markdown(context))
    assert run.base is not None
    with_copy = [
        sid for sid in run.units.studies if run.base.studies[sid].study.read_at is not None
    ]
    assert with_copy  # the shipped fit has studies read through mirrors: the test tests them
    for page in (html, markdown):
        links = hrefs(page)
        assert links and not [h for h in links if is_mirror(h)]
        for sid in with_copy:
            s = run.base.studies[sid].study
            shown = escape(s.read_at, quote=False)
            assert f"figures read at: <code>{shown}</code>" in page  # shown, as text
            if s.doi:
                assert f"https://doi.org/{s.doi}" in links
