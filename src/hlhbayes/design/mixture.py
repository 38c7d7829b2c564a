r"""Mixtures of beta distributions: the form every prior takes in trial design.

A beta mixture with weights :math:`w_k` (summing to one) and shapes :math:`(a_k, b_k)` has

.. math::

    \pi(p) = \sum_k w_k \operatorname{Beta}(p \mid a_k, b_k), \qquad
    E[p] = \sum_k w_k \frac{a_k}{a_k + b_k}, \qquad
    E[p^2] = \sum_k w_k \frac{a_k (a_k + 1)}{(a_k + b_k)(a_k + b_k + 1)} .

It is conjugate to the binomial: after :math:`y` responders out of :math:`n`,

.. math::

    \pi(p \mid y) = \sum_k w_k' \operatorname{Beta}(p \mid a_k + y, b_k + n - y), \qquad
    w_k' \propto w_k \frac{B(a_k + y, b_k + n - y)}{B(a_k, b_k)},

and the prior predictive of :math:`y` is the matching mixture of beta-binomials,
:math:`m(y) = \sum_k w_k \binom{n}{y} B(a_k + y, b_k + n - y) / B(a_k, b_k)`.

Prior files are JSON lists ``[{"w": ..., "a": ..., "b": ...}, ...]`` (the format of RBesT's
``mixbeta`` columns). :func:`load_prior` also accepts the inline forms ``beta:A,B`` and
``mix:W,A,B+W,A,B+...`` so that a vague prior needs no file.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from hlhbayes.atomic import write_json
from hlhbayes.errors import HlhBayesError
from hlhbayes.inputs import InputFileError, read_text_input

FloatArray = NDArray[np.float64]

WEIGHT_SUM_TOLERANCE = 1e-3
"""Weights in a prior file may sum to 1 within this (rounded figures); they are then rescaled."""

_FIELDS = ("w", "a", "b")


class PriorFileError(HlhBayesError):
    """A prior file or inline prior that cannot be used; the message names the file and field."""


@dataclass(frozen=True, eq=False)
class BetaMixture:
    r"""A mixture of beta distributions :math:`\sum_k w_k \operatorname{Beta}(a_k, b_k)`.

    Parameters
    ----------
    weights, a, b
        Component weights (non-negative, summing to one within ``1e-3``; rescaled to sum to
        exactly one) and shape parameters (positive, finite).
    """

    weights: FloatArray
    a: FloatArray
    b: FloatArray

    def __post_init__(self) -> None:
        # copies: the arrays are frozen below, and the caller's must not be
        w = np.atleast_1d(np.array(self.weights, dtype=float))
        a = np.atleast_1d(np.array(self.a, dtype=float))
        b = np.atleast_1d(np.array(self.b, dtype=float))
        if not (w.ndim == a.ndim == b.ndim == 1) or not (w.size == a.size == b.size):
            raise HlhBayesError("beta mixture: weights, a and b must be 1-D of the same length")
        if w.size == 0:
            raise HlhBayesError("beta mixture: at least one component is needed")
        if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b)) and np.all(np.isfinite(w))):
            raise HlhBayesError("beta mixture: weights and shapes must be finite")
        if np.any(a <= 0) or np.any(b <= 0):
            raise HlhBayesError("beta mixture: shapes a and b must be > 0")
        if np.any(w < 0):
            raise HlhBayesError("beta mixture: weights must be >= 0")
        total = float(w.sum())
        if abs(total - 1.0) > WEIGHT_SUM_TOLERANCE:
            raise HlhBayesError(f"beta mixture: weights sum to {total:g}, not 1")
        if abs(total - 1.0) > 1e-12:  # leave exact (file) weights untouched by rounding
            w = w / total
        for name, value in (("weights", w), ("a", a), ("b", b)):
            value.setflags(write=False)
            object.__setattr__(self, name, value)

    # ------------------------------------------------------------------ construction
    @classmethod
    def beta(cls, a: float, b: float) -> BetaMixture:
        r"""A single :math:`\operatorname{Beta}(a, b)`."""
        return cls(np.array([1.0]), np.array([float(a)]), np.array([float(b)]))

    @classmethod
    def from_components(cls, components: Iterable[Sequence[float]]) -> BetaMixture:
        """Build from ``[(w, a, b), ...]``."""
        rows = np.array([list(map(float, c)) for c in components], dtype=float)
        if rows.ndim != 2 or rows.shape[1] != 3:
            raise HlhBayesError("beta mixture: components must be (w, a, b) triples")
        return cls(rows[:, 0], rows[:, 1], rows[:, 2])

    def components(self) -> list[dict[str, float]]:
        """The prior-file records ``[{"w": ..., "a": ..., "b": ...}, ...]``."""
        return [
            {"w": float(w), "a": float(a), "b": float(b)}
            for w, a, b in zip(self.weights, self.a, self.b, strict=True)
        ]

    @property
    def n_components(self) -> int:
        """The number of components."""
        return int(self.weights.size)

    def __repr__(self) -> str:
        parts = ", ".join(
            f"{w:.4g}*Beta({a:.4g}, {b:.4g})"
            for w, a, b in zip(self.weights, self.a, self.b, strict=True)
        )
        return f"BetaMixture({parts})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BetaMixture):
            return NotImplemented
        return all(
            np.array_equal(x, y)
            for x, y in ((self.weights, other.weights), (self.a, other.a), (self.b, other.b))
        )

    __hash__ = None  # type: ignore[assignment]

    # ------------------------------------------------------------------ densities
    def _log_components(self, x: FloatArray) -> FloatArray:
        r""":math:`\log w_k + \log \operatorname{Beta}(x \mid a_k, b_k)`, shape ``x.shape + (K,)``."""
        x = np.asarray(x, dtype=float)[..., None]
        with np.errstate(divide="ignore", invalid="ignore"):
            lw = np.log(self.weights)
            out = (
                lw
                + special.xlogy(self.a - 1.0, x)
                + special.xlog1py(self.b - 1.0, -x)
                - special.betaln(self.a, self.b)
            )
        outside = (x < 0) | (x > 1)
        return np.where(outside, -np.inf, out)

    def logpdf(self, x: ArrayLike) -> FloatArray:
        r"""Log density :math:`\log \pi(x)` (``-inf`` outside [0, 1])."""
        return special.logsumexp(self._log_components(np.asarray(x, dtype=float)), axis=-1)

    def pdf(self, x: ArrayLike) -> FloatArray:
        r"""Density :math:`\pi(x)`."""
        return np.exp(self.logpdf(x))

    def cdf(self, x: ArrayLike) -> FloatArray:
        r""":math:`P(p \le x) = \sum_k w_k I_x(a_k, b_k)` (regularised incomplete beta)."""
        x = np.clip(np.asarray(x, dtype=float), 0.0, 1.0)[..., None]
        return np.sum(self.weights * special.betainc(self.a, self.b, x), axis=-1)

    def sf(self, x: ArrayLike) -> FloatArray:
        r""":math:`P(p > x)`, to full absolute precision at both ends.

        :math:`1 - I_x(a, b)` below 1/2 and :math:`I_{1 - x}(b, a)` above (scipy's ``betaincc``
        is accurate too, but ten times slower).
        """
        x = np.clip(np.asarray(x, dtype=float), 0.0, 1.0)
        return np.sum(self.weights * upper_incomplete_beta(self.a, self.b, x[..., None]), axis=-1)

    def ppf(self, q: ArrayLike) -> FloatArray:
        r"""Quantiles: the smallest :math:`x` with :math:`P(p \le x) \ge q` (bisection on the CDF).

        Exact for one component (inverse incomplete beta); for mixtures the bisection runs to
        machine precision (60 halvings of [0, 1]).
        """
        q = np.asarray(q, dtype=float)
        if np.any((q < 0) | (q > 1)):
            raise HlhBayesError("quantile probabilities must lie in [0, 1]")
        if self.n_components == 1:
            return special.betaincinv(self.a[0], self.b[0], q)
        lo = np.zeros_like(q)
        hi = np.ones_like(q)
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            below = self.cdf(mid) < q
            lo = np.where(below, mid, lo)
            hi = np.where(below, hi, mid)
        return 0.5 * (lo + hi)

    # ------------------------------------------------------------------ moments
    @property
    def component_means(self) -> FloatArray:
        """:math:`a_k / (a_k + b_k)`."""
        return self.a / (self.a + self.b)

    @property
    def component_vars(self) -> FloatArray:
        """:math:`a_k b_k / ((a_k + b_k)^2 (a_k + b_k + 1))`."""
        n = self.a + self.b
        return self.a * self.b / (n * n * (n + 1.0))

    def mean(self) -> float:
        r""":math:`E[p] = \sum_k w_k a_k / (a_k + b_k)`."""
        return float(np.sum(self.weights * self.component_means))

    def var(self) -> float:
        r""":math:`\operatorname{Var}[p] = E[p^2] - E[p]^2` (law of total variance)."""
        m = self.component_means
        return float(np.sum(self.weights * (self.component_vars + m * m)) - self.mean() ** 2)

    def sd(self) -> float:
        """Standard deviation."""
        return math.sqrt(max(self.var(), 0.0))

    def summary(self, probs: Sequence[float] = (0.025, 0.5, 0.975)) -> dict[str, float]:
        """Mean, sd and quantiles (keys ``mean, sd, q2.5, q50, q97.5`` by default)."""
        out = {"mean": self.mean(), "sd": self.sd()}
        for p, v in zip(probs, self.ppf(np.asarray(probs)), strict=True):
            out[f"q{100 * p:g}"] = float(v)
        return out

    def mode(self) -> float:
        """The highest point of the density (0 or 1 when the density is largest at an edge).

        Found on a grid of 4001 points plus the component modes, then refined by golden-section
        search between the neighbouring grid points. A flat density (only ``Beta(1, 1)``
        components) has no mode; 1/2 is returned.
        """
        if np.all(self.a == 1.0) and np.all(self.b == 1.0):
            return 0.5
        if self.n_components == 1 and self.a[0] > 1 and self.b[0] > 1:
            return float((self.a[0] - 1.0) / (self.a[0] + self.b[0] - 2.0))
        used = self.weights > 0
        if np.any(used & (self.a < 1)):
            return 0.0  # the density is unbounded at 0
        if np.any(used & (self.b < 1)):
            return 1.0  # ... or at 1
        grid = np.concatenate([np.linspace(0.0, 1.0, 4001), self._component_modes()])
        grid = np.unique(np.clip(grid, 0.0, 1.0))
        lp = self.logpdf(grid)
        i = int(np.argmax(lp))
        if i == 0 or i == grid.size - 1:
            return float(grid[i])
        return _golden_max(lambda t: float(self.logpdf(t)), grid[i - 1], grid[i + 1])

    def _component_modes(self) -> FloatArray:
        with np.errstate(divide="ignore", invalid="ignore"):
            m = (self.a - 1.0) / (self.a + self.b - 2.0)
        return m[np.isfinite(m) & (m > 0) & (m < 1)]

    # ------------------------------------------------------------------ conjugate updates
    def posterior(self, y: int, n: int) -> BetaMixture:
        """The posterior after ``y`` responders out of ``n`` (see the module docstring)."""
        y, n = _check_counts(y, n)
        a = self.a + y
        b = self.b + (n - y)
        with np.errstate(divide="ignore"):
            lw = np.log(self.weights) + special.betaln(a, b) - special.betaln(self.a, self.b)
        w = np.exp(lw - lw.max())
        return BetaMixture(w / w.sum(), a, b)

    def predictive_pmf(self, n: int) -> FloatArray:
        r"""The prior predictive :math:`m(y)`, :math:`y = 0, \dots, n` (beta-binomial mixture)."""
        _check_counts(0, n)
        y = np.arange(n + 1, dtype=float)[:, None]
        with np.errstate(divide="ignore"):
            log_terms = (
                np.log(self.weights)
                + special.gammaln(n + 1.0)
                - special.gammaln(y + 1.0)
                - special.gammaln(n - y + 1.0)
                + special.betaln(self.a + y, self.b + n - y)
                - special.betaln(self.a, self.b)
            )
        pmf = np.exp(special.logsumexp(log_terms, axis=1))
        return pmf / pmf.sum()

    def sample(self, size: int, rng: np.random.Generator | int | None = None) -> FloatArray:
        """Random draws (component by weight, then beta)."""
        rng = np.random.default_rng(rng)
        k = rng.choice(self.n_components, size=size, p=self.weights)
        return rng.beta(self.a[k], self.b[k])

    # ------------------------------------------------------------------ robustification
    def robustify(self, weight: float, mean: float = 0.5, n: float = 1.0) -> BetaMixture:
        r"""Add a vague component (Schmidli et al. 2014; RBesT ``robustify``).

        .. math::

            \pi_\text{robust} = (1 - w_R)\,\pi + w_R \operatorname{Beta}\big(m (n + 1),
            (1 - m)(n + 1)\big)

        As in RBesT, the vague component is worth ``n + 1`` observations, so the defaults
        (``mean`` 1/2, ``n`` 1) give the uniform ``Beta(1, 1)`` rather than the unit-information
        ``Beta(1/2, 1/2)``.

        Parameters
        ----------
        weight
            :math:`w_R`, the weight of the vague component, strictly between 0 and 1.
        mean
            :math:`m`, its mean, strictly between 0 and 1 (best set to the null hypothesis).
        n
            Its sample size minus one (> 0).
        """
        if not 0 < weight < 1:
            raise HlhBayesError(f"robust weight must be strictly between 0 and 1, got {weight:g}")
        if not 0 < mean < 1:
            raise HlhBayesError(f"robust mean must be strictly between 0 and 1, got {mean:g}")
        if not n > 0 or not math.isfinite(n):
            raise HlhBayesError(f"robust n must be > 0, got {n:g}")
        return BetaMixture(
            np.append(self.weights * (1.0 - weight), weight),
            np.append(self.a, mean * (n + 1.0)),
            np.append(self.b, (1.0 - mean) * (n + 1.0)),
        )

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the prior file (its components, full float precision) atomically."""
        path = Path(path)
        if path.is_dir():
            raise HlhBayesError(f"{path}: is a folder; give a file name for the prior")
        write_json(path, self.components())
        return path


def upper_incomplete_beta(a: ArrayLike, b: ArrayLike, x: ArrayLike) -> FloatArray:
    """:math:`1 - I_x(a, b)` (broadcast): the complement below 1/2, the mirror :math:`I_{1-x}(b, a)` above."""
    a, b, x = np.broadcast_arrays(
        np.asarray(a, dtype=float), np.asarray(b, dtype=float), np.asarray(x, dtype=float)
    )
    low = x < 0.5
    out = np.empty(x.shape)
    out[low] = 1.0 - special.betainc(a[low], b[low], x[low])
    out[~low] = special.betainc(b[~low], a[~low], 1.0 - x[~low])
    return out


def _golden_max(f: Any, lo: float, hi: float, tol: float = 1e-12) -> float:
    """Maximise a unimodal ``f`` on ``[lo, hi]`` by golden-section search."""
    g = (math.sqrt(5.0) - 1.0) / 2.0
    c, d = hi - g * (hi - lo), lo + g * (hi - lo)
    fc, fd = f(c), f(d)
    while hi - lo > tol:
        if fc > fd:
            hi, d, fd = d, c, fc
            c = hi - g * (hi - lo)
            fc = f(c)
        else:
            lo, c, fc = c, d, fd
            d = lo + g * (hi - lo)
            fd = f(d)
    return 0.5 * (lo + hi)


def _check_counts(y: int, n: int) -> tuple[int, int]:
    if isinstance(y, bool) or isinstance(n, bool):
        raise HlhBayesError("counts must be integers")
    if int(y) != y or int(n) != n:
        raise HlhBayesError(f"counts must be integers, got y={y}, n={n}")
    y, n = int(y), int(n)
    if n < 0 or not 0 <= y <= n:
        raise HlhBayesError(f"responders must lie between 0 and n: got y={y}, n={n}")
    return y, n


# ---------------------------------------------------------------------- prior files
def parse_prior_records(records: Any, source: str) -> BetaMixture:
    """Validate prior-file records and build the mixture.

    Every problem is collected; the error is one line naming ``source``, the entry (1-based)
    and the field, e.g. ``map.json: entry 2: field 'a': must be > 0 (got -1)``.
    """
    if isinstance(records, dict) and "components" in records:
        records = records["components"]
    if not isinstance(records, list) or not records:
        raise PriorFileError(
            f'{source}: expected a non-empty JSON list of components [{{"w": ..., "a": ..., '
            f'"b": ...}}, ...]'
        )
    problems: list[str] = []
    rows: list[tuple[float, float, float]] = []
    for i, entry in enumerate(records, start=1):
        where = f"entry {i}"
        if not isinstance(entry, dict):
            problems.append(f"{where}: expected an object with fields w, a, b")
            continue
        unknown = sorted(set(entry) - set(_FIELDS))
        if unknown:
            problems.append(f"{where}: unknown field(s) {', '.join(map(repr, unknown))}")
        values: list[float] = []
        for name in _FIELDS:
            if name not in entry:
                problems.append(f"{where}: field '{name}' is missing")
                continue
            value = entry[name]
            if isinstance(value, bool) or not isinstance(value, int | float):
                problems.append(f"{where}: field '{name}': must be a number (got {value!r})")
                continue
            value = float(value)
            if not math.isfinite(value):
                problems.append(f"{where}: field '{name}': must be finite (got {value!r})")
            elif name == "w" and value < 0:
                problems.append(f"{where}: field 'w': must be >= 0 (got {value:g})")
            elif name != "w" and value <= 0:
                problems.append(f"{where}: field '{name}': must be > 0 (got {value:g})")
            else:
                values.append(value)
        if len(values) == 3:
            rows.append((values[0], values[1], values[2]))
    if not problems:
        total = sum(r[0] for r in rows)
        if abs(total - 1.0) > WEIGHT_SUM_TOLERANCE:
            problems.append(f"field 'w': weights sum to {total:.6g}, not 1")
    if problems:
        raise PriorFileError(f"{source}: " + "; ".join(problems))
    return BetaMixture.from_components(rows)


def read_prior_file(path: str | os.PathLike[str]) -> BetaMixture:
    """Read and validate a JSON prior file."""
    path = Path(path)
    if not path.exists():
        raise PriorFileError(f"{path}: no such prior file")
    try:
        text = read_text_input(path)
    except InputFileError as exc:
        raise PriorFileError(f"{exc}") from None
    try:
        records = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PriorFileError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    return parse_prior_records(records, str(path))


def load_prior(spec: str | os.PathLike[str]) -> BetaMixture:
    """A prior from a JSON file, ``beta:A,B`` or ``mix:W,A,B+W,A,B+...``.

    A path that exists is always read as a file, so a file may be called ``beta:...``.
    """
    text = str(spec)
    if Path(text).exists():
        return read_prior_file(text)
    kind, sep, rest = text.partition(":")
    kind = kind.strip().lower()
    if sep and kind in {"beta", "mix"}:
        parts = [rest] if kind == "beta" else rest.split("+")
        rows = []
        for i, part in enumerate(parts, start=1):
            try:
                numbers = [float(v) for v in part.split(",")]
            except ValueError:
                raise PriorFileError(f"prior {text!r}: parameters must be numbers") from None
            expected = 2 if kind == "beta" else 3
            if len(numbers) != expected:
                form = "beta:A,B" if kind == "beta" else "mix:W,A,B+W,A,B"
                raise PriorFileError(f"prior {text!r}: component {i}: use the form {form}")
            rows.append(
                {"w": 1.0, "a": numbers[0], "b": numbers[1]}
                if kind == "beta"
                else dict(zip(_FIELDS, numbers, strict=True))
            )
        return parse_prior_records(rows, f"prior {text!r}")
    if text.endswith(".json") or os.sep in text or not sep:
        raise PriorFileError(
            f"{text}: no such prior file (give a JSON prior file, beta:A,B or mix:W,A,B+W,A,B)"
        )
    raise PriorFileError(
        f"prior {text!r}: unknown form {kind!r}; give a JSON prior file, beta:A,B or mix:W,A,B+..."
    )
