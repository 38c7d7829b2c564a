"""The command line meets a user's slips halfway, and gives scripts every result as data."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner

from hlhbayes.cli import main
from hlhbayes.suggest import closest, did_you_mean


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_closest_names() -> None:
    assert closest("infectoin", ["infection", "malignancy"]) == ["infection"]
    assert closest("BAVEREZ2022", ["Baverez2022", "Bami2020"]) == ["Baverez2022"]
    assert closest("infect", ["infection", "malignancy"]) == ["infection"]  # a prefix
    assert closest("zzz", ["infection", "malignancy"]) == []
    assert did_you_mean("fitt", ["fit", "report"]) == "did you mean 'fit'?"
    assert did_you_mean("zzz", ["fit"]) == ""


def test_an_unknown_command_gets_a_suggestion() -> None:
    result = run("fitt")
    assert result.exit_code == 2
    assert "No such command 'fitt'. Did you mean 'fit'?" in result.stderr
    result = run("data", "shw")
    assert "Did you mean 'show'?" in result.stderr


def test_an_unknown_study_gets_a_suggestion() -> None:
    result = run("data", "show", "baverez2022")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "error: unknown study 'baverez2022' (did you mean 'Baverez2022'?); known: "
    )


def test_choices_ignore_case_and_suggest() -> None:
    result = run("fit", "--etiology", "infectoin", "--dry-run")
    assert result.exit_code == 2
    assert "'infectoin' is not one of 'infection'," in result.stderr
    assert "Did you mean 'infection'?" in result.stderr
    shown = run("data", "list", "--format", "CSV")
    assert shown.exit_code == 0 and shown.stdout.startswith("study,year,")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["fit", "--threshold", "70", "--dry-run"],
            "70 is not between 0 and 1; a percentage? did you mean 0.70?",
        ),
        (
            ["design", "oc", "--prior", "beta:1,1", "--p0", "60", "--prob", "0.9"],
            "60 is not between 0 and 1; a percentage? did you mean 0.60?",
        ),
        (
            ["design", "oc", "--prior", "beta:1,1", "--p0", "0.3", "--prob", "95"],
            "did you mean 0.95?",
        ),
        (["fit", "--threshold", "-0.1", "--dry-run"], "-0.1 is not between 0 and 1."),
    ],
)
def test_a_percentage_where_a_probability_belongs(args, message) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_record_commands_write_csv_as_field_value_rows(tmp_path) -> None:
    rows = list(
        csv.DictReader(io.StringIO(run("describe", "Baverez2022", "--format", "csv").stdout))
    )
    by_field = {r["field"]: r["value"] for r in rows}
    assert by_field["study"] == "Baverez2022" and by_field["n"] == "21"
    ess = list(
        csv.DictReader(
            io.StringIO(run("design", "ess", "--prior", "beta:10,10", "--format", "csv").stdout)
        )
    )
    assert {r["field"] for r in ess} >= {"elir", "moment", "morita"}
    assert float(next(r["value"] for r in ess if r["field"] == "moment")) == pytest.approx(20)


def test_a_dry_run_prints_json_for_scripts() -> None:
    result = run(
        "fit", "--model", "random-effects", "--method", "exact", "--dry-run", "--format", "json"
    )
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["dry_run"] is True and payload["model"] == "random-effects"
    assert payload["dims"]["study"] == 8 and payload["filters"]["outcome"] == "response"
    assert set(payload["priors"]) == {"mu", "tau"}
