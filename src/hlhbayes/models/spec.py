"""Declarative model specs (``models/<name>.yaml``): priors, options, filters, sampler, thresholds.

The thresholds are the rates a report states P(rate > threshold) for, each with its reason.

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

SPEC_KEYS = {"model", "priors", "options", "filters", "sampler", "thresholds"}
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
THRESHOLD_KEYS = {"value", "reason"}
MAX_THRESHOLDS = 4


@dataclass(frozen=True)
class Threshold:
    """A rate a panel compares the estimate with, and why that rate matters clinically."""

    value: float
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """``{"value": ..., "reason": ...}``."""
        return {"value": self.value, "reason": self.reason}


DEFAULT_THRESHOLDS = (
    Threshold(0.5, "more patients respond than not (for death: more die than survive)"),
)
"""Used when neither the spec nor the command line names a threshold."""


@dataclass(frozen=True)
class Spec:
    """A fully merged model specification."""

    model: str
    priors: dict[str, Prior]
    options: dict[str, Any]
    filters: Filters
    sampler: dict[str, Any] = field(default_factory=dict)
    source: str | None = None
    thresholds: tuple[Threshold, ...] = DEFAULT_THRESHOLDS

    def threshold_values(self) -> tuple[float, ...]:
        """The spec's thresholds, in its order."""
        return tuple(t.value for t in self.thresholds)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Spec:
        """The spec as :meth:`to_dict` recorded it (a run's provenance), merged already."""
        thresholds = tuple(
            Threshold(float(t["value"]), str(t["reason"])) for t in data.get("thresholds") or ()
        )
        return cls(
            model=str(data["model"]),
            priors={name: Prior.from_dict(p) for name, p in data["priors"].items()},
            options=dict(data.get("options") or {}),
            filters=Filters.from_dict(data["filters"]),
            sampler=dict(data.get("sampler") or {}),
            source=data.get("source"),
            thresholds=thresholds or DEFAULT_THRESHOLDS,
        )

    def to_dict(self) -> dict[str, Any]:
        """Serialisable form (for provenance and reports)."""
        return {
            "model": self.model,
            "priors": {k: p.to_dict() for k, p in self.priors.items()},
            "options": self.options,
            "filters": self.filters.to_dict(),
            "sampler": self.sampler,
            "source": self.source,
            "thresholds": [t.to_dict() for t in self.thresholds],
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
    thresholds = parse_thresholds(raw.get("thresholds"), path) or DEFAULT_THRESHOLDS
    return Spec(name, priors, options, filters, sampler, str(path) if raw else None, thresholds)


def parse_thresholds(raw: Any, path: Path) -> tuple[Threshold, ...]:
    """The ``thresholds:`` list of a spec: ``- {value: 0.5, reason: ...}``, each reason stated.

    A threshold without a reason is refused: a probability of exceeding a rate tells a panel
    something only when it is said why that rate matters.
    """
    if raw is None:
        return ()
    if not isinstance(raw, list) or not raw or len(raw) > MAX_THRESHOLDS:
        raise HlhBayesError(
            f"{path}: thresholds: give a list of 1 to {MAX_THRESHOLDS} items "
            "{value: RATE, reason: WHY THAT RATE MATTERS}"
        )
    out = []
    for i, item in enumerate(raw, start=1):
        where = f"{path}: thresholds item {i}"
        if not isinstance(item, dict) or set(item) != THRESHOLD_KEYS:
            raise HlhBayesError(f"{where}: give exactly value and reason")
        value, reason = item["value"], item["reason"]
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
            raise HlhBayesError(f"{where}: value must be a rate strictly between 0 and 1")
        if not isinstance(reason, str) or not reason.strip() or "\n" in reason.strip():
            raise HlhBayesError(f"{where}: reason must be one line of text")
        out.append(Threshold(float(value), " ".join(reason.split())))
    if len({t.value for t in out}) != len(out):
        raise HlhBayesError(f"{path}: thresholds: a value is given twice")
    return tuple(out)


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
