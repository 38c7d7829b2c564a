"""``hlhbayes report``: files, banner, figures, table rows, footer, refusals and atomicity.

One short fit of the shipped evidence base (the suite's short settings: it fails the
convergence gate on purpose; the session's ``short_run``) is reused by every test of this module.
"""

from __future__ import annotations

import base64
import io
import json
import re
import shlex
import shutil
import struct
from html.parser import HTMLParser
from pathlib import Path

import markupsafe
import matplotlib.image
import pytest
from click.testing import CliRunner

from conftest import DATA, SHORT, SHORT_SAMPLER
from hlhbayes.cli import main
from hlhbayes.evidence import load_evidence
from hlhbayes.models.units import DATA_TO_MODEL_ETIOLOGY, Filters, build_units

pytestmark = pytest.mark.sampling

FIGURES = ("forest", "densities", "prior_posterior", "trace", "rank", "ppc")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def cli(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


# --- fixtures: one short fit, one report -------------------------------------------------------


@pytest.fixture(scope="module")
def run_dir(short_run) -> Path:
    return short_run  # hlhbayes.fit at the short settings: not converged, on purpose


@pytest.fixture(scope="module")
def report_dir(run_dir, tmp_path_factory) -> Path:
    out_dir = tmp_path_factory.mktemp("reports")
    result = cli("report", run_dir, "--out-dir", out_dir, "-q")
    assert result.exit_code == 0, result.output
    target = out_dir / "short"
    assert result.stdout.splitlines() == [
        str(target / "report.html"),
        str(target / "report.md"),
    ]
    return target


@pytest.fixture(scope="module")
def html(report_dir) -> str:
    return (report_dir / "report.html").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def markdown(report_dir) -> str:
    return (report_dir / "report.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def provenance(run_dir) -> dict:
    return json.loads((run_dir / "provenance.json").read_text())


# --- helpers -----------------------------------------------------------------------------------


class _Page(HTMLParser):
    """Collects <img> sources and, per <table id=...>, the number of rows in its <tbody>."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.rows: dict[str, int] = {}
        self._table: str | None = None
        self._in_body = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.images.append(a.get("src", ""))
        elif tag == "table" and a.get("id"):
            self._table = a["id"]
            self.rows[self._table] = 0
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body and self._table:
            self.rows[self._table] += 1

    def handle_endtag(self, tag):
        if tag == "tbody":
            self._in_body = False
        elif tag == "table":
            self._table = None


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def md_table_rows(markdown: str, title: str) -> int:
    """Body rows of the Markdown table under ``### title``."""
    lines = markdown.splitlines()
    start = lines.index(f"### {title}")
    table = []
    for line in lines[start + 1 :]:
        if line.startswith("|"):
            table.append(line)
        elif table:
            break
    assert re.fullmatch(r"\|(-{3,}:?\|)+", table[1]), table[:2]
    return len(table) - 2


def check_png(data: bytes) -> tuple[int, int]:
    """A valid PNG: signature, IHDR first with sane dimensions, and decodable."""
    assert data[:8] == PNG_SIGNATURE
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    width, height = struct.unpack(">II", data[16:24])
    assert 200 <= width <= 4000 and 100 <= height <= 6000, (width, height)
    pixels = matplotlib.image.imread(io.BytesIO(data), format="png")
    assert pixels.shape[:2] == (height, width)
    assert pixels.std() > 0  # not a blank image
    return width, height


def expected_rows() -> tuple[int, int, int]:
    """Studies in the default fit, Baverez patient groups and observations, counted here
    directly from the evidence base (not with the report's own code)."""
    base = load_evidence(DATA)
    units = build_units(base, Filters())
    groups = set()
    for p in base.patients_of("Baverez2022"):
        etiologies = frozenset(DATA_TO_MODEL_ETIOLOGY[e] for e in p.etiologies)
        groups.add((etiologies, p.anakinra_line > 1))
    return len(units.studies), len(groups), len(units.pat_ids) + len(units.agg_ids)


# --- the report --------------------------------------------------------------------------------


def test_not_converged_banner_is_at_the_top_of_both_formats(html, markdown):
    body = html.split("<body>", 1)[1]
    assert body.lstrip().startswith('<div class="banner danger" id="banner-not-converged"')
    assert body.index("NOT CONVERGED") < body.index("<h1>")
    assert "min bulk ESS" in body[: body.index("<h1>")]  # the failed check, with its remedy
    first = markdown.lstrip().splitlines()[0]
    assert first.startswith("> **NOT CONVERGED**: This fit failed its convergence gate")
    assert markdown.index("NOT CONVERGED") < markdown.index("\n# ")


def test_every_embedded_figure_is_a_valid_png(html):
    images = parse(html).images
    assert len(images) == len(FIGURES)
    for src in images:
        prefix = "data:image/png;base64,"
        assert src.startswith(prefix)
        check_png(base64.b64decode(src[len(prefix) :], validate=True))
    assert "http://" not in html.replace('href="http', "")  # nothing fetched: works offline
    assert "<script" not in html


def test_markdown_figures_are_files_beside_it(report_dir, markdown):
    linked = re.findall(r"!\[[^\]]*\]\((figures/[^)]+)\)", markdown)
    assert linked == [f"figures/{f}.png" for f in FIGURES]
    for rel in linked:
        check_png((report_dir / rel).read_bytes())
    assert sorted(p.name for p in (report_dir / "figures").iterdir()) == sorted(
        f"{f}.png" for f in FIGURES
    )


def test_every_table_has_the_expected_rows(html, markdown):
    studies, groups, observations = expected_rows()
    assert (studies, groups) == (8, 12)  # the shipped base: a change here is a data change
    cells = 5 * 2
    expected = {
        "evidence": studies + groups,
        "definitions": studies,
        "priors": 4,
        "sampler": 7,
        "diagnostics": 4 + cells * 2 + 1,
        "loo": observations,
        "loo_study": studies,
        "results": cells * 2,
        "hyperparameters": 4,
        "support": cells,
        "support_hyperparameters": 4,
    }
    rows = parse(html).rows
    excluded = rows.pop("excluded")
    assert excluded == len(load_evidence(DATA).studies) - studies
    assert rows == expected
    titles = {
        "evidence": "Evidence table",
        "results": "Estimated response rates",
        "loo": "PSIS-LOO: Pareto k per observation",
        "loo_study": "PSIS-LOO by study: leaving out one whole study",
        "priors": "Priors as used",
        "support": "What each estimate rests on",
    }
    for key, title in titles.items():
        assert md_table_rows(markdown, title) == expected[key], key


def test_evidence_table_links_every_source(html):
    base = load_evidence(DATA)
    for sid in build_units(base, Filters()).studies:  # every study of the default fit
        s = base.studies[sid].study
        if s.doi:
            assert f'href="https://doi.org/{s.doi}"' in html
        if s.pmid:
            assert f'href="https://pubmed.ncbi.nlm.nih.gov/{s.pmid}/"' in html
    assert "↳ infection, first line" in html


def test_footer_has_data_hash_versions_seed_and_commands(html, markdown, provenance):
    footer = html[html.index('<footer id="reproducibility">') :]
    assert provenance["data_hash"] in footer
    assert (
        str(markupsafe.escape(shlex.join(provenance["command"]))) in footer
    )  # as the HTML shows it
    assert f"pymc {provenance['packages']['pymc']}" in footer
    assert "<tr><th>seed</th><td>1</td></tr>" in footer
    tail = markdown[markdown.index("## Reproducibility") :]
    assert f"`{provenance['data_hash']}`" in tail
    assert f"`{shlex.join(provenance['command'])}`" in tail


def test_priors_and_sampler_are_the_ones_used(html):
    assert "<td>alpha</td><td>Normal(0, 1.5)</td>" in html
    assert "<td>tau</td><td>HalfNormal(1)</td>" in html
    assert f"<td>draws per chain</td><td>{SHORT_SAMPLER['draws']}</td>" in html


def test_focus_thresholds_and_html_only(run_dir, tmp_path):
    result = cli(
        "report",
        run_dir,
        "--out-dir",
        tmp_path,
        "--name",
        "focus",
        "--format",
        "html",
        "--etiology",
        "infection",
        "--line",
        "first",
        "--threshold",
        "0.7",
        "--threshold",
        "0.9",
        "-q",
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "focus").iterdir()) == ["report.html"]
    html = (tmp_path / "focus" / "report.html").read_text()
    rows = parse(html).rows
    assert rows["results"] == 2
    assert rows["diagnostics"] == 4 + 2 + 1
    assert '<th class="num">P(rate &gt; 0.7)</th>' in html
    assert '<th class="num">P(rate &gt; 0.9)</th>' in html


# --- refusals and atomicity --------------------------------------------------------------------


def test_stale_run_is_refused_unless_allowed(run_dir, tmp_path):
    stale = tmp_path / "stale"
    shutil.copytree(run_dir, stale)
    prov = json.loads((stale / "provenance.json").read_text())
    prov["data_hash"] = "0" * 64
    (stale / "provenance.json").write_text(json.dumps(prov))
    out_dir = tmp_path / "reports"

    refused = cli("report", stale, "--out-dir", out_dir)
    assert refused.exit_code == 1
    assert refused.stderr.splitlines() == [
        f"error: {stale}: stale run: its data hash 000000000000 does not match "
        f"{DATA} ({load_evidence(DATA).content_hash[:12]}); refit, or pass "
        "--allow-stale"
    ]
    assert refused.stdout == ""
    assert not out_dir.exists()

    allowed = cli("report", stale, "--out-dir", out_dir, "--allow-stale", "--format", "md", "-q")
    assert allowed.exit_code == 0, allowed.output
    text = (out_dir / "stale" / "report.md").read_text()
    assert "> **STALE RUN**" in text.split("\n# ", 1)[0]


@pytest.mark.parametrize("kind", ["missing", "empty", "partial"])
def test_a_folder_that_is_not_a_run_is_refused(kind, tmp_path):
    folder = tmp_path / "notarun"
    if kind != "missing":
        folder.mkdir()
    if kind == "partial":
        (folder / "summary.json").write_text("{}")
    result = cli("report", folder, "--out-dir", tmp_path / "reports")
    assert result.exit_code == 1
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(f"error: {folder}: not a run folder")
    assert not (tmp_path / "reports").exists()


def test_bad_name_and_threshold_are_refused(run_dir, tmp_path):
    result = cli("report", run_dir, "--out-dir", tmp_path, "--name", "../x")
    assert result.exit_code == 1
    assert "--name '../x'" in result.stderr
    result = cli("report", run_dir, "--out-dir", tmp_path, "--threshold", "1")
    assert result.exit_code == 1
    assert "--threshold must lie strictly between 0 and 1" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_failure_part_way_leaves_the_old_report_and_nothing_else(
    run_dir, report_dir, tmp_path, monkeypatch
):
    out_dir = tmp_path / "reports"
    shutil.copytree(report_dir, out_dir / "short")
    before = {p.relative_to(out_dir): p.read_bytes() for p in out_dir.rglob("*") if p.is_file()}

    def broken(*_args, **_kwargs):
        raise RuntimeError("disk full")

    # report.html is written into the staging folder first; the Markdown then fails.
    monkeypatch.setattr("hlhbayes.reporting.render.render_markdown", broken)
    result = cli("report", run_dir, "--out-dir", out_dir)
    assert result.exit_code == 1
    assert isinstance(result.exception, RuntimeError)
    after = {p.relative_to(out_dir): p.read_bytes() for p in out_dir.rglob("*") if p.is_file()}
    assert after == before
    assert [p.name for p in out_dir.iterdir()] == ["short"]  # no staging or .old folder left


# --- a run fitted to a user's table ------------------------------------------------------------

AS_CSV = "study,r,n\nStudy 1,23,107\nStudy 2,12,44\nStudy 3,19,51\nStudy 4,9,39\nStudy 5,39,139\n"


def test_random_effects_on_a_user_table(tmp_path):
    table = tmp_path / "as.csv"
    table.write_text(AS_CSV)
    run = tmp_path / "re"
    args = ("--model", "random-effects", "--data", table, *SHORT, "-q", "--no-sensitivity")
    fitted = cli("fit", *args, "--out", run)
    assert fitted.exit_code in (0, 3), fitted.output
    result = cli("report", run, "--out-dir", tmp_path / "reports", "--format", "html", "-q")
    assert result.exit_code == 0, result.output
    html = (tmp_path / "reports" / "re" / "report.html").read_text()
    rows = parse(html).rows
    assert rows["evidence"] == 5  # the table itself
    assert rows["results"] == 2
    assert rows["loo"] == 5
    assert rows["loo_study"] == 5  # one count per study: the same units
    assert "definitions" not in rows and "excluded" not in rows
    assert str(table) in html
    for src in parse(html).images:
        check_png(base64.b64decode(src.split(",", 1)[1]))

    table.write_text(AS_CSV.replace("23,107", "24,107"))  # the data changed since the fit
    stale = cli("report", run, "--out-dir", tmp_path / "reports")
    assert stale.exit_code == 1
    assert "stale run" in stale.stderr


def test_paths_in_the_footer_are_relative_to_the_working_folder(tmp_path, monkeypatch):
    from hlhbayes.reporting.text import shown_path

    monkeypatch.chdir(tmp_path)
    inside = tmp_path / "data"
    assert shown_path(str(inside)) == "data"
    outside = "/nowhere/else/data"
    assert shown_path(outside) == outside


def test_study_log_likelihood_sums_units_and_loo_matches_plain_importance_sampling(run_dir):
    """Independent check: for a study, elpd_loo ~ -log mean(exp(-ll)) (importance sampling)."""
    import numpy as np

    from hlhbayes.datatree import observed_log_likelihood
    from hlhbayes.reporting.loading import open_run
    from hlhbayes.reporting.loo import loo_study_table, study_log_likelihood

    run = open_run(run_dir)
    by_study = study_log_likelihood(run)
    ll = run.idata["log_likelihood"].to_dataset()
    units = run.units
    for s, sid in enumerate(units.studies):
        patients = observed_log_likelihood(ll, "y_patient").values
        strata = observed_log_likelihood(ll, "y_stratum").values
        expected = patients[..., units.pat_study == s].sum(axis=-1) + strata[
            ..., units.agg_study == s
        ].sum(axis=-1)
        np.testing.assert_allclose(by_study.sel(study=sid).values, expected)
    table, line = loo_study_table(run)
    assert line.startswith(f"by study ({len(units.studies)} studies): elpd_loo ")
    for cells in (r["cells"] for r in table["rows"]):
        sid, elpd, k = cells[0], float(cells[3]), float(cells[4])
        if k < 0.5:  # importance sampling is reliable here; PSIS only smooths its tail
            neg = -by_study.sel(study=sid).values.ravel()
            plain = -(np.log(np.mean(np.exp(neg - neg.max()))) + neg.max())
            assert abs(elpd - plain) < 0.05, sid
