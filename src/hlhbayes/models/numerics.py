"""Compiled arithmetic that does not depend on the state of the compile cache.

PyTensor compiles models with Numba, by default with LLVM fast-math flags (reassociation,
contraction into fused multiply-adds, approximate functions). With them, a function compiled
afresh (empty cache) and the same function loaded from the cache differ in the last bits
(measured: log-densities 1e-13 apart), and NUTS amplifies that into different chains: the first
fit on a machine would not reproduce later fits with the same seed. Strict IEEE arithmetic
removes the difference; its cost per gradient is small next to NUTS' own per-step overhead.
"""

from __future__ import annotations


def use_strict_numerics() -> None:
    """Compile every later PyTensor function without fast-math flags (idempotent)."""
    import pytensor

    pytensor.config.numba__fastmath = False
