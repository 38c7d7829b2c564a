"""Building a model switches PyTensor to strict arithmetic (see hlhbayes.models.numerics)."""

from __future__ import annotations

import pytensor

from hlhbayes.evidence import load_evidence
from hlhbayes.models import MODELS
from hlhbayes.models.spec import load_spec
from hlhbayes.models.table import units_by_study
from hlhbayes.models.units import Filters, build_units


def test_every_model_builds_with_fast_math_off(monkeypatch):
    base = load_evidence()
    for name, module in MODELS.items():
        monkeypatch.setattr(pytensor.config, "numba__fastmath", True)
        spec = load_spec(name)
        by_study = name == "random-effects"
        units = units_by_study(base, spec.filters) if by_study else build_units(base, Filters())
        module.build(units, spec.priors, spec.options)
        assert pytensor.config.numba__fastmath is False, name
