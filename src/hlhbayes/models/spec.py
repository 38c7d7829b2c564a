"""Declarative model specs (``models/<name>.yaml``): priors, options, default filters, sampler.

Merge order, stated once: the model's built-in defaults, then the spec file, then the command
line. Unknown keys and unknown prior names are errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hlhbayes.errors import HlhBayesError
from hlhbayes.evidence.yaml_input import YamlInputError, load_yaml
from hlhbayes.inputs import read_text_input
from hlhbayes.models import get_model
from hlhbayes.models.units import Filters
from hlhbayes.priors import Prior, merge_priors
from hlhbayes.quoting import quoted
from hlhbayes.workspace import models_source

SPEC_KEYS = {"model", "priors", "options", "filters", "sampler"}
SAMPLER_DEFAULTS: dict[str, Any] = {
    "chains": 4,
    "draws": 1000,
    "tune": 500,
    "target_accept": 0.95,
    "sampler": "compiled",
}
FILTER_KEYS = {
    "outcome",
    "population",
    "conditions",
    "exclude_studies",
    "exclude_derived",
    "death_timeframes",
    "include_after_anakinra_failure",
}


@dataclass(frozen=True)
class Spec:
    """A fully merged model specification."""

    model: str
    priors: dict[str, Prior]
    options: dict[str, Any]
    filters: Filters
    sampler: dict[str, Any] = field(default_factory=dict)
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Serialisable form (for provenance and reports)."""
        return {
            "model": self.model,
            "priors": {k: p.to_dict() for k, p in self.priors.items()},
            "options": self.options,
            "filters": self.filters.to_dict(),
            "sampler": self.sampler,
            "source": self.source,
        }


def default_spec_dir() -> Path:
    """``$HLHBAYES_MODELS`` if set, else the workspace's ``models/``, else the shipped specs."""
    return models_source().path


def load_spec(
    name: str,
    spec_path: Path | None = None,
    prior_overrides: dict[str, Prior] | None = None,
    option_overrides: dict[str, Any] | None = None,
    filter_overrides: dict[str, Any] | None = None,
    sampler_overrides: dict[str, Any] | None = None,
) -> Spec:
    """Merge built-in defaults, the spec file (if any) and overrides into one :class:`Spec`."""
    model = get_model(name)
    path = spec_path or default_spec_dir() / f"{name}.yaml"
    raw: dict[str, Any] = {}
    if spec_path is not None or path.exists():
        try:
            raw = load_yaml(read_text_input(path)) or {}
        except YamlInputError as exc:
            where = ": ".join(p for p in (str(path), exc.row, exc.field) if p)
            raise HlhBayesError(f"{where}: cannot read model spec: {exc.message}") from None
        unknown = set(raw) - SPEC_KEYS
        if unknown:
            raise HlhBayesError(
                f"{path}: unknown keys {sorted(unknown)}; valid: {sorted(SPEC_KEYS)}"
            )
        if raw.get("model", name) != name:
            raise HlhBayesError(
                f"{path}: spec is for model {quoted(raw['model'])}, not {quoted(name)}"
            )
    try:
        spec_priors = {k: Prior.from_dict(v) for k, v in (raw.get("priors") or {}).items()}
        priors = merge_priors(dict(model.default_priors), spec_priors, prior_overrides)
    except HlhBayesError as exc:
        raise HlhBayesError(f"{path}: {exc}") from None

    options = dict(model.default_options)
    for source, layer in (("spec", raw.get("options") or {}), ("command line", option_overrides)):
        for key, value in (layer or {}).items():
            if key not in model.default_options:
                raise HlhBayesError(f"unknown option {quoted(key)} ({source}) for model {name}")
            options[key] = value

    filter_values: dict[str, Any] = {}
    for source, layer in (("spec", raw.get("filters") or {}), ("command line", filter_overrides)):
        for key, value in (layer or {}).items():
            if key not in FILTER_KEYS:
                raise HlhBayesError(
                    f"unknown filter {quoted(key)} ({source}); valid: {sorted(FILTER_KEYS)}"
                )
            if value is not None:
                filter_values[key] = value
    filters = replace(
        Filters(),
        **{k: tuple(v) if isinstance(v, list | tuple) else v for k, v in filter_values.items()},
    )

    sampler = dict(SAMPLER_DEFAULTS)
    for source, layer in (("spec", raw.get("sampler") or {}), ("command line", sampler_overrides)):
        for key, value in (layer or {}).items():
            if key not in SAMPLER_DEFAULTS and key != "seed":
                raise HlhBayesError(f"unknown sampler setting {quoted(key)} ({source})")
            if value is not None:
                sampler[key] = value
    return Spec(name, priors, options, filters, sampler, str(path) if raw else None)


def command_line_priors(
    model: str,
    assignments: tuple[str, ...] | list[str] = (),
    location_mean: float | None = None,
    location_sd: float | None = None,
    tau: str | None = None,
) -> dict[str, Prior]:
    """The priors given on the command line, by parameter (the last layer of the merge).

    ``assignments``: ``NAME=FAMILY:PARAMS`` (``--prior``, e.g. ``tau=halfcauchy:0.5``);
    ``location_mean`` / ``location_sd``: the normal prior on the model's location parameter
    (``--prior-mu-mean`` / ``--prior-mu-sd``; the other keeps its default 0 or 1.5); ``tau``:
    ``FAMILY:PARAMS`` for the heterogeneity (``--prior-tau``).
    """
    priors = {}
    for text in assignments:
        name, sep, rest = text.partition("=")
        if not sep:
            raise HlhBayesError(
                f"--prior {quoted(text)}: use NAME=FAMILY:PARAMS, e.g. tau=halfnormal:0.5"
            )
        priors[name.strip()] = Prior.parse(rest)
    if location_mean is not None or location_sd is not None:
        priors[get_model(model).location_prior] = Prior(
            "normal",
            {
                "mu": location_mean if location_mean is not None else 0.0,
                "sigma": location_sd if location_sd is not None else 1.5,
            },
        )
    if tau:
        priors["tau"] = Prior.parse(tau)
    return priors
