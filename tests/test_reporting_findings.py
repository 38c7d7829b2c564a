"""The summary of findings: first, in plain words, with digits its Monte Carlo error supports.

A report of the session's short fit must open with the summary-of-findings block (before every
other table), speak no model vocabulary before its appendices, and print the averages of
``summary.json`` (what ``fit`` printed) as patients of 100. The slow test refits the shipped
infection report with the command it records and compares its summary of findings and its
sensitivity table.
"""

from __future__ import annotations

import re
import shlex
from html.parser import HTMLParser

import pytest

from conftest import DEFAULT_FIT, REPO, cli
from hlhbayes.reporting import ReportOptions, build_context, open_run
from hlhbayes.reporting import findings as sof
from hlhbayes.reporting.findings import chance, of_100
from hlhbayes.reporting.precision import decimals, rounded, up_to_one_digit
from hlhbayes.reporting.render import render_html, render_markdown

MODEL_WORDS = (
    "rate_typical",
    "rate_new",
    "MAP",
    "tau",
    "τ",
    "sigma_eta",
    "alpha",
    "Pareto",
    "ECDF",
    "R-hat",
    "etiology-line",
    "logit",
)
"""Words of the model and its diagnostics that a clinician-facing section must not use."""


class Text(HTMLParser):
    """The visible text of an HTML fragment (alt text of figures left out)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def visible(html: str) -> str:
    parser = Text()
    parser.feed(html)
    return " ".join(parser.parts)


def test_digits_follow_the_monte_carlo_error():
    assert [decimals(e, most=3) for e in (0.0004, 0.003, 0.03, 0.3, 3.0, 30.0)] == [
        3,
        2,
        1,
        0,
        -1,
        -1,
    ]
    assert decimals(0.0, most=2) == 2 and decimals(float("nan"), most=1) == 1
    assert rounded(64.2, -1) == "60" and rounded(-0.0001, 2) == "0.00"
    assert [up_to_one_digit(e) for e in (0.14, 0.86, 1.2, 0.0)] == [0.2, 0.9, 2.0, 0.0]
    assert of_100(0.884, 0.002) == "88"
    assert of_100(0.658, 0.012) == "70"  # an error over one patient of 100: to tens
    assert of_100(0.9996, 0.0001) == "more than 99"
    assert of_100(0.9996, 0.0001, end=True) == "100"  # an interval's end is only rounded
    assert of_100(0.003, 0.0001) == "fewer than 1"
    assert chance(0.9991, 0.0004) == "99.9%"
    assert chance(0.9999, 0.0001) == "more than 99.9%"
    assert chance(0.924, 0.004) == "92%"
    assert chance(1.0, 0.0) == "every draw"


@pytest.fixture(scope="module")
def report(short_run) -> tuple[dict, str, str]:
    opened = open_run(short_run)
    context = build_context(opened, ReportOptions(etiologies=("infection",)))
    return context, render_html(context), render_markdown(context)


@pytest.mark.sampling
def test_the_summary_of_findings_comes_before_every_table(report):
    _, html, markdown = report
    body = html[html.index("<body>") :]
    start = body.index('<section id="summary-of-findings"')
    end = body.index("</section>", start)
    tables = [m.start() for m in re.finditer(r"<table", body)]
    assert tables and start < tables[0] and tables[0] < end  # its own table comes first
    assert all(t > end for t in tables[1:])
    assert start < body.index("<h2>") < end  # the first heading of the page is its own
    # Markdown: the summary is the first section, before the first table of the evidence
    assert markdown.index("## Summary of findings") < markdown.index("### Evidence table")
    assert markdown.index("## Summary of findings") < markdown.index("## 1. Question")


@pytest.mark.sampling
def test_the_summary_speaks_in_patients_of_100_from_summary_json(report, short_run):
    context, html, _ = report
    opened = open_run(short_run)
    records = {(r["quantity"], r["etiology"], r["line"]): r for r in opened.summary["summary"]}
    rows = context["findings"]["rows"]
    figures = {
        f.line: f.average
        for f in sof.findings(opened, [("infection", "first"), ("infection", "later")], ())
    }
    assert [r["label"] for r in rows] == [
        "Infection-triggered sHLH, anakinra as the first treatment",
        "Infection-triggered sHLH, anakinra after another treatment failed",
    ]
    for row, line in zip(rows, ("first", "later"), strict=True):
        found = re.fullmatch(
            r"About (\d+) of 100 patients respond \(95% credible interval (\d+) to (\d+)\)",
            row["average"],
        )
        assert found, row["average"]
        rec = records[("rate_typical", "infection", line)]
        errors = figures[line].errors
        values = (rec["mean"], rec["q2.5"], rec["q97.5"])
        assert figures[line].value == rec["mean"]  # summary.json's numbers, as fit printed them
        for i, (printed, value, error) in enumerate(
            zip(found.groups(), values, errors, strict=True)
        ):
            assert printed == of_100(value, error, end=i > 0)
            # whole patients, or tens where the error exceeds one patient of 100
            assert printed in (f"{100 * value:.0f}", f"{round(100 * value, -1):.0f}")
        assert row["new_centre"].startswith("About ")
        assert "95% prediction interval" in row["new_centre"]
        assert len(row["chances"]) == 2
        pattern = r"(more than |less than )?\d+(\.\d)?%|every draw|no draw"
        assert all(re.fullmatch(pattern, c) for c in row["chances"]), row["chances"]
    findings = context["findings"]
    assert [t["column"] for t in findings["thresholds"]] == [
        "Chance the average exceeds 50 of 100",
        "Chance the average exceeds 75 of 100",
    ]
    assert findings["caveat"].startswith("Certainty: low.")
    assert "Monte Carlo error" in findings["mc_error"]
    assert all(t["reason"] for t in findings["thresholds"])
    assert "NOT converge" in html[: html.index("<table")]  # the short fit's warning, up front


@pytest.mark.sampling
def test_no_model_vocabulary_before_the_appendices(report):
    _, html, markdown = report
    # from the title on: a NOT CONVERGED banner above it names the failed diagnostics on purpose
    body = html[html.index("<header>") : html.index('<details class="appendix"')]
    words = visible(body)
    for word in MODEL_WORDS:
        assert not re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", words), word
    md_main = markdown[markdown.index("\n# ") : markdown.index("<details>")]
    md_main = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", md_main)  # figure files, not words
    for word in MODEL_WORDS:
        assert not re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", md_main), word
    # the appendices are there, collapsed, and every technical table has its glossary
    assert html.count('<details class="appendix"') == 3
    for table_id in ("results", "hyperparameters", "priors", "sampler", "diagnostics", "loo"):
        section = html[html.index(f'id="table-{table_id}"') :]
        assert section.index('<p class="glossary">') < section.index("<table"), table_id


@pytest.mark.sampling
def test_the_figures_a_clinician_reads_come_first(report):
    _, html, _ = report
    appendix = html.index('<details class="appendix"')
    for fig in ("forest", "densities"):
        assert html.index(f'id="figure-{fig}"') < appendix
    for fig in ("prior_posterior", "trace", "rank", "ppc"):
        assert html.index(f'id="figure-{fig}"') > appendix


SHIPPED = REPO / "reports" / "infection" / "report.md"


def recorded_fit_command(report_md: str) -> list[str]:
    found = re.search(r"\*\*fit command\*\*: `([^`]+)`", report_md)
    assert found, "the shipped report records no fit command"
    return shlex.split(found.group(1))


def summary_rows(report_md: str) -> list[str]:
    head = report_md.index("## Summary of findings")
    block = report_md[head : report_md.index("## 1. Question")]
    return [ln for ln in block.splitlines() if ln.startswith("| **")]


SENSITIVITY_TOLERANCE = 8
"""Patients of 100 by which a refit's sensitivity figures may differ from the shipped ones.

A refit in a new, empty cache has given the same numbers as the shipped reports, but another
machine's XLA may compile the programs to other machine code (other CPU features), and a cache
filled by many processes has been seen to give one scenario other draws (README, "Speed"): the
scenarios' chains then take other paths through the same posterior, and the figures agree
within Monte Carlo error, not digit for digit. An interval end's Monte Carlo
error is about 2 of 100 (the report states it for the fit's own); two independent runs then
differ by about sqrt(2) x 2 = 2.8 in standard deviation, and 8 is about three of those."""


def sensitivity_rows(report_md: str) -> list[list[str]]:
    """The cells of the sensitivity table's rows (its header and rule left out)."""
    head = report_md.index("## 4. How sensitive is this answer?")
    block = report_md[head : report_md.index("<details>", head)].splitlines()
    rows = [ln for ln in block if ln.startswith("|") and not ln.startswith("|-")][1:]
    return [[cell.strip() for cell in ln.strip("|").split("|")] for ln in rows]


OUTPUT_ONLY = {"--force", "-q", "--quiet"}
"""Options of fit that change where and how loudly it writes, never its numbers."""


@pytest.mark.slow
def test_the_shipped_infection_report_is_what_its_recorded_command_gives(
    tmp_path, monkeypatch, default_fit
):
    """Refit with the command the shipped report records; its summary of findings must match,
    and so must its sensitivity table (which that command fits too).

    When that command is the session's default fit (up to its output folder, ``--force`` and
    ``--quiet``), that fit is the refit: same inputs, same seed, same numbers.
    """
    text = SHIPPED.read_text(encoding="utf-8")
    command = recorded_fit_command(text)
    assert command[:2] == ["hlhbayes", "fit"]
    args = command[2:]
    out = args.index("--out")
    fit_args = [a for a in args[:out] + args[out + 2 :] if a not in OUTPUT_ONLY]
    if ["fit", *fit_args] == list(DEFAULT_FIT):
        result, folder = default_fit
    else:
        folder = args[out + 1] = tmp_path / "infection"  # same fit, into a scratch folder
        monkeypatch.chdir(REPO)
        result = cli("fit", *map(str, args))
    assert result.exit_code in (0, 3), result.output
    opened = open_run(folder)
    context = build_context(opened, ReportOptions())
    fresh = render_markdown(context)
    assert summary_rows(fresh), "no summary of findings rendered"
    assert summary_rows(fresh) == summary_rows(text)
    # and how sensitive it is: the same table (the same scenarios, statuses and figures)
    fresh_rows, shipped_rows = sensitivity_rows(fresh), sensitivity_rows(text)
    assert fresh_rows, "no sensitivity table rendered"
    assert [(r[:2], r[-1]) for r in fresh_rows] == [(r[:2], r[-1]) for r in shipped_rows]
    for new, old in zip(fresh_rows, shipped_rows, strict=True):
        figures = [re.findall(r"[-+]?\d+", " ".join(row[2:-1])) for row in (new, old)]
        for x, y in zip(*figures, strict=True):
            assert abs(int(x) - int(y)) <= SENSITIVITY_TOLERANCE, (new, old)
