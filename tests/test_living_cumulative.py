"""``hlhbayes cumulative``: order of the steps, output, refusals; one compiled model."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from conftest import DATA, SHORT, SHORT_SAMPLER
from hlhbayes import pipeline
from hlhbayes.cli import main
from hlhbayes.living.cumulative import study_order
from hlhbayes.models.spec import load_spec
from table_text import read_table

TABLE = "study,r,n\nS1,23,107\nS2,12,44\nS3,19,51\n"
PNG = b"\x89PNG\r\n\x1a\n"


def run(*args: str | Path):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def table(tmp_path) -> Path:
    path = tmp_path / "table.csv"
    path.write_text(TABLE)
    return path


def _prepared(model: str = "etiology-line", data: Path | None = None) -> pipeline.Prepared:
    return pipeline.prepare(pipeline.FitRequest(spec=load_spec(model), data=data))


def years_in_files(root: Path) -> dict[str, int | None]:
    """Each study's year as its file states it (read without the loader)."""
    return {
        p.stem: yaml.safe_load(p.read_text(encoding="utf-8"))["study"]["year"]
        for p in (root / "studies").glob("*.yaml")
    }


def test_default_order_is_publication_year_then_id():
    prepared = _prepared()
    order = study_order(prepared)
    years = years_in_files(DATA)
    assert sorted(s for s, _ in order) == sorted(prepared.units.studies)
    assert [y for _, y in order] == [years[s] for s, _ in order]
    keys = [(y, s) for s, y in order]
    assert keys == sorted(keys)  # by year, then by id
    assert len({y for y in years.values() if y}) > 3  # the order is not trivial


def test_studies_without_a_year_come_last(data_copy: Path):
    for sid in ("Wohlfarth2019", "Bami2020"):
        path = data_copy / "studies" / f"{sid}.yaml"
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        doc["study"]["year"] = None
        path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    order = study_order(_prepared(data=data_copy))
    assert order[-2:] == [("Bami2020", None), ("Wohlfarth2019", None)]
    dated = [(y, s) for s, y in order[:-2]]
    assert dated == sorted(dated)


def test_order_given_comes_first_and_the_rest_by_year():
    prepared = _prepared()
    order = study_order(prepared, ("Baverez2022", "Sonmez2018"))
    assert [s for s, _ in order][:4] == [
        "Baverez2022",
        "Sonmez2018",
        "PedRheum2008_S13",
        "JClinRheumatol2011_2pts",
    ]
    assert len(order) == len(prepared.units.studies)


def test_a_table_keeps_its_row_order(table):
    assert study_order(_prepared("random-effects", table)) == [
        ("S1", None),
        ("S2", None),
        ("S3", None),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--order", "Nobody2020"], "--order: Nobody2020 not in this analysis; its studies are "),
        (["--order", "Baverez2022,Baverez2022"], "--order: Baverez2022 named more than once"),
        (
            ["--model", "random-effects", "--etiology", "infection"],
            "random-effects has no etiology or line",
        ),
    ],
)
def test_bad_options_fail_before_compiling(tmp_path, args, message):
    out = tmp_path / "cum"
    result = run("cumulative", *args, "--out", out)
    assert result.exit_code == 1
    assert message in result.stderr
    assert not out.exists()


def test_an_existing_output_folder_needs_force(tmp_path):
    out = tmp_path / "cum"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result = run("cumulative", "--out", out)
    assert result.exit_code == 1
    assert (
        result.stderr
        == f"error: {out}: exists; use --force to replace it (or choose another --out)\n"
    )
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


@pytest.mark.sampling
def test_steps_table_files_and_progress(table, tmp_path, reruns_in_the_batch_program):
    out = tmp_path / "cum"
    args = ["cumulative", "--model", "random-effects", "--data", table, *SHORT]
    result = run(*args, "--order", "S3", "--out", out)
    assert result.exit_code in (0, 3), result.output
    header, rows = read_table(result.stdout)
    assert header == [
        "step", "study added", "year", "n", "etiology", "line", "quantity", "mean",
        "95% interval", "converged",
    ]  # fmt: skip
    # a user's table: no years, no etiology or line
    assert [r[:6] for r in rows] == [
        [step, study, "-", step, "-", "-"]
        for step, study in (("1", "S3"), ("2", "S1"), ("3", "S2"))
        for _ in range(2)
    ]
    assert [r[6] for r in rows] == ["rate_typical", "rate_new"] * 3
    assert all(r[-1] in ("yes", "NO") for r in rows)
    lines = result.stdout.splitlines()
    assert lines[-1].startswith("tau by step: 1: ")
    assert len(lines) == 2 + 6 + 1
    err = result.stderr.splitlines()
    steps = [line for line in err if line.startswith("[")]
    for k, (study, n) in enumerate([("S3", "1 study"), ("S1", "2 studies"), ("S2", "3 studies")]):
        assert re.fullmatch(
            rf"\[{k + 1}/3\] \+{study}: {n}, sampled in [\d.]+ s, "
            r"(converged|NOT CONVERGED \(.*\))( \(re-run: .*\))?",
            steps[k],
        )
    sampling = "sampling 3 scenarios x {chains} chains x {draws} draws ({tune} tuning)"
    assert sampling.format(**SHORT_SAMPLER) in result.stderr
    assert f"output folder: {out}" in err
    assert sorted(p.name for p in out.iterdir()) == [
        "cumulative.csv",
        "cumulative.json",
        "cumulative.png",
        "provenance.json",
    ]
    assert (out / "cumulative.png").read_bytes().startswith(PNG)
    records = json.loads((out / "cumulative.json").read_text())
    assert [r["quantity"] for r in records if r["step"] == 1] == [
        "mu",
        "tau",
        "rate_typical",
        "rate_new",
    ]
    assert json.loads((out / "provenance.json").read_text())["order"] == ["S3", "S1", "S2"]
    # the steps differ: each fits its own subset
    means = [r["mean"] for r in records if r["quantity"] == "mu"]
    assert len(set(means)) == 3
    # an existing folder is replaced only with --force (a one-study table: one quick step)
    table.write_text("study,r,n\nS9,5,10\n")
    again = run(*args, "--out", out, "--format", "json", "--quiet")
    assert again.exit_code == 1
    assert json.loads((out / "provenance.json").read_text())["order"] == ["S3", "S1", "S2"]
    forced = run(*args, "--out", out, "--format", "json", "--quiet", "--force")
    assert forced.exit_code in (0, 3)
    payload = json.loads(forced.stdout)
    assert payload["order"] == ["S9"]
    assert payload["out"] == str(out)
    assert json.loads((out / "provenance.json").read_text())["order"] == ["S9"]
    assert sorted(p.name for p in out.parent.iterdir()) == ["cum", "table.csv"]  # no leftovers


@pytest.mark.slow
def test_shipped_base_at_default_settings_ends_where_an_ordinary_fit_does(tmp_path, default_fit):
    """Every step converges; the last step (every weight 1) is the ordinary fit, within MC error."""
    out = tmp_path / "cum"
    settings = ["--etiology", "infection", "--target-accept", "0.95", "--quiet"]
    assert load_spec("etiology-line").sampler["target_accept"] == 0.95  # as the ordinary fit
    result = run("cumulative", *settings, "--out", out)
    # every step passes the gate (a step that fails is run again with a higher target_accept,
    # then also a longer warm-up)
    assert result.exit_code == 0, result.output
    _, rows = read_table(result.stdout)
    assert [r[1] for r in rows[::4]] == [s for s, _ in study_order(_prepared())]
    assert all(r[-1] == "yes" for r in rows)
    fitted, fit_dir = default_fit  # hlhbayes fit --etiology infection (target_accept 0.95)
    assert fitted.exit_code == 0, fitted.output
    ordinary = json.loads((fit_dir / "summary.json").read_text())["summary"]
    last = [r for r in json.loads((out / "cumulative.json").read_text()) if r["step"] == 8]
    key = lambda r: (r["quantity"], r["etiology"], r["line"])  # noqa: E731
    reference = {key(r): r for r in ordinary}
    for r in last:
        ref = reference[key(r)]
        tolerance = 4 * (r["mcse_mean"] ** 2 + ref["mcse_mean"] ** 2) ** 0.5
        assert abs(r["mean"] - ref["mean"]) < tolerance, key(r)
