"""Model registry.

Each model is a module with NAME, DEFAULT_PRIORS, DEFAULT_OPTIONS, HYPERPARAMETERS, OBSERVED,
``build``, ``quantities`` and ``unit_probabilities``.
"""

from __future__ import annotations

from types import ModuleType

from hlhbayes.models import etiology_line, random_effects
from hlhbayes.quoting import quoted

MODELS: dict[str, ModuleType] = {
    etiology_line.NAME: etiology_line,
    random_effects.NAME: random_effects,
}
DEFAULT_MODEL = etiology_line.NAME


def get_model(name: str) -> ModuleType:
    """The model called ``name``; the error lists the valid names."""
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {quoted(name)}; valid: {', '.join(MODELS)}") from None
