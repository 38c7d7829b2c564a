"""The rank plots' uniformity test, and a verdict that says how it squares with the gate.

If all chains sample the same posterior, the ranks of each chain's draws among all draws are
uniform. ArviZ's multi-chain test (``mchain_uniformity_test``, Säilynoja et al. 2022; Tesso and
Vehtari 2026) gives one p-value per parameter, the one the rank figure prints. The convergence
gate (:mod:`hlhbayes.summary`) looks at other things: rank-normalised split R-hat, bulk ESS and
divergent transitions, each summarising whole chains. The two can disagree: the rank test looks
at every part of the distribution and can flag a region the chains visit unevenly while their
summaries agree; and with k parameters each tested at level alpha, about k * alpha flags are
expected by chance alone. :func:`rank_note` says which, in words, so that the report never
shows a flagged rank plot beside a passed gate without an explanation.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

RANK_LEVEL = 0.01
"""Level of each parameter's rank uniformity test (ArviZ's default envelope, 99%)."""

SAMPLE_DIMS = ["chain", "draw"]


@dataclass(frozen=True)
class RankTest:
    """One parameter's test: p-value, and the range of its values where the chains differ most."""

    name: str
    p_value: float
    level: float
    region: tuple[float, float] | None  # parameter values of the suspicious ranks, if flagged

    @property
    def flagged(self) -> bool:
        """Uniformity rejected at the test's level."""
        return self.p_value < self.level


@dataclass(frozen=True)
class RankCheck:
    """The rank tests of several parameters, each at ``level``."""

    level: float
    tests: list[RankTest]

    @property
    def flagged(self) -> list[RankTest]:
        """The tests that reject uniformity."""
        return [t for t in self.tests if t.flagged]

    @property
    def expected_by_chance(self) -> float:
        """The number of flags expected when every chain samples the posterior: k * level."""
        return self.level * len(self.tests)

    @property
    def bonferroni(self) -> float:
        """The level that keeps the chance of any false flag at ``level``: level / k."""
        return self.level / max(1, len(self.tests))


def rank_check(posterior: xr.Dataset, names: list[str], level: float = RANK_LEVEL) -> RankCheck:
    """The multi-chain rank uniformity test of each (scalar) parameter in ``names``."""
    import arviz_stats  # noqa: F401  (registers the .azstats accessor)

    ds = posterior[list(names)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ranks = ds.azstats.compute_ranks(dim=SAMPLE_DIMS, relative=True)
        p_values, between, within = ranks.azstats.mchain_uniformity_test(dim=SAMPLE_DIMS)
    tests = []
    for name in names:
        p = float(p_values[name])
        region = None
        if p < level:
            # the draws the test singles out (as the figure highlights them), as parameter values
            suspicious = (np.asarray(between[name]) > 0).any(axis=-1) & (
                np.asarray(within[name]) > 0
            )
            n_draws = suspicious.shape[0]
            where = np.flatnonzero(suspicious)
            if where.size:
                z = (where[[0, -1]] + 1) / (n_draws + 1)
                lo, hi = np.quantile(np.asarray(ds[name].values).ravel(), z)
                region = (float(lo), float(hi))
        tests.append(RankTest(name, p, level, region))
    return RankCheck(level, tests)


def rank_note(check: RankCheck, converged: bool, diagnostics: dict[str, dict[str, Any]]) -> str:
    """How the rank tests and the convergence gate agree, or why they do not, in words.

    ``diagnostics``: per parameter its ``r_hat`` and ``ess_bulk`` as the gate saw them (the
    records of ``summary.json``).
    """
    k = len(check.tests)
    names = ", ".join(t.name for t in check.tests)
    head = (
        f"Rank plots: each of the {k} hyperparameters ({names}) is tested for uniform ranks "
        f"across chains at level α = {check.level:g}; with {k} tests, "
        f"{check.expected_by_chance:.2g} false flags are expected by chance alone."
    )
    flagged = check.flagged
    if not flagged:
        if converged:
            return f"{head} No parameter is flagged, in agreement with the convergence gate."
        return (
            f"{head} No parameter is flagged, but the convergence gate fails (see the banner): "
            "the gate decides, and it also covers every parameter the rank plots do not show."
        )
    which = "; ".join(_flag(t) for t in flagged)
    if not converged:
        return (
            f"{head} Flagged: {which}. The convergence gate fails as well (see the banner): "
            "the chains have not mixed."
        )
    stats = "; ".join(_gate_values(t.name, diagnostics) for t in flagged)
    chance = [t for t in flagged if t.p_value >= check.bonferroni]
    beyond = [t for t in flagged if t.p_value < check.bonferroni]
    parts = [
        f"{head} Flagged: {which}.",
        f"The convergence gate still passes: it checks rank-normalised split R-hat, bulk ESS and "
        f"divergent transitions, which summarise whole chains ({stats}); the rank test looks at "
        "every part of the distribution, and can flag a region that the chains visit unevenly "
        "while their summaries agree.",
    ]
    if chance:
        parts.append(
            f"{_names(chance)} {'is' if len(chance) == 1 else 'are'} above the Bonferroni level "
            f"α/k = {check.bonferroni:.2g}: compatible with a chance flag among {k} tests."
        )
    if beyond:
        parts.append(
            f"{_names(beyond)} {'is' if len(beyond) == 1 else 'are'} below the Bonferroni level "
            f"α/k = {check.bonferroni:.2g}, so chance alone is an unlikely explanation: before "
            "relying on the tails of the estimates, refit with more draws (e.g. --draws 4000) or "
            "another --seed and check that the flag goes away."
        )
    return " ".join(parts)


def _flag(test: RankTest) -> str:
    p = "< 0.001" if test.p_value < 0.001 else f"= {test.p_value:.3f}"
    where = (
        f", the chains differing most where {test.name} lies between "
        f"{test.region[0]:.3g} and {test.region[1]:.3g}"
        if test.region
        else ""
    )
    return f"{test.name} (p {p}{where})"


def _gate_values(name: str, diagnostics: dict[str, dict[str, Any]]) -> str:
    d = diagnostics.get(name) or {}
    if d.get("r_hat") is None or d.get("ess_bulk") is None:
        return f"{name}: not recorded"
    return f"{name}: R-hat {d['r_hat']:.3f}, bulk ESS {d['ess_bulk']:.0f}"


def _names(tests: list[RankTest]) -> str:
    return ", ".join(t.name for t in tests)
