"""What every model carries: the interface callers ask instead of testing a model's name.

A model is one module in this package that defines ``MODEL``, an object satisfying
:class:`ModelDefinition`, and one spec file ``shipped/models/<name>.yaml`` (priors, options,
default filters and sampler settings; optional; a workspace's copy is ``models/<name>.yaml``). The registry (:mod:`hlhbayes.models`) finds it; nothing
else needs to change for a new model to be fitted, reported, compared and updated.

Conventions every model follows (the shared code relies on them):

- evidence units are :class:`~hlhbayes.models.units.Units` (patients, then aggregate strata);
  the observed variables are ``y_patient`` (dimension ``patient``, Bernoulli) and/or
  ``y_stratum`` (dimension ``stratum``, binomial);
- the derived quantities are ``rate_typical`` and ``rate_new``, with dimensions ``etiology`` and
  ``line`` when the model has etiology x line cells, without when it has one pooled rate;
- the between-study heterogeneity is a parameter called ``tau`` (``--prior-tau``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np
    import pymc as pm
    import xarray as xr

    from hlhbayes.evidence import EvidenceBase
    from hlhbayes.models.units import Filters, Units
    from hlhbayes.priors import Prior


@dataclass(frozen=True)
class ModelText:
    """A model's words, written once: its docstring, the report and ``fit --dry-run`` use them.

    ``equations`` is plain Unicode (no TeX: the report reads offline); ``parameters`` gives the
    meaning of each prior's parameter; ``note`` says what the model approximates or assumes;
    ``study_estimate`` says what the forest plot's per-study estimate is.
    """

    title: str
    equations: str
    parameters: Mapping[str, str]
    note: str
    study_estimate: str

    def docstring(self) -> str:
        """The model module's docstring: title, equations, parameters, note."""
        meanings = "\n".join(f"  {name}: {text}" for name, text in self.parameters.items())
        return (
            f"{self.title}\n\nEquations::\n\n{_indent(self.equations)}\n\n"
            f"Parameters::\n\n{_indent(meanings)}\n\n{self.note}\n"
        )


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" if line else "" for line in text.splitlines())


class ExactMethod(Protocol):
    """A deterministic posterior (quadrature) for ``fit --method exact``."""

    def check(self, priors: Mapping[str, Prior]) -> None:
        """Raise :class:`~hlhbayes.errors.HlhBayesError` for priors it cannot integrate."""
        ...

    def summarise(
        self, units: Units, priors: Mapping[str, Prior], thresholds: tuple[float, ...]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
        """Summary records (the ``summary.json`` form), P(rate > threshold) records, and notes.

        A moment that does not exist (or cannot be computed) is ``None`` in its record, and a
        note says why in one line.
        """
        ...


class Borrowing(Protocol):
    """How the estimate of each cell is formed: what :mod:`hlhbayes.support` asks a model.

    ``cannot_tell`` maps a hyperparameter to the words that complete "the data cannot tell
    ..." when its posterior barely contracts from its prior (``{"gamma": "first from later
    line"}``); a hyperparameter not named there gets no sentence.
    """

    cannot_tell: Mapping[str, str]

    def typical_logit(self, draws: xr.Dataset) -> xr.DataArray:
        """The logit of ``rate_typical`` per cell, from the parameters in ``draws``.

        ``draws`` is a posterior or a prior group; the result has dimensions ``chain``,
        ``draw`` and the cell's (``etiology``, ``line``; none for a model with one cell).
        Computed from the parameters, not from the rate, so that no draw saturates at 0 or 1.
        """
        ...

    def borrowed_logit(
        self, posterior: xr.Dataset, rng: np.random.Generator
    ) -> xr.DataArray | None:
        """The logit a cell would have if its trigger had no direct data, per posterior draw.

        The reference of "how much is borrowed" (:mod:`hlhbayes.support.contraction`); ``None``
        for a model whose one cell borrows from no other.
        """
        ...

    def expected_composition(
        self, units: Units, options: Mapping[str, Any]
    ) -> tuple[np.ndarray, np.ndarray]:
        """The strata's etiology weights and later-line fractions, unknown ones at their prior means.

        ``agg_w`` and ``agg_v`` with every NaN replaced by the mean of the model's prior for it.
        """
        ...


@dataclass(frozen=True)
class OneCell:
    """The :class:`Borrowing` of a model with one pooled rate: no cell borrows from another.

    ``location`` names the parameter that is the logit of ``rate_typical`` (``mu``).
    Compositions do not matter to one cell: :meth:`expected_composition` returns them as they are.
    """

    location: str
    cannot_tell: Mapping[str, str] = field(default_factory=dict)

    def typical_logit(self, draws: xr.Dataset) -> xr.DataArray:
        """The location parameter's draws."""
        return draws[self.location]

    def borrowed_logit(self, posterior: xr.Dataset, rng: np.random.Generator) -> None:
        """Nothing is borrowed between cells."""
        return None

    def expected_composition(
        self, units: Units, options: Mapping[str, Any]
    ) -> tuple[np.ndarray, np.ndarray]:
        """The strata's compositions unchanged (one cell counts every patient)."""
        return units.agg_w, units.agg_v


@runtime_checkable
class ModelDefinition(Protocol):
    """Everything the pipeline, the reports and the living-evidence code need from a model.

    Attributes
    ----------
    name
        The model's name (``--model``, the spec file ``models/<name>.yaml``).
    default_priors, default_options
        Built-in priors (by parameter) and options; the spec file and the command line
        override them (:func:`hlhbayes.priors.merge_priors`).
    hyperparameters
        The parameters reported in ``summary.json`` before ``rate_typical`` and ``rate_new``.
    observed
        Observed variable -> its dimension (``{"y_stratum": "stratum"}``).
    has_cells
        Whether the rates have etiology x line cells (``--etiology`` / ``--line``).
    one_count_per_study
        Whether the model fits one count per study (its patients and strata added up); such a
        model also fits a user's table of ``study, events, total``.
    location_prior
        The parameter whose normal prior ``--prior-mu-mean`` / ``--prior-mu-sd`` set.
    exact
        ``--method exact``, or ``None`` when the model has no deterministic posterior.
    text
        Equations and parameter meanings (:class:`ModelText`).
    borrowing
        How each cell's estimate is formed from the data (:class:`Borrowing`): what the
        support of an estimate (:mod:`hlhbayes.support`) asks.
    """

    name: str
    default_priors: Mapping[str, Prior]
    default_options: Mapping[str, Any]
    hyperparameters: tuple[str, ...]
    observed: Mapping[str, str]
    has_cells: bool
    one_count_per_study: bool
    location_prior: str
    exact: ExactMethod | None
    text: ModelText
    borrowing: Borrowing

    def units(self, base: EvidenceBase, filters: Filters) -> Units:
        """The evidence units of ``base`` that pass ``filters``, as this model fits them."""
        ...

    def build(
        self,
        units: Units,
        priors: Mapping[str, Prior],
        options: Mapping[str, Any],
        include: np.ndarray | None = None,
    ) -> pm.Model:
        """The PyMC model; ``include``: one likelihood weight per unit (default 1)."""
        ...

    def quantities(self, posterior: xr.Dataset, rng: np.random.Generator) -> xr.Dataset:
        """``rate_typical`` and ``rate_new`` from the parameter draws."""
        ...

    def unit_probabilities(self, posterior: xr.Dataset, units: Units) -> dict[str, np.ndarray]:
        """Per-draw success probability of every unit, ``(chain, draw, unit)`` per observed variable."""
        ...

    def new_study_posterior(
        self,
        posterior: xr.Dataset,
        units: Units,
        rng: np.random.Generator,
        options: Mapping[str, Any],
        reference: Units,
    ) -> xr.Dataset:
        """A posterior-like dataset for :meth:`unit_probabilities` on units of new studies.

        Every study of ``units`` gets a fresh study effect per draw; what the papers do not
        give (an unknown composition) is drawn from the model's prior for it, with its mode at
        the pooled mix of ``reference``, the units of the analysis.
        """
        ...


@runtime_checkable
class CompiledForm(Protocol):
    """What the compiled engine (:mod:`hlhbayes.engine`) needs from a model, declared once.

    Optional: a model without it is sampled with PyMC's NUTS (``fit`` says so in one line).
    A model that has it is one graph, written once in :meth:`model_from_data`, whose every
    varying input is a ``pm.Data`` container: evidence arrays, index arrays, likelihood
    weights, prior parameters, the centres of latent-composition priors, the per-study
    parameterisation. :meth:`ModelDefinition.build` is that graph on the given units. The
    engine compiles it once per :meth:`structure` and padded shapes and runs every fit of that
    structure, and every scenario of a multi-fit command, through the same program.

    Attributes
    ----------
    data_dims
        Every ``pm.Data`` name -> its dimensions; a name not listed is a scalar.
    data_fill
        The value of a padded entry, for every data array with a dimension of
        :meth:`dim_sizes`; padded units must get likelihood weight 0.
    source
        Fingerprint of the code the graph is built from
        (:func:`hlhbayes.engine.source_fingerprint`): editing it retires the compiled programs.
    """

    data_dims: Mapping[str, tuple[str, ...]]
    data_fill: Mapping[str, Any]
    source: str

    def dim_sizes(self, units: Units) -> dict[str, int]:
        """The length of every dimension that grows with the evidence (padded to buckets)."""
        ...

    def coords(self, units: Units) -> dict[str, list[Any]]:
        """Labels of every dimension of the model (unit and study ids, etiologies, ...)."""
        ...

    def structure(
        self, units: Units, priors: Mapping[str, Prior], options: Mapping[str, Any]
    ) -> dict[str, Any]:
        """What shapes the graph besides the data's shapes (JSON): e.g. the prior families.

        Two fits with the same structure and padded sizes must differ only in data values.
        """
        ...

    def data(
        self,
        units: Units,
        priors: Mapping[str, Prior],
        options: Mapping[str, Any],
        include: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """The value of every ``pm.Data`` for a fit of ``units`` (shapes of the units).

        ``include``: one likelihood weight per unit (patients, then strata; default 1):
        0 leaves a unit out, a value in between down-weights it (a power of its likelihood).
        What depends on the units in the fit (the centres of latent compositions, the
        parameterisation of study effects) is computed from the units with positive weight,
        so that a weighted fit equals a fit of those units alone.
        """
        ...

    def model_from_data(
        self,
        structure: Mapping[str, Any],
        data: Mapping[str, np.ndarray],
        coords: Mapping[str, list[Any]],
    ) -> pm.Model:
        """The PyMC model with ``data`` as ``pm.Data``.

        The data may be padded: ``coords`` then carries padding labels (the lengths of
        ``coords`` give the size of every dimension).
        """
        ...


class BuiltFromData:
    """:meth:`ModelDefinition.build` for a model that provides :class:`CompiledForm`.

    Its one graph (:meth:`CompiledForm.model_from_data`) on the structure, data and coordinates
    of the given units; a model class inherits it instead of writing it again.
    """

    def build(
        self,
        units: Units,
        priors: Mapping[str, Prior],
        options: Mapping[str, Any],
        include: np.ndarray | None = None,
    ) -> pm.Model:
        """The PyMC model of ``units`` (``model_from_data`` on their data)."""
        form: Any = self
        return form.model_from_data(
            form.structure(units, priors, options),
            form.data(units, priors, options, include),
            form.coords(units),
        )


COMPILED_MEMBERS: tuple[str, ...] = (
    "data_dims",
    "data_fill",
    "source",
    "dim_sizes",
    "coords",
    "structure",
    "data",
    "model_from_data",
)
"""The names a model must have to be sampled by the compiled engine."""


def supports_compiled(model: object) -> bool:
    """Whether ``model`` provides :class:`CompiledForm` (else PyMC's NUTS samples it)."""
    return all(hasattr(model, name) for name in COMPILED_MEMBERS)


MEMBERS: tuple[str, ...] = (
    *ModelDefinition.__annotations__,
    "units",
    "build",
    "quantities",
    "unit_probabilities",
    "new_study_posterior",
)
"""The names a model definition must have (checked by :func:`hlhbayes.models.register`)."""
