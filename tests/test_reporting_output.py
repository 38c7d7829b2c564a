"""Where a report is written, and the PDF printed from its HTML by headless Chromium.

The PDF tests need Chromium (Debian's ``chromium``); they are skipped, with the reason, where it
is not installed. What a printed page looks like is checked by eye (pages to PNG); here: the
file is a PDF of several A4 pages that holds the report's title, tables and figures, and the
print stylesheet is in the page.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import cli, snapshot
from hlhbayes.errors import HlhBayesError
from hlhbayes.reporting import pdf, report_target

pytestmark = pytest.mark.sampling

try:
    pdf.find_browser()
    CHROMIUM = None
except HlhBayesError as exc:
    CHROMIUM = str(exc)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is not None, reason=f"Chromium not found ({CHROMIUM}); PDF output not tested"
)


@pytest.fixture
def run_copy(short_run, tmp_path) -> Path:
    """A copy of the session's short run (a report inside it must not change the shared one)."""
    target = tmp_path / "run"
    shutil.copytree(short_run, target)
    return target


def test_the_report_goes_into_the_run_folder_by_default(run_copy, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing may appear in the working folder (a checkout)
    result = cli("report", run_copy, "--format", "html", "-q")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [str(run_copy / "report" / "report.html")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    # the run folder is still a run folder, and the report is refreshed in place
    again = cli("report", run_copy, "--format", "md", "-q")
    assert again.exit_code == 0, again.output
    assert sorted(p.name for p in (run_copy / "report").iterdir()) == ["figures", "report.md"]


def test_out_dir_and_name_choose_another_folder(run_copy, tmp_path):
    assert report_target(run_copy) == run_copy / "report"
    assert report_target(run_copy, name="draft") == run_copy / "draft"
    assert report_target(run_copy, tmp_path / "reports") == tmp_path / "reports" / "run"
    assert report_target(run_copy, tmp_path / "r", "x") == tmp_path / "r" / "x"
    result = cli("report", run_copy, "--out-dir", tmp_path / "reports", "--format", "html", "-q")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "reports" / "run" / "report.html").is_file()
    assert not (run_copy / "report").exists()


def test_pdf_without_chromium_is_refused_in_one_line_and_writes_nothing(
    run_copy, tmp_path, monkeypatch
):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv(pdf.ENV, raising=False)
    before = snapshot(run_copy)
    result = cli("report", run_copy, "--format", "pdf")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "error: --format pdf needs Chromium to print the report: install it (Debian and "
        f"Ubuntu: apt-get install chromium) or set ${pdf.ENV} to a Chromium or Chrome executable"
    ]
    assert snapshot(run_copy) == before
    monkeypatch.setenv(pdf.ENV, str(tmp_path / "no-such-browser"))
    result = cli("report", run_copy, "--format", "all")
    assert result.exit_code == 1 and "not an executable browser" in result.stderr
    assert snapshot(run_copy) == before


def test_the_page_carries_its_print_stylesheet(run_copy):
    result = cli("report", run_copy, "--format", "html", "-q")
    assert result.exit_code == 0, result.output
    html = (run_copy / "report" / "report.html").read_text(encoding="utf-8")
    print_css = html[html.index("@media print") :]
    for rule in (
        "figure, pre, tr,",  # nothing cut across pages
        "details.appendix, footer { break-before: page; }",
        "details::details-content { content-visibility: visible; display: block; }",
        "thead { display: table-header-group; }",  # headers repeat on every page
        'a.print-url::after { content: " <" attr(href) ">"',
    ):
        assert rule in print_css, rule
    for appendix in ("estimates", "model", "diagnostics"):  # collapsed on screen
        assert f'<details class="appendix" id="{appendix}">' in html
    for width in re.findall(r'<img src="data:image/png;base64,[^"]+" width="(\d+)"', html):
        assert int(width) == 672  # every figure at the column width (7 in at 96 CSS px/in)


@needs_chromium
def test_format_all_writes_a_pdf_of_the_report(run_copy):
    result = cli("report", run_copy, "--format", "all", "-q")
    assert result.exit_code == 0, result.output
    folder = run_copy / "report"
    assert result.stdout.splitlines() == [
        str(folder / "report.html"),
        str(folder / "report.md"),
        str(folder / "report.pdf"),
    ]
    data = (folder / "report.pdf").read_bytes()
    assert data.startswith(b"%PDF-")
    pages = len(re.findall(rb"/Type\s*/Page[^s]", data))
    assert pages >= 5  # the short fit's report runs to about ten A4 pages
    assert re.search(rb"/MediaBox\s*\[0 0 59[45](\.\d+)? 84[12]", data)  # A4, in points
    if shutil.which("pdftotext"):
        text = subprocess.run(
            ["pdftotext", "-layout", str(folder / "report.pdf"), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for words in (
            "Summary of findings",
            "Evidence table",
            "Forest plot",
            "Trace plots",  # the appendices are printed open
            "Reproducibility",
        ):
            assert words in text, words
        assert "file://" not in text  # no browser header or footer


@needs_chromium
def test_pdf_alone_leaves_only_the_pdf(run_copy):
    result = cli("report", run_copy, "--format", "pdf", "-q")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (run_copy / "report").iterdir()) == ["report.pdf"]
