"""Numerics: strict compiled arithmetic (hlhbayes.models.numerics)."""

from __future__ import annotations

import pytensor

from hlhbayes.evidence import load_evidence
from hlhbayes.models import MODELS
from hlhbayes.models.spec import load_spec


def test_every_model_builds_with_fast_math_off(monkeypatch):
    base = load_evidence()
    for name, module in MODELS.items():
        monkeypatch.setattr(pytensor.config, "numba__fastmath", True)
        spec = load_spec(name)
        units = module.units(base, spec.filters)
        module.build(units, spec.priors, spec.options)
        assert pytensor.config.numba__fastmath is False, name
