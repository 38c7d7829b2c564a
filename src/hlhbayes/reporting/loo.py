"""PSIS-LOO for the report: Pareto k and elpd per observation, and per study left out whole.

ArviZ warns when a Pareto k exceeds its threshold (importance sampling is then unreliable for
that observation). Those observations are what the tables flag and the summary lines count, so
that warning is taken in as data; any other warning ArviZ gives is written into the report's
lines, not hidden. A LOO that cannot be computed is a line saying why.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import xarray as xr

from hlhbayes.datatree import observed_log_likelihood
from hlhbayes.reporting.estimates import EvidenceRow
from hlhbayes.reporting.loading import CheckedRun
from hlhbayes.reporting.tables import make_table, row

PARETO_WARNING = "Estimated shape parameter of Pareto distribution"
"""The start of ArviZ's warning about Pareto k above the threshold (flagged in the tables)."""


def psis_loo(data: Any, var_name: str) -> tuple[Any | None, str | None, list[str]]:
    """``arviz.loo`` of ``var_name``, pointwise: ``(result, why it failed, other warnings)``.

    The result is ``None`` when LOO cannot be computed (and the reason is given). ArviZ's
    warning about high Pareto k is expected (the tables flag those observations); the text of
    any other warning is returned, once each.
    """
    import arviz as az

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = az.loo(data, var_name=var_name, pointwise=True)
        except (ValueError, TypeError, FloatingPointError) as exc:
            return None, str(exc), []
    others = dict.fromkeys(
        str(w.message) for w in caught if not str(w.message).startswith(PARETO_WARNING)
    )
    return result, None, list(others)


def loo_tables(run: CheckedRun, rows: list[EvidenceRow]) -> tuple[dict[str, Any], list[str]]:
    """PSIS-LOO: Pareto k and elpd per observation (patient or stratum), and summary lines.

    An observation is flagged when its k is above arviz's threshold (0.7; lower for few draws).
    """
    units = run.units
    study_of = {}
    for r in rows:
        if r.group is None:
            study_of.update({("y_patient", int(i)): r.study for i in r.patients})
            study_of.update({("y_stratum", int(i)): r.study for i in r.strata})
    out, lines = [], []
    log_likelihood = run.idata["log_likelihood"].to_dataset()
    for name in run.model.observed:
        pointwise = observed_log_likelihood(log_likelihood, name)
        if pointwise is None:
            continue
        tree = _loo_tree(run.idata["posterior"].to_dataset(), pointwise)
        loo, failure, warned = psis_loo(tree, "y")
        if loo is None:
            lines.append(f"{name}: PSIS-LOO could not be computed ({failure}).")
            continue
        k = np.asarray(loo.pareto_k.values)
        elpd = np.asarray(loo.elpd_i.values)
        threshold = float(loo.good_k)
        kind = "patient" if name == "y_patient" else "stratum"
        ids = units.pat_ids if name == "y_patient" else units.agg_ids
        for i, uid in enumerate(ids):
            if name == "y_patient":
                observed = f"{units.pat_y[i]}/1"
            else:
                observed = f"{units.agg_events[i]}/{units.agg_total[i]}"
            flagged = k[i] > threshold
            out.append(
                (
                    -k[i],
                    row(
                        [
                            uid,
                            study_of.get((name, i), ""),
                            kind,
                            observed,
                            f"{elpd[i]:.2f}",
                            f"{k[i]:.2f}",
                            "influential" if flagged else "",
                        ],
                        "flag" if flagged else None,
                    ),
                )
            )
        n_bad = int((k > threshold).sum())
        lines.append(
            f"{kind} likelihood ({len(ids)} observations): elpd_loo {loo.elpd:.2f} "
            f"(SE {loo.se:.2f}), p_loo {loo.p:.2f}; {n_bad} with Pareto k > {threshold:.2f}."
        )
        lines += [f"{name}: ArviZ warned: {text}" for text in warned]
    out.sort(key=lambda pair: pair[0])
    table = make_table(
        "loo",
        "PSIS-LOO: Pareto k per observation",
        ["Observation", "Study", "Kind", "Observed", "elpd_i", "Pareto k", "Flag"],
        [r for _, r in out],
        note=(
            "Sorted by Pareto k. A k above the threshold marks an observation whose removal "
            "would change the posterior a lot (an influential study, stratum or patient); its "
            "leave-one-out estimate is then unreliable."
        ),
        numeric=(4, 5),
    )
    return table, lines


def _loo_tree(posterior: xr.Dataset, pointwise: xr.DataArray) -> xr.DataTree:
    """A tree for ``arviz.loo`` with one pointwise log-likelihood, ``y``.

    ``posterior`` gives the relative efficiency of the draws (their mean ESS over its variables).
    """
    return xr.DataTree.from_dict(
        {"posterior": posterior, "log_likelihood": xr.Dataset({"y": pointwise})}
    )


def study_log_likelihood(run: CheckedRun) -> xr.DataArray:
    """Pointwise log-likelihood summed within each study: ``(chain, draw, study)``.

    A study's patients and strata are conditionally independent given the parameters, so the
    log-likelihood of leaving the whole study out is the sum of theirs.
    """
    units = run.units
    ll = run.idata["log_likelihood"].to_dataset()
    parts = []
    for name, study in (("y_patient", units.pat_study), ("y_stratum", units.agg_study)):
        pointwise = observed_log_likelihood(ll, name)
        if pointwise is not None:
            parts.append((pointwise.values, study))
    first = parts[0][0]
    total = np.zeros((*first.shape[:2], len(units.studies)))
    for values, study in parts:
        for j, s in enumerate(study):
            total[..., s] += values[..., j]
    return xr.DataArray(
        total, dims=("chain", "draw", "study"), coords={"study": list(units.studies)}
    )


def loo_study_table(run: CheckedRun) -> tuple[dict[str, Any], str]:
    """PSIS-LOO leaving out one whole study at a time: Pareto k and elpd per study."""
    units = run.units
    columns = ["Study", "Patients", "Strata", "elpd (study)", "Pareto k", "Flag"]
    # arviz's loo requires a posterior group; one variable is enough
    posterior = run.idata["posterior"].to_dataset()[[run.model.hyperparameters[0]]]
    loo, failure, warned = psis_loo(_loo_tree(posterior, study_log_likelihood(run)), "y")
    if loo is None:
        line = f"leave-one-study-out PSIS-LOO could not be computed ({failure})."
        return make_table("loo_study", "PSIS-LOO by study", columns, []), line
    k = np.asarray(loo.pareto_k.values)
    elpd = np.asarray(loo.elpd_i.values)
    threshold = float(loo.good_k)
    ranked = []
    for i, sid in enumerate(units.studies):
        flagged = k[i] > threshold
        cells = [
            sid,
            str(int((units.pat_study == i).sum())),
            str(int((units.agg_study == i).sum())),
            f"{elpd[i]:.2f}",
            f"{k[i]:.2f}",
            "influential" if flagged else "",
        ]
        ranked.append((-k[i], row(cells, "flag" if flagged else None)))
    ranked.sort(key=lambda pair: pair[0])
    table = make_table(
        "loo_study",
        "PSIS-LOO by study: leaving out one whole study",
        columns,
        [r for _, r in ranked],
        note=(
            "Each study's patients and strata left out together (their log-likelihoods summed). "
            "A Pareto k above the threshold marks a study whose removal would move the posterior "
            "a lot; `hlhbayes sensitivity` refits without each study to show by how much."
        ),
        numeric=(1, 2, 3, 4),
    )
    n_bad = int((k > threshold).sum())
    line = (
        f"by study ({len(units.studies)} studies): elpd_loo {loo.elpd:.2f} (SE {loo.se:.2f}); "
        f"{n_bad} with Pareto k > {threshold:.2f}."
    )
    return table, " ".join([line, *(f"ArviZ warned: {text}" for text in warned)])
