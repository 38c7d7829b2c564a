"""hlhbayes: Bayesian evidence synthesis for anakinra in secondary HLH.

The Python API (:mod:`hlhbayes.api`)::

    import hlhbayes

    fit = hlhbayes.fit(etiology="infection", seed=1)
    fit.summary()                   # 95 % equal-tailed intervals
    hlhbayes.design.map_prior(fit.draws("rate_new", "infection", "first"))

Its names are imported on first use, so ``import hlhbayes`` stays cheap (no PyMC, no ArviZ).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from hlhbayes import design
    from hlhbayes.api import INTERVAL, ConvergenceWarning, Fit, fit, load_evidence

_API = ("INTERVAL", "ConvergenceWarning", "Fit", "fit", "load_evidence")

__all__ = ["INTERVAL", "ConvergenceWarning", "Fit", "__version__", "design", "fit", "load_evidence"]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module("hlhbayes.api"), name)
    if name == "design":
        return importlib.import_module("hlhbayes.design")
    raise AttributeError(f"module 'hlhbayes' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
