"""What the engine needs from a model, and the sampler settings.

The contract for a model the engine compiles:

* ``build()`` returns a ``pm.Model``. It is called only when no compiled program fits (the
  first fit of this structure), so it may be slow and may import PyMC.
* **Everything that varies between fits of the same structure is a** ``pm.Data`` **container**
  (named, with dims): counts, compositions, index arrays, likelihood weights, prior scales,
  the centres of latent-composition priors. The engine passes them to the compiled program as
  arguments; ``build()`` may fill them with any values of the right shape and dtype.
* **Everything else is structure** and must be described by ``structure`` (a JSON-serialisable
  dict: model name, prior families, option values that change the graph, which units have a
  latent composition, ...). Two calls of ``build()`` whose ``structure`` and data shapes agree
  must give the same graph up to the values of the ``pm.Data`` containers: the engine cannot
  see constants baked into the graph, and would serve the program compiled for the first.
* ``source`` fingerprints the code that builds the model (see
  :func:`hlhbayes.engine.fingerprint.source_fingerprint`): editing it changes the programs.
* Every free variable has a deterministic initial point (PyMC's support point, or an
  ``initval``); it may depend on the data.
* Data arrays are passed to the engine by name, with the padded shapes of the program
  (:mod:`hlhbayes.engine.buckets`); integer data may be passed as int64 even though PyMC
  stores it as int32 (the engine casts, and refuses values that do not fit).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hlhbayes.engine.program import StaticSettings


@dataclass(frozen=True)
class CompiledModel:
    """A model the engine can compile: see the module docstring for the contract."""

    name: str
    build: Callable[[], Any]
    structure: Mapping[str, Any]
    source: str

    def __post_init__(self) -> None:
        if not self.source:
            raise ValueError(
                f"model {self.name}: give the fingerprint of the code that builds it (source), "
                "so that editing that code cannot leave an old program in use"
            )

    def key_payload(self) -> dict[str, Any]:
        """The part of every cache key that describes the model."""
        return {"name": self.name, "structure": dict(self.structure), "source": self.source}


@dataclass(frozen=True)
class SamplerSettings:
    """NUTS settings: ``chains`` x ``draws`` after ``tune`` warm-up iterations.

    ``chains``, ``draws``, ``tune`` and ``max_tree_depth`` shape the compiled program (they are
    part of its key); ``target_accept`` is an argument of the program.
    """

    chains: int = 4
    draws: int = 1000
    tune: int = 500
    target_accept: float = 0.95
    max_tree_depth: int = 10

    def __post_init__(self) -> None:
        if self.chains < 1 or self.draws < 1 or self.tune < 0 or self.max_tree_depth < 1:
            raise ValueError(
                "chains and draws must be >= 1, tune >= 0 and max_tree_depth >= 1; "
                f"got {self.chains}, {self.draws}, {self.tune}, {self.max_tree_depth}"
            )
        if not 0 < self.target_accept < 1:
            raise ValueError(f"target_accept must lie in (0, 1), got {self.target_accept}")

    def static(self) -> StaticSettings:
        """The settings that are part of the program."""
        return StaticSettings(self.chains, self.draws, self.tune, self.max_tree_depth)
