"""Sensitivity analysis: the headline estimates under alternative priors, data and definitions.

Every scenario is the saved spec with overrides (:func:`hlhbayes.models.spec.load_spec`), fitted
with :func:`hlhbayes.pipeline.prepare` / :func:`~hlhbayes.pipeline.run_fit` like ``fit``:

- ``baseline``: the spec as saved;
- prior sensitivity of the headline numbers: the heterogeneity prior (``tau``) and, where the
  model has one, the etiology-spread prior (``sigma_eta``) at half and double the baseline's
  scale, and half-Cauchy at the baseline's scale (e.g. ``tau-halfnormal-0.5``,
  ``tau-halfnormal-2``, ``tau-halfcauchy-1`` for ``tau ~ HalfNormal(1)``; a variant equal to
  the baseline's prior is not fitted twice);
- small studies and selective publication: ``no-small-series`` leaves out the series of fewer
  than :data:`SMALL_SERIES` patients; ``downweight-small-extreme`` gives the series of fewer
  than :data:`DOWNWEIGHT_BELOW` patients in which every patient had the favourable outcome
  (all responded; for death: none died), the series most likely to be published because of
  their result, likelihood weight :data:`DOWNWEIGHT` (each counts as half its patients);
- leave one study out: ``loo-<STUDY>`` for every study of the baseline (its influence);
- ``no-derived``: counts we derived from stated figures left out;
- ``classic-shlh-only``: only classic sHLH (drops MAS in rheumatic disease, sepsis with MAS
  features and COVID-19 sHLH); ``all-conditions``: every condition, including sepsis with MAS
  features and COVID-19 (which the default filters leave out);
- ``adults-only`` / ``children-only``: the population filter (studies of the other population
  are left out; patient rows of mixed studies are split by age at 18; aggregate strata of mixed
  studies are left out, since they count adults and children together);
- ``definition-<CODE>``: each response definition alone (response outcome only): the studies
  whose response counts all use that definition. Patient rows carry no definition code; they
  count under their study's single stratum definition, or :data:`PATIENT_DEFINITION` (the coding
  of the shipped patient-level series, Baverez 2022: physician-judged efficacy) when the study has
  no response strata.

Every fitted scenario is a fit of its own units (and priors) as ``fit`` would make it; all of
them run as weight vectors over the union of their units through one compiled program per model
structure (:func:`hlhbayes.inference.sample_scenarios`: the half-Cauchy priors are other
structures), with automatic re-runs of a scenario that fails the convergence gate.

A scenario is **not estimable** for a cell (etiology x line) when none of its units carries direct
data on that cell: a patient of that etiology and line, or a stratum whose known composition
includes them (strata with an unknown mix or line do not count). Scenarios that leave no units,
or no requested cell with data, are listed with the reason and not fitted. Scenarios that fail
their convergence gate are listed as ``not converged``, with their numbers.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hlhbayes import pipeline
from hlhbayes.errors import HlhBayesError
from hlhbayes.evidence import EvidenceBase, load_evidence
from hlhbayes.evidence.schema import CONDITIONS
from hlhbayes.living.output import write_output
from hlhbayes.models.spec import Spec
from hlhbayes.models.units import MODEL_ETIOLOGIES, Units
from hlhbayes.priors import Prior
from hlhbayes.summary import diagnose, summarise

Log = Callable[[str], None]
PATIENT_DEFINITION = "clinician_judged"
SCALE_FACTORS = (0.5, 2.0)
"""The prior scales tried for each heterogeneity prior, relative to the baseline's."""
SCALE_PRIORS = {"tau": "heterogeneity prior", "sigma_eta": "etiology-spread prior"}
"""The priors whose sensitivity is shown (those the model has), and their scenario group."""
SMALL_SERIES = 5
"""``no-small-series`` leaves out series of fewer patients than this."""
DOWNWEIGHT_BELOW = 10
DOWNWEIGHT = 0.5
"""``downweight-small-extreme``: the likelihood weight of a series of fewer than
:data:`DOWNWEIGHT_BELOW` patients with every outcome favourable."""
COLUMNS = [
    "scenario",
    "group",
    "description",
    "quantity",
    "etiology",
    "line",
    "mean",
    "q2.5",
    "q97.5",
    "studies",
    "patients",
    "strata",
    "converged",
    "max_r_hat",
    "min_ess_bulk",
    "divergences",
    "status",
    "reason",
]


def _silent(_message: str) -> None:
    return None


@dataclass
class Scenario:
    """One alternative analysis: overrides of the saved spec, or why it is not run."""

    name: str
    group: str
    description: str
    priors: dict[str, Prior] = field(default_factory=dict)
    filters: dict[str, Any] = field(default_factory=dict)
    skip: str | None = None
    study_weights: dict[str, float] = field(default_factory=dict)
    """Likelihood weight of the units of these studies (the others: 1)."""


def prior_scale(prior: Prior) -> float:
    """The scale of a prior on a positive parameter (``1 / lam`` for the exponential)."""
    if prior.family == "exponential":
        return 1.0 / prior.params["lam"]
    return prior.params["beta" if prior.family == "halfcauchy" else "sigma"]


def prior_variants(prior: Prior) -> list[Prior]:
    """``prior`` at half and double its scale, and half-Cauchy at its scale."""
    out = []
    for factor in SCALE_FACTORS:
        params = dict(prior.params)
        if prior.family == "exponential":
            params["lam"] = params["lam"] / factor
        else:
            params["beta" if prior.family == "halfcauchy" else "sigma"] *= factor
        out.append(Prior(prior.family, params))
    if prior.family != "halfcauchy":
        out.append(Prior("halfcauchy", {"beta": prior_scale(prior)}))
    return out


def prior_scenarios(spec: Spec) -> list[Scenario]:
    """The prior scenarios: each prior of :data:`SCALE_PRIORS` the model has, varied."""
    out = []
    for name, group in SCALE_PRIORS.items():
        if name not in spec.priors:
            continue
        for prior in prior_variants(spec.priors[name]):
            if prior != spec.priors[name]:
                label = f"{name}-{prior.family}-{prior_scale(prior):g}"
                out.append(Scenario(label, group, f"{name} ~ {prior}", {name: prior}))
    return out


def series_sizes(units: Units) -> dict[str, tuple[int, int]]:
    """Patients and events of every study of ``units`` (patients plus strata)."""
    k = len(units.studies)
    patients = np.bincount(units.pat_study, minlength=k) + np.bincount(
        units.agg_study, weights=units.agg_total.astype(float), minlength=k
    )
    events = np.bincount(units.pat_study, weights=units.pat_y.astype(float), minlength=k)
    events = events + np.bincount(
        units.agg_study, weights=units.agg_events.astype(float), minlength=k
    )
    return {sid: (int(patients[i]), int(events[i])) for i, sid in enumerate(units.studies)}


def small_study_scenarios(spec: Spec, units: Units, excluded: list[str]) -> list[Scenario]:
    """``no-small-series`` and ``downweight-small-extreme`` of ``units``.

    ``excluded``: the studies the baseline already leaves out (``no-small-series`` adds the
    small ones to them).
    """
    sizes = series_sizes(units)
    small = [sid for sid, (n, _) in sizes.items() if n < SMALL_SERIES]
    no_small = Scenario(
        "no-small-series",
        "small studies",
        f"series of fewer than {SMALL_SERIES} patients left out"
        + (f" ({', '.join(small)})" if small else ""),
        filters={"exclude_studies": [*excluded, *small]},
    )
    if not small:
        no_small.skip = f"no series of fewer than {SMALL_SERIES} patients"
    elif len(small) == len(sizes):
        no_small.skip = "every series is that small"
    favourable = "responded" if spec.filters.outcome == "response" else "survived"
    extreme = [
        sid
        for sid, (n, events) in sizes.items()
        if n < DOWNWEIGHT_BELOW and events == (n if spec.filters.outcome == "response" else 0)
    ]
    downweight = Scenario(
        "downweight-small-extreme",
        "small studies",
        f"series of fewer than {DOWNWEIGHT_BELOW} patients in which all {favourable} count "
        f"with likelihood weight {DOWNWEIGHT:g}" + (f" ({', '.join(extreme)})" if extreme else ""),
        study_weights=dict.fromkeys(extreme, DOWNWEIGHT),
    )
    if not extreme:
        downweight.skip = f"no series of fewer than {DOWNWEIGHT_BELOW} patients all {favourable}"
    return [no_small, downweight]


def build_scenarios(
    spec: Spec, data: Path | None, units: Units, base: EvidenceBase | None = None
) -> list[Scenario]:
    """Every scenario of the module docstring for the saved ``spec`` and its ``units``.

    ``base``: the evidence base of ``data`` when already loaded (it is not read again).
    """
    if base is None:
        base = load_evidence(data)
    f = spec.filters
    tau = spec.priors["tau"]
    out = [Scenario("baseline", "baseline", f"the saved spec (tau ~ {tau})")]
    out += prior_scenarios(spec)
    excluded = list(f.exclude_studies)
    out += small_study_scenarios(spec, units, excluded)
    for sid in units.studies:
        out.append(
            Scenario(
                f"loo-{sid}",
                "leave one study out",
                f"without {sid}",
                filters={"exclude_studies": [*excluded, sid]},
                skip=None if len(units.studies) > 1 else "it is the only study",
            )
        )
    no_derived = Scenario(
        "no-derived", "evidence", "derived counts left out", filters={"exclude_derived": True}
    )
    if f.exclude_derived:
        no_derived.skip = "the baseline already leaves derived counts out"
    elif not any(  # from the base: random-effects adds each study's counts up
        st.derived and st.outcome == f.outcome and st.events is not None
        for sid in units.studies
        for st in base.studies[sid].strata
    ):
        no_derived.skip = "no derived count among the baseline's units"
    out.append(no_derived)
    for name, conditions, text in (
        ("classic-shlh-only", ("classic_shlh",), "classic sHLH only"),
        (
            "all-conditions",
            CONDITIONS,
            "all conditions, with sepsis with MAS features and COVID-19 sHLH",
        ),
    ):
        s = Scenario(name, "evidence", text, filters={"conditions": list(conditions)})
        if set(conditions) == set(f.conditions):
            s.skip = "the same conditions as the baseline"
        out.append(s)
    for name, population, text in (
        ("adults-only", "adult", "adults only"),
        ("children-only", "pediatric", "children only"),
    ):
        s = Scenario(name, "population", text, filters={"population": population})
        if f.population == population:
            s.skip = "the baseline's population"
        out.append(s)
    if f.outcome == "response":
        out += _definition_scenarios(base, units, excluded)
    return out


def study_definitions(base: Any, units: Units) -> dict[str, set[str]]:
    """The response definitions each study of ``units`` uses (see the module docstring)."""
    with_patients = {p.study for p in base.patients}  # (random-effects adds them up per study)
    out: dict[str, set[str]] = {}
    for sid in units.studies:
        codes = {
            st.definition
            for st in base.studies[sid].strata
            if st.outcome == "response" and st.events is not None
        }
        if sid in with_patients and not codes:
            codes = {PATIENT_DEFINITION}
        out[sid] = codes
    return out


def _definition_scenarios(base: Any, units: Units, excluded: list[str]) -> list[Scenario]:
    definitions = study_definitions(base, units)
    codes = sorted({c for cs in definitions.values() for c in cs})
    mixed = sorted(sid for sid, cs in definitions.items() if len(cs) > 1)
    out = []
    for code in codes:
        keep = [sid for sid, cs in definitions.items() if cs == {code}]
        text = f"response definition {code} alone ({', '.join(keep) or 'no study'})"
        if mixed:
            text += f"; studies mixing definitions left out: {', '.join(mixed)}"
        s = Scenario(
            f"definition-{code}",
            "response definition",
            text,
            filters={"exclude_studies": [*excluded, *(x for x in units.studies if x not in keep)]},
        )
        if len(codes) == 1 and not mixed:
            s.skip = f"every study of the baseline uses {code}"
        elif not keep:
            s.skip = f"no study uses {code} alone"
        out.append(s)
    return out


def select(scenarios: list[Scenario], patterns: tuple[str, ...]) -> list[Scenario]:
    """The scenarios matching any of ``patterns`` (names or globs such as ``loo-*``)."""
    if not patterns:
        return scenarios
    names = [s.name for s in scenarios]
    unknown = [p for p in patterns if not fnmatch.filter(names, p)]
    if unknown:
        raise HlhBayesError(
            f"--scenarios: no scenario matches {', '.join(unknown)}; valid: {', '.join(names)}"
        )
    return [s for s in scenarios if any(fnmatch.fnmatchcase(s.name, p) for p in patterns)]


def cell_has_data(units: Units, etiology: str, line: str) -> bool:
    """Whether any unit carries direct data on (etiology, line) (see the module docstring)."""
    e = MODEL_ETIOLOGIES.index(etiology)
    later = line == "later"
    patients = (units.pat_w[:, e] > 0) & ((units.pat_later > 0.5) == later)
    known_w = ~np.isnan(units.agg_w).any(axis=1)
    v = units.agg_v
    with np.errstate(invalid="ignore"):
        line_ok = ~np.isnan(v) & ((v > 0) if later else (v < 1))
        strata = known_w & (np.nan_to_num(units.agg_w[:, e]) > 0) & line_ok
    return bool(patients.any() or strata.any())


@dataclass
class SensitivityResult:
    """One row per scenario, cell and rate."""

    model: str
    outcome: str
    rows: list[dict[str, Any]]
    provenance: dict[str, Any]

    def frame(self) -> pd.DataFrame:
        """The rows as a frame with :data:`COLUMNS`."""
        return pd.DataFrame(self.rows, columns=COLUMNS)

    @property
    def converged(self) -> bool:
        """False if any fitted scenario failed its convergence gate."""
        return not any(r["status"] == "not converged" for r in self.rows)


@dataclass
class ScenarioPlan:
    """A scenario checked before sampling: ready to fit, or why not."""

    scenario: Scenario
    prepared: pipeline.Prepared | None
    status: str  # "fit", "not run" or "not estimable"
    reason: str | None
    missing: set = field(default_factory=set)  # requested cells without direct data


def scenario_spec(spec: Spec, sc: Scenario) -> Spec:
    """The baseline ``spec`` with the scenario's priors and filters."""
    filters = {k: tuple(v) if isinstance(v, list | tuple) else v for k, v in sc.filters.items()}
    return dataclasses.replace(
        spec,
        priors={**spec.priors, **sc.priors},
        filters=dataclasses.replace(spec.filters, **filters),
    )


def prepare_scenario(
    sc: Scenario,
    cells: list[tuple[str | None, str | None]],
    baseline: pipeline.Prepared,
) -> ScenarioPlan:
    """Build the scenario's spec and units and decide whether it can be fitted (no sampling).

    The scenario is the ``baseline`` fit (as prepared: its spec, data, seed and evidence base)
    with the scenario's changes. A data scenario whose units are exactly the baseline's is not
    run (it would repeat the baseline).
    """
    if sc.skip:
        return ScenarioPlan(sc, None, "not run", sc.skip)
    request = baseline.request
    try:
        spec = scenario_spec(request.spec, sc)
        prepared = pipeline.prepare(
            dataclasses.replace(request, spec=spec, command=None), baseline.base
        )
    except HlhBayesError as exc:
        return ScenarioPlan(sc, None, "not estimable", str(exc))
    u = prepared.units
    if (
        sc.name != "baseline"
        and not sc.priors
        and not sc.study_weights
        and _same_units(u, baseline.units)
    ):
        return ScenarioPlan(sc, prepared, "not run", "the same evidence units as the baseline")
    missing = {c for c in cells if c[0] is not None and not cell_has_data(u, *c)}
    if len(missing) == len(cells):
        cells_text = " or ".join(_cell_text(c) for c in cells)
        reason = _no_data_reason(spec.filters.outcome, cells_text)
        return ScenarioPlan(sc, prepared, "not estimable", reason, missing)
    return ScenarioPlan(sc, prepared, "fit", None, missing)


def plan_scenarios(
    scenarios: list[Scenario],
    cells: list[tuple[str | None, str | None]],
    baseline: pipeline.Prepared,
) -> list[ScenarioPlan]:
    """Check every scenario against the ``baseline`` fit (as prepared): what will be fitted."""
    return [prepare_scenario(sc, cells, baseline) for sc in scenarios]


def run_sensitivity(
    baseline: pipeline.Prepared,
    scenarios: list[Scenario],
    cells: list[tuple[str | None, str | None]],
    log: Log = _silent,
) -> SensitivityResult:
    """Fit every scenario that can be fitted, in one batch, and collect the headline rows.

    ``baseline``: the fit every scenario changes, as prepared (its spec, sampler settings,
    seed, data and command are those of every scenario).
    """
    from hlhbayes.inference import Scenario as Variant
    from hlhbayes.inference import sample_scenarios
    from hlhbayes.provenance import provenance

    baseline_spec = baseline.request.spec
    model, data, seed = baseline_spec.model, baseline.request.data, baseline.request.seed
    checked = plan_scenarios(scenarios, cells, baseline)
    rows: dict[int, list[dict[str, Any]]] = {}
    blank = {"converged": None, "max_r_hat": None, "min_ess_bulk": None, "divergences": None}
    fitted = []
    for k, ch in enumerate(checked):
        if ch.status == "fit":
            fitted.append(k)
            continue
        units = ch.prepared.units if ch.prepared is not None else None
        log(f"[{k + 1}/{len(scenarios)}] {ch.scenario.name}: {ch.status} ({ch.reason})")
        rows[k] = []
        for cell in cells:
            reason = ch.reason
            if cell in ch.missing:
                reason = _no_data_reason(ch.prepared.request.spec.filters.outcome, _cell_text(cell))
            info = {**blank, "status": ch.status, "reason": reason}
            rows[k] += _rows(ch.scenario, [cell], None, units, info)
    variants = []
    for k in fitted:
        ch = checked[k]
        units = ch.prepared.units
        weights = ch.scenario.study_weights
        unit_weights = None
        if weights:
            studies = [units.studies[i] for i in np.concatenate([units.pat_study, units.agg_study])]
            unit_weights = np.array([weights.get(sid, 1.0) for sid in studies])
        variants.append(
            Variant(ch.scenario.name, units, ch.prepared.request.spec.priors, unit_weights)
        )

    def finished(j: int, fit: Any, left: float | None) -> None:
        k = fitted[j]
        ch = checked[k]
        records_list = summarise(fit.posterior, ch.prepared.model.hyperparameters)
        d = diagnose(fit.posterior, fit.sample_stats, records_list)
        state = "ok" if d.converged else "not converged"
        settings = (
            f" (re-run: target_accept {fit.target_accept:g}, {fit.tune} tuning)"
            if fit.attempts > 1
            else ""
        )
        eta = f", about {left:.0f} s left" if left else ""
        log(
            f"[{k + 1}/{len(scenarios)}] {ch.scenario.name}: {ch.prepared.units.in_words()}, "
            f"fitted in {fit.seconds:.1f} s, {state}{settings}{eta}"
        )
        info = {
            "converged": d.converged,
            "max_r_hat": d.max_r_hat,
            "min_ess_bulk": d.min_ess_bulk,
            "divergences": d.divergences,
            "status": state,
            "reason": "; ".join(d.problems()) or None,
        }
        records = {(r["quantity"], r["etiology"], r["line"]): r for r in records_list}
        outcome = ch.prepared.request.spec.filters.outcome
        rows[k] = []
        for cell in cells:
            if cell in ch.missing:
                reason = _no_data_reason(outcome, _cell_text(cell))
                missing = {**info, "status": "not estimable", "reason": reason}
                rows[k] += _rows(ch.scenario, [cell], None, ch.prepared.units, missing)
            else:
                rows[k] += _rows(ch.scenario, [cell], records, ch.prepared.units, info)

    if variants:
        first = checked[fitted[0]].prepared
        # heavy-tailed priors (HalfCauchy) give prior draws whose logits overflow exp() in the
        # models' logistic function: the value (0 or 1) is right, the warning is noise
        with np.errstate(over="ignore"):
            sample_scenarios(
                first.model,
                variants,
                first.request.spec,
                seed,
                log,
                finished,
                universe=baseline.units,
            )
    prov = provenance(
        data_hash=baseline.data_hash,
        data_source=str(data) if data else "default",
        spec=baseline_spec.to_dict(),
        seed=seed,
        method="mcmc (one compiled program per model structure, likelihood weights)",
        units={},
        excluded={},
        command=baseline.request.command,
    )
    prov["scenarios"] = [
        {
            "name": s.name,
            "priors": {k: p.to_dict() for k, p in s.priors.items()},
            "filters": s.filters,
            "study_weights": s.study_weights,
        }
        for s in scenarios
    ]
    ordered = [row for k in sorted(rows) for row in rows[k]]
    return SensitivityResult(model, baseline_spec.filters.outcome, ordered, prov)


def write_sensitivity(result: SensitivityResult, out: Path, force: bool = False) -> None:
    """Write the output folder whole or not at all (an existing one only with ``force``).

    ``sensitivity.csv``, ``sensitivity.json``, ``sensitivity.png`` (the forest figure) and
    ``provenance.json``.
    """
    from hlhbayes.living.figures import sensitivity_figure

    frame = result.frame()
    title = f"sensitivity {result.model}, {result.outcome}"
    write_output(
        out,
        "sensitivity",
        frame,
        result.provenance,
        lambda path: sensitivity_figure(frame, path, title),
        force,
    )


def _no_data_reason(outcome: str, cell: str) -> str:
    return (
        f"no direct {outcome} data on {cell} in this scenario (an estimate would rest on "
        "pooling and the priors alone)"
    )


def _cell_text(cell: tuple[str | None, str | None]) -> str:
    return f"{cell[0]}/{cell[1]}"


def _rows(
    sc: Scenario,
    cells: list[tuple[str | None, str | None]],
    records: dict | None,
    units: Units | None,
    info: dict[str, Any],
) -> list[dict[str, Any]]:
    out = []
    u = units.describe() if units is not None else {}
    for etiology, line in cells:
        for quantity in ("rate_typical", "rate_new"):
            rec = (records or {}).get((quantity, etiology, line))
            out.append(
                {
                    "scenario": sc.name,
                    "group": sc.group,
                    "description": sc.description,
                    "quantity": quantity,
                    "etiology": etiology,
                    "line": line,
                    "mean": rec["mean"] if rec else None,
                    "q2.5": rec["q2.5"] if rec else None,
                    "q97.5": rec["q97.5"] if rec else None,
                    "studies": u.get("studies"),
                    "patients": u.get("patients"),
                    "strata": u.get("strata"),
                    **info,
                }
            )
    return out


def _same_units(a: Units, b: Units) -> bool:
    return (a.studies, a.pat_ids, a.agg_ids) == (b.studies, b.pat_ids, b.agg_ids)
