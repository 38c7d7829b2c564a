"""Priors as data: a family name and its parameters, serialisable, printable, parseable.

The order in which priors are merged is stated once (:func:`merge_priors`): the model's built-in
defaults, then the spec file in ``models/``, then the command line. Naming a parameter the model
does not have, or a family that does not exist, is an error that lists what is valid.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hlhbayes.errors import HlhBayesError
from hlhbayes.quoting import quoted

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import ArrayLike, NDArray

FAMILIES: dict[str, tuple[str, ...]] = {
    "normal": ("mu", "sigma"),
    "halfnormal": ("sigma",),
    "halfcauchy": ("beta",),
    "halfstudentt": ("nu", "sigma"),
    "exponential": ("lam",),
}
"""Prior families and the names of their parameters, in the order the short form takes them."""

POSITIVE_FAMILIES = {"halfnormal", "halfcauchy", "halfstudentt", "exponential"}
PARAMETER_WORDS = {"mu": "mean", "sigma": "scale", "beta": "scale", "nu": "df", "lam": "rate"}
"""What each parameter is, in the words of the short form's help (a half family's ``sigma`` is
the scale of the distribution it folds; the normal's is its sd)."""


def short_forms() -> str:
    """Every family's short form in words: ``normal:mean,sd; halfnormal:scale; ...``."""
    return "; ".join(
        f"{family}:"
        + ",".join(
            "sd" if (family, p) == ("normal", "sigma") else PARAMETER_WORDS[p] for p in params
        )
        for family, params in FAMILIES.items()
    )


@dataclass(frozen=True)
class Prior:
    """A prior distribution: ``Prior("halfnormal", {"sigma": 1.0})``."""

    family: str
    params: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise HlhBayesError(
                f"unknown prior family {quoted(self.family)}; valid: {', '.join(sorted(FAMILIES))}"
            )
        expected = FAMILIES[self.family]
        if set(self.params) != set(expected):
            raise HlhBayesError(
                f"prior {self.family} takes parameters {', '.join(expected)}; "
                f"got {', '.join(self.params) or 'none'}"
            )
        for name, value in self.params.items():
            if name != "mu" and not value > 0:
                raise HlhBayesError(f"prior {self.family}: {name} must be > 0, got {value}")

    @classmethod
    def parse(cls, text: str) -> Prior:
        """Parse the short form ``family:a,b`` (e.g. ``normal:0,1.5``, ``halfcauchy:1``)."""
        family, _, rest = text.strip().partition(":")
        family = family.strip().lower().replace("-", "").replace("_", "")
        if family not in FAMILIES:
            raise HlhBayesError(
                f"unknown prior family {quoted(family)} in {quoted(text)}; valid: {', '.join(sorted(FAMILIES))}"
            )
        names = FAMILIES[family]
        try:
            values = [float(v) for v in rest.split(",")] if rest.strip() else []
        except ValueError:
            raise HlhBayesError(f"prior {quoted(text)}: parameters must be numbers") from None
        if len(values) != len(names):
            raise HlhBayesError(
                f"prior {quoted(text)}: {family} takes {len(names)} parameter(s): {', '.join(names)}"
            )
        return cls(family, dict(zip(names, values, strict=True)))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Prior:
        """Build from ``{"family": "normal", "mu": 0, "sigma": 1.5}``."""
        data = dict(data)
        family = str(data.pop("family", ""))
        try:
            params = {k: float(v) for k, v in data.items()}
        except (TypeError, ValueError):
            raise HlhBayesError(f"prior {family}: parameters must be numbers") from None
        return cls(family, params)

    def to_dict(self) -> dict[str, Any]:
        """The spec-file form."""
        return {"family": self.family, **self.params}

    def __str__(self) -> str:
        args = ", ".join(f"{v:g}" for v in self.params.values())
        name = {"normal": "Normal", "halfnormal": "HalfNormal", "halfcauchy": "HalfCauchy"}.get(
            self.family, self.family
        )
        return f"{name}({args})"

    def logpdf(self, x: ArrayLike) -> NDArray[np.float64]:
        r"""The log density at ``x``, elementwise (``-inf`` outside the support).

        On the parameter's own scale (no Jacobian), as PyMC's ``logp`` of the variable:

        - normal: :math:`-\tfrac12 ((x - \mu)/\sigma)^2 - \log\sigma - \tfrac12\log 2\pi`
        - halfnormal: :math:`\log 2 - \tfrac12 (x/\sigma)^2 - \log\sigma - \tfrac12\log 2\pi`
        - halfcauchy: :math:`\log(2/\pi\beta) - \log(1 + (x/\beta)^2)`
        - halfstudentt: :math:`\log 2 + \log\Gamma(\tfrac{\nu+1}{2}) - \log\Gamma(\tfrac\nu2)
          - \tfrac12\log\nu\pi - \log\sigma - \tfrac{\nu+1}{2}\log(1 + (x/\sigma)^2/\nu)`
        - exponential: :math:`\log\lambda - \lambda x`

        Written with numpy rather than ``scipy.stats`` (whose import alone costs about a second).
        """
        import numpy as np

        x = np.asarray(x, dtype=float)
        p = self.params
        half_log_2pi = 0.5 * math.log(2 * math.pi)
        if self.family == "normal":
            z = (x - p["mu"]) / p["sigma"]
            return -0.5 * z * z - math.log(p["sigma"]) - half_log_2pi
        if self.family == "halfnormal":
            z = x / p["sigma"]
            out = math.log(2.0) - 0.5 * z * z - math.log(p["sigma"]) - half_log_2pi
        elif self.family == "halfcauchy":
            out = math.log(2.0 / (math.pi * p["beta"])) - np.log1p((x / p["beta"]) ** 2)
        elif self.family == "halfstudentt":
            nu, sigma = p["nu"], p["sigma"]
            const = (
                math.log(2.0)
                + math.lgamma((nu + 1) / 2)
                - math.lgamma(nu / 2)
                - 0.5 * math.log(nu * math.pi)
                - math.log(sigma)
            )
            out = const - (nu + 1) / 2 * np.log1p((x / sigma) ** 2 / nu)
        else:  # exponential
            out = math.log(p["lam"]) - p["lam"] * x
        return np.where(x >= 0, out, -np.inf)

    def variance(self) -> float:
        r"""The prior variance (``math.inf`` when it does not exist).

        normal :math:`\sigma^2`; halfnormal :math:`\sigma^2 (1 - 2/\pi)`; halfcauchy
        :math:`\infty`; halfstudentt :math:`\sigma^2 \nu/(\nu - 2) - m^2` for :math:`\nu > 2`
        (else :math:`\infty`), with the mean
        :math:`m = 2\sigma\sqrt{\nu/\pi}\,\Gamma(\tfrac{\nu+1}{2}) / (\Gamma(\tfrac\nu2)(\nu - 1))`;
        exponential :math:`1/\lambda^2`.
        """
        p = self.params
        if self.family == "normal":
            return p["sigma"] ** 2
        if self.family == "halfnormal":
            return p["sigma"] ** 2 * (1 - 2 / math.pi)
        if self.family == "halfstudentt" and p["nu"] > 2:
            nu, sigma = p["nu"], p["sigma"]
            log_mean = (
                math.log(2 * sigma)
                + 0.5 * math.log(nu / math.pi)
                + math.lgamma((nu + 1) / 2)
                - math.lgamma(nu / 2)
                - math.log(nu - 1)
            )
            return sigma**2 * nu / (nu - 2) - math.exp(2 * log_mean)
        if self.family == "exponential":
            return 1 / p["lam"] ** 2
        return math.inf

    def to_pymc(self, name: str, **kwargs: Any):
        """Create the PyMC random variable (inside a model context)."""
        return pymc_variable(name, self.family, self.params, **kwargs)

    def quantile(self, q: float) -> float:
        """The ``q`` quantile of the prior (``0 < q < 1``), in closed form or ``scipy.special``."""
        if not 0 < q < 1:
            raise ValueError(f"q must lie in (0, 1), got {q}")
        from statistics import NormalDist

        p = self.params
        if self.family == "normal":
            return p["mu"] + p["sigma"] * NormalDist().inv_cdf(q)
        if self.family == "halfnormal":
            return p["sigma"] * NormalDist().inv_cdf(0.5 + q / 2)
        if self.family == "halfcauchy":
            return p["beta"] * math.tan(math.pi * q / 2)
        if self.family == "exponential":
            return -math.log1p(-q) / p["lam"]
        from scipy.special import stdtrit

        return p["sigma"] * float(stdtrit(p["nu"], 0.5 + q / 2))


def pymc_variable(name: str, family: str, params: Mapping[str, Any], **kwargs: Any):
    """The PyMC random variable of ``family`` with ``params``.

    ``params`` may be numbers or tensors (e.g. ``pm.Data`` containers, so that a compiled model
    takes them as arguments).
    """
    import pymc as pm

    dist = {
        "normal": pm.Normal,
        "halfnormal": pm.HalfNormal,
        "halfcauchy": pm.HalfCauchy,
        "halfstudentt": pm.HalfStudentT,
        "exponential": pm.Exponential,
    }[family]
    return dist(name, **params, **kwargs)


def prior_data(priors: Mapping[str, Prior]) -> dict[str, np.ndarray]:
    """Every prior parameter as a float64 scalar named ``prior_<parameter>_<name>``.

    With :func:`prior_families` this is a prior as a compiled model sees it: the families
    shape the program, the parameter values are its arguments.
    """
    import numpy as np

    return {
        f"prior_{name}_{key}": np.float64(value)
        for name, prior in priors.items()
        for key, value in prior.params.items()
    }


def prior_families(priors: Mapping[str, Prior]) -> dict[str, str]:
    """The family of every prior, by parameter (part of a compiled model's structure)."""
    return {name: prior.family for name, prior in priors.items()}


def merge_priors(
    defaults: dict[str, Prior],
    spec: dict[str, Prior] | None = None,
    overrides: dict[str, Prior] | None = None,
) -> dict[str, Prior]:
    """Merge in the stated order: defaults < spec file < command line.

    Raises :class:`~hlhbayes.errors.HlhBayesError` for a parameter name the model does not have, and for a positive-only
    parameter given a prior on the whole real line (or the other way round).
    """
    merged = dict(defaults)
    for source, layer in (("model spec", spec or {}), ("command line", overrides or {})):
        for name, prior in layer.items():
            if name not in defaults:
                raise HlhBayesError(
                    f"unknown prior {quoted(name)} ({source}); this model has: {', '.join(defaults)}"
                )
            positive = defaults[name].family in POSITIVE_FAMILIES
            if positive != (prior.family in POSITIVE_FAMILIES):
                kind = "a positive (half-) family" if positive else "a family on the real line"
                raise HlhBayesError(
                    f"prior {quoted(name)} ({source}) must use {kind}; got {prior.family}"
                )
            merged[name] = prior
    return merged
