"""Model specs: defaults < spec file < command line, and every unknown key refused with its place."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import MODELS, REPO
from hlhbayes.errors import HlhBayesError
from hlhbayes.models.spec import (
    DEFAULT_THRESHOLDS,
    SAMPLER_DEFAULTS,
    Threshold,
    command_line_priors,
    default_spec_dir,
    load_spec,
)
from hlhbayes.priors import Prior


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_specs_are_read_from_models(monkeypatch):
    monkeypatch.delenv("HLHBAYES_MODELS", raising=False)
    monkeypatch.chdir(REPO)
    assert default_spec_dir() == MODELS
    spec = load_spec("etiology-line")
    assert spec.source == str(MODELS / "etiology-line.yaml")
    assert spec.priors["alpha"] == Prior("normal", {"mu": 0.0, "sigma": 1.5})
    assert spec.options == {"composition_concentration": 5}
    assert spec.filters.conditions == ("classic_shlh", "mas")
    assert spec.sampler == {**SAMPLER_DEFAULTS, "tune": 500, "target_accept": 0.95}
    assert spec.to_dict()["filters"]["exclude_studies"] == []


def test_defaults_then_spec_file_then_command_line(tmp_path, monkeypatch):
    monkeypatch.setenv("HLHBAYES_MODELS", str(tmp_path))
    assert load_spec("random-effects").source is None  # no file: the built-in defaults
    write(
        tmp_path,
        "random-effects",
        "priors:\n  tau: {family: halfcauchy, beta: 0.5}\nfilters:\n  outcome: death\n"
        "sampler:\n  draws: 200\n",
    )
    spec = load_spec("random-effects")
    assert spec.source == str(tmp_path / "random-effects.yaml")
    assert spec.priors == {
        "mu": Prior("normal", {"mu": 0.0, "sigma": 1.5}),  # built-in
        "tau": Prior("halfcauchy", {"beta": 0.5}),  # the file
    }
    assert (spec.filters.outcome, spec.sampler["draws"], spec.sampler["chains"]) == (
        "death",
        200,
        4,
    )
    line = load_spec(
        "random-effects",
        prior_overrides={"tau": Prior("halfnormal", {"sigma": 2.0})},
        filter_overrides={"outcome": "response", "population": None},
        sampler_overrides={"draws": 50, "tune": None},
    )
    assert line.priors["tau"] == Prior("halfnormal", {"sigma": 2.0})
    assert (line.filters.outcome, line.filters.population) == ("response", "all")
    assert (line.sampler["draws"], line.sampler["tune"]) == (50, 500)  # None keeps the spec's


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("prior: {}\n", "unknown keys ['prior']; valid: ['filters', 'model', 'options', "),
        ("model: etiology-line\n", "spec is for model 'etiology-line', not 'random-effects'"),
        (
            "priors:\n  sigma: {family: halfnormal, sigma: 1}\n",
            "unknown prior 'sigma' (model spec)",
        ),
        (
            "options:\n  concentration: 3\n",
            "unknown option 'concentration' (spec) for model random-effects",
        ),
        ("filters:\n  outcomes: death\n", "unknown filter 'outcomes' (spec); valid: "),
        ("sampler:\n  warmup: 10\n", "unknown sampler setting 'warmup' (spec)"),
        ("priors: [\n", "cannot read model spec: "),
    ],
)
def test_a_bad_spec_file_is_refused_naming_the_file(tmp_path, text, message):
    path = write(tmp_path, "re", text)
    with pytest.raises(HlhBayesError) as info:
        load_spec("random-effects", path)
    assert message in str(info.value)
    if "cannot read" in message or "unknown keys" in message or "spec is for" in message:
        assert str(info.value).startswith(f"{path}: ")


def test_command_line_priors_name_the_model_s_location_parameter():
    assert command_line_priors("etiology-line", (), 0.5, None) == {
        "alpha": Prior("normal", {"mu": 0.5, "sigma": 1.5})
    }
    assert command_line_priors("random-effects", (), None, 2.0, "halfcauchy:1") == {
        "mu": Prior("normal", {"mu": 0.0, "sigma": 2.0}),
        "tau": Prior("halfcauchy", {"beta": 1.0}),
    }
    assert command_line_priors("etiology-line", ("gamma=normal:0,0.5",)) == {
        "gamma": Prior("normal", {"mu": 0.0, "sigma": 0.5})
    }
    with pytest.raises(HlhBayesError, match="--prior 'tau': use NAME=FAMILY:PARAMS"):
        command_line_priors("etiology-line", ("tau",))


def test_thresholds_come_from_the_spec_each_with_its_reason(tmp_path, monkeypatch):
    monkeypatch.delenv("HLHBAYES_MODELS", raising=False)
    monkeypatch.chdir(REPO)
    shipped = load_spec("etiology-line")
    assert shipped.threshold_values() == (0.5, 0.75)
    assert all(t.reason for t in shipped.thresholds)
    assert shipped.to_dict()["thresholds"][1] == shipped.thresholds[1].to_dict()
    monkeypatch.setenv("HLHBAYES_MODELS", str(tmp_path))
    write(tmp_path, "etiology-line", "model: etiology-line\n")
    assert load_spec("etiology-line").thresholds == DEFAULT_THRESHOLDS
    write(
        tmp_path,
        "etiology-line",
        "thresholds:\n  - {value: 0.6, reason: '  better   than\n    a coin '}\n",
    )
    assert load_spec("etiology-line").thresholds == (Threshold(0.6, "better than a coin"),)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("thresholds: 0.5\n", "give a list of 1 to 4 items"),
        ("thresholds: []\n", "give a list of 1 to 4 items"),
        ("thresholds:\n  - {value: 0.5}\n", "thresholds item 1: give exactly value and reason"),
        ("thresholds:\n  - {value: 1, reason: all}\n", "item 1: value must be a rate strictly"),
        ("thresholds:\n  - {value: true, reason: x}\n", "item 1: value must be a rate strictly"),
        ("thresholds:\n  - {value: 0.5, reason: ''}\n", "item 1: reason must be one line"),
        (
            "thresholds:\n  - {value: 0.5, reason: a}\n  - {value: 0.5, reason: b}\n",
            "a value is given twice",
        ),
    ],
)
def test_a_threshold_without_a_rate_or_a_reason_is_refused(tmp_path, monkeypatch, text, message):
    monkeypatch.setenv("HLHBAYES_MODELS", str(tmp_path))
    path = write(tmp_path, "etiology-line", text)
    with pytest.raises(HlhBayesError, match="thresholds") as info:
        load_spec("etiology-line")
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


@pytest.mark.parametrize("name", ["etiology-line", "random-effects"])
def test_the_provenance_form_is_json_that_gives_back_the_spec(name, monkeypatch):
    monkeypatch.delenv("HLHBAYES_MODELS", raising=False)
    monkeypatch.chdir(REPO)
    spec = load_spec(name, prior_overrides=command_line_priors(name, (), None, 2.5))
    record = json.loads(json.dumps(spec.to_dict()))
    assert record["model"] == name
    assert record["source"] == str(MODELS / f"{name}.yaml")
    assert {k: Prior.from_dict(v) for k, v in record["priors"].items()} == spec.priors
    assert record["options"] == spec.options and record["sampler"] == spec.sampler
    assert record["filters"] == spec.filters.to_dict()
    assert tuple(Threshold(**t) for t in record["thresholds"]) == spec.thresholds
