"""Model registry: every module of this package that defines ``MODEL`` is a model.

A model is one module here, whose ``MODEL`` satisfies
:class:`~hlhbayes.models.base.ModelDefinition`, and (optionally) one spec file
``shipped/models/<name>.yaml`` (copied into a workspace's ``models/``); the registry finds it, and nothing else needs to change. A model defined
elsewhere (a script, a test) joins with :func:`register`. Callers look a model up with
:func:`get_model` and ask it what they need; none tests a model's name.
"""

from __future__ import annotations

import importlib
import pkgutil

from hlhbayes.errors import HlhBayesError
from hlhbayes.models.base import MEMBERS, ModelDefinition
from hlhbayes.models.units import MODEL_ETIOLOGIES, MODEL_LINES
from hlhbayes.quoting import quoted

DEFAULT_MODEL = "etiology-line"
MODELS: dict[str, ModelDefinition] = {}
"""Name -> model, in the order the registry found them."""

Cell = tuple[str | None, str | None]


def register(model: ModelDefinition) -> ModelDefinition:
    """Add ``model`` to :data:`MODELS` (under its name) and return it.

    Raises ``TypeError`` for an object that lacks part of :class:`ModelDefinition`.
    """
    missing = [name for name in MEMBERS if not hasattr(model, name)]
    if missing:
        raise TypeError(f"{model!r} is not a model definition: it lacks {', '.join(missing)}")
    MODELS[model.name] = model
    return model


def get_model(name: str) -> ModelDefinition:
    """The model called ``name``; the error lists the valid names."""
    try:
        return MODELS[name]
    except KeyError:
        raise HlhBayesError(f"unknown model {quoted(name)}; valid: {', '.join(MODELS)}") from None


def select_cells(
    model: ModelDefinition,
    etiologies: tuple[str, ...] | list[str] = (),
    lines: tuple[str, ...] | list[str] = (),
    default: tuple[tuple[str, ...], tuple[str, ...]] = (MODEL_ETIOLOGIES, MODEL_LINES),
) -> list[Cell]:
    """The etiology x line cells asked for (``default`` when none are), in the order given.

    A model without cells has the one cell ``(None, None)``, and asking it for an etiology or a
    line is an error.
    """
    if not model.has_cells:
        if etiologies or lines:
            with_cells = ", ".join(name for name, m in MODELS.items() if m.has_cells)
            raise HlhBayesError(f"{model.name} has no etiology or line; use --model {with_cells}")
        return [(None, None)]
    return [(e, ln) for e in (etiologies or default[0]) for ln in (lines or default[1])]


def _discover() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        model = getattr(module, "MODEL", None)
        if model is not None:
            register(model)


_discover()

__all__ = ["DEFAULT_MODEL", "MODELS", "ModelDefinition", "get_model", "register", "select_cells"]
