"""What ``sbc.py`` concludes from its fits: rank uniformity, coverage, bias, the gate's failures.

Everything here works on the per-simulation records that ``sbc.py`` writes (one per simulated
data set and simulator: the fit's diagnostics and, per ranked quantity, the truth, its rank
among the thinned draws, the posterior mean and the central-interval bounds).

* **Rank uniformity**, per quantity, on the fits that passed the convergence gate: a chi-square
  test of the rank histogram (``bins`` equal bins over the ``L + 1`` possible ranks) and a
  Kolmogorov-Smirnov test of ``(rank + 0.5) / (L + 1)`` against U(0, 1). Multiplicity: per
  simulator, 2 tests x k quantities; a p-value below 0.01 is flagged, and the simulator's ranks
  FAIL when any p-value is below ``0.01 / (2 k)`` (Bonferroni; the quantities share parameters,
  so the tests are positively dependent and the correction is conservative). The same tests on
  all fits, failures included, are kept beside them.
* **Coverage** of the central 50, 90 and 95 % posterior intervals (quantiles of all draws, not
  the thinned ones): the share of fits whose interval holds the truth, with its binomial
  standard error and a two-sided binomial test against the nominal level (Bonferroni over
  3 levels x k quantities).
* **Bias**: the mean over fits of (posterior mean - truth), its standard error, and the root mean
  square error. Under the model's own simulator both are exactly zero in expectation (the
  posterior mean is unbiased over the prior predictive); under another simulator a non-zero bias
  is what that simulator does to the estimates.
* **Paired shift** (both simulators run): the two simulators share every true parameter, every
  patient row's outcome and every fit's seed, so the mean over simulations of (posterior mean
  under the convolution - posterior mean under the model's binomial) measures what the
  mean-probability approximation moves, with a paired standard error.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np

FLAG_P = 0.01
LEVELS = (0.5, 0.9, 0.95)


def uniformity(ranks: np.ndarray, n_ranks: int, bins: int) -> dict[str, Any]:
    """Chi-square test of the binned ranks and KS test of the scaled ranks against U(0, 1)."""
    from scipy import stats

    ranks = np.asarray(ranks, dtype=int)
    counts = np.bincount(ranks * bins // n_ranks, minlength=bins)
    if len(ranks) < 2:
        return {"n": len(ranks), "counts": counts.tolist(), "chi2": None, "chi2_p": None}
    chi2 = stats.chisquare(counts)
    ks = stats.kstest((ranks + 0.5) / n_ranks, "uniform")
    return {
        "n": len(ranks),
        "counts": counts.tolist(),
        "chi2": float(chi2.statistic),
        "chi2_p": float(chi2.pvalue),
        "ks": float(ks.statistic),
        "ks_p": float(ks.pvalue),
    }


def coverage(inside: np.ndarray, level: float) -> dict[str, Any]:
    """Share of fits whose central ``level`` interval holds the truth, its SE and test."""
    from scipy import stats

    n = len(inside)
    hits = int(np.sum(inside))
    share = hits / n if n else float("nan")
    p = float(stats.binomtest(hits, n, level).pvalue) if n else float("nan")
    se = math.sqrt(level * (1 - level) / n) if n else float("nan")
    return {"level": level, "share": share, "se_at_nominal": se, "binom_p": p}


def bias(estimate: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    """Mean and SE of (posterior mean - truth) over fits, and the root mean square error."""
    err = np.asarray(estimate, float) - np.asarray(truth, float)
    n = len(err)
    se = float(err.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
    return {
        "bias": float(err.mean()) if n else float("nan"),
        "se": se,
        "rmse": float(np.sqrt(np.mean(err**2))) if n else float("nan"),
    }


def summarise_mode(
    records: list[dict[str, Any]], names: list[str], n_ranks: int, bins: int
) -> dict[str, Any]:
    """Everything ``results.json`` says about one simulator's fits."""
    records = sorted(records, key=lambda r: r["sim"])
    ok = [r for r in records if r["converged"]]
    failed = [r for r in records if not r["converged"]]
    first_failed = [r for r in records if not r["first_run_converged"]]
    k = len(names)
    rank_threshold = FLAG_P / (2 * k)
    coverage_threshold = FLAG_P / (len(LEVELS) * k)
    tests, tests_all, cover, errors, ess = {}, {}, {}, {}, {}
    for name in names:
        q = [r["quantities"][name] for r in ok]
        tests[name] = uniformity(np.array([x["rank"] for x in q], int), n_ranks, bins)
        tests_all[name] = uniformity(
            np.array([r["quantities"][name]["rank"] for r in records], int), n_ranks, bins
        )
        truth = np.array([x["truth"] for x in q])
        cover[name] = [
            coverage(
                (np.array([x["interval"][str(level)][0] for x in q]) <= truth)
                & (truth <= np.array([x["interval"][str(level)][1] for x in q])),
                level,
            )
            for level in LEVELS
        ]
        errors[name] = bias(np.array([x["mean"] for x in q]), truth)
        ess[name] = float(min((x["ess_bulk"] for x in q), default=float("nan")))
    failing_ranks = [
        n
        for n, t in tests.items()
        if t["chi2_p"] is not None and min(t["chi2_p"], t["ks_p"]) < rank_threshold
    ]
    failing_coverage = [
        f"{n} {c['level']:g}"
        for n, levels in cover.items()
        for c in levels
        if c["binom_p"] < coverage_threshold
    ]
    low_ess = sum(
        1 for r in ok for name in names if r["quantities"][name]["ess_bulk"] < 4 * (n_ranks - 1)
    )
    return {
        "simulations": len(records),
        "converged": len(ok),
        "failed_gate_first_run": [r["sim"] for r in first_failed],
        "failed_gate_after_reruns": [
            {
                "sim": r["sim"],
                "divergences": r["divergences"],
                "max_r_hat": r["max_r_hat"],
                "min_ess_bulk": r["min_ess_bulk"],
                "truth": {h: r["quantities"][h]["truth"] for h in names if "[" not in h},
            }
            for r in failed
        ],
        "share_failed_gate_first_run": len(first_failed) / len(records) if records else None,
        "share_failed_gate_after_reruns": len(failed) / len(records) if records else None,
        "simulations_with_divergences": [r["sim"] for r in records if r["divergences"] > 0],
        "rank_tests": tests,
        "rank_tests_all_fits": tests_all,
        "rank_tests_per_simulator": 2 * k,
        "rank_bonferroni_threshold": rank_threshold,
        "ranks_failing": failing_ranks,
        # None: no fit passed the gate, so nothing was tested
        "ranks_uniform": not failing_ranks if len(ok) >= 2 else None,
        "coverage": cover,
        "coverage_bonferroni_threshold": coverage_threshold,
        "coverage_failing": failing_coverage,
        "bias": errors,
        "min_ess_bulk_of_ranked_quantities": ess,
        "ranked_pairs_with_ess_below_4L": low_ess,
    }


def data_differences(
    outcomes: dict[str, list[dict[str, Any]]], strata: tuple[str, ...]
) -> dict[str, Any]:
    """How many simulated data sets, and which strata, differ between the two simulators."""
    model = np.array([o["agg_events"] for o in outcomes["model"]]).reshape(
        len(outcomes["model"]), -1
    )
    convolution = np.array([o["agg_events"] for o in outcomes["convolution"]]).reshape(model.shape)
    differ = model != convolution
    n = len(model)
    return {
        "simulations": int(differ.any(axis=1).sum()),
        "share": float(differ.any(axis=1).mean()) if n else None,
        "per_stratum": {s: int(differ[:, j].sum()) for j, s in enumerate(strata)},
        "mean_events_convolution_minus_model": {
            s: float((convolution[:, j] - model[:, j]).mean()) for j, s in enumerate(strata)
        },
    }


def paired_shift(
    model: list[dict[str, Any]], convolution: list[dict[str, Any]], names: list[str]
) -> dict[str, Any]:
    """Posterior mean and 95 % width under the convolution minus under the model's binomial.

    Over the simulations whose fits passed the gate under both simulators: all of them (a data
    set identical under both has a shift of exactly 0) and those whose data differ.
    """
    by_sim = {r["sim"]: r for r in model if r["converged"]}
    pairs = [(by_sim[r["sim"]], r) for r in convolution if r["converged"] and r["sim"] in by_sim]
    differing = [(m, c) for m, c in pairs if c["own_fit"]]
    out: dict[str, Any] = {"pairs": len(pairs), "pairs_with_different_data": len(differing)}
    for label, chosen in (("all", pairs), ("different_data", differing)):
        out[label] = {}
        for name in names:
            shift = np.array(
                [c["quantities"][name]["mean"] - m["quantities"][name]["mean"] for m, c in chosen]
            )
            width = np.array(
                [_width(c["quantities"][name]) - _width(m["quantities"][name]) for m, c in chosen]
            )
            n = len(chosen)
            out[label][name] = {
                "mean_shift": float(shift.mean()) if n else None,
                "mean_shift_se": float(shift.std(ddof=1) / math.sqrt(n)) if n > 1 else None,
                "max_abs_shift": float(np.abs(shift).max()) if n else None,
                "width95_change": float(width.mean()) if n else None,
                "width95_change_se": float(width.std(ddof=1) / math.sqrt(n)) if n > 1 else None,
            }
    return out


def _width(q: dict[str, Any]) -> float:
    lo, hi = q["interval"]["0.95"]
    return hi - lo


def print_table(result: dict[str, Any]) -> None:
    """The result on stdout: per simulator, the rank tests, coverage and bias per quantity."""
    s = result["settings"]
    print(
        f"SBC etiology-line: {s['chains']} chains x {s['draws']} draws ({s['tune']} tuning, "
        f"target_accept {s['target_accept']}), ranks among L={s['thin_to']} thinned draws, "
        f"{s['bins']} bins"
    )
    for mode, m in result["modes"].items():
        print()
        print(
            f"simulator: {mode}: {m['simulations']} of {s['sims']} simulations fitted, "
            f"{m['converged']} passed the gate (ranks, coverage and bias on these)"
        )
        print(
            f"{'quantity':<30}{'chi2 p':>8}{'KS p':>8}  {'cov50':>6}{'cov90':>6}{'cov95':>6}"
            f"{'bias':>9}{'(se)':>8}"
        )
        for name, t in m["rank_tests"].items():
            if t["chi2_p"] is None:
                continue
            flag = "*" if min(t["chi2_p"], t["ks_p"]) < FLAG_P else " "
            cov = "".join(f"{c['share']:>6.3f}" for c in m["coverage"][name])
            b = m["bias"][name]
            print(
                f"{name:<30}{t['chi2_p']:>8.3f}{t['ks_p']:>8.3f}{flag} {cov}"
                f"{b['bias']:>9.4f}{b['se']:>8.4f}"
            )
        print(
            f"* p < {FLAG_P:g}. Ranks: {m['rank_tests_per_simulator']} tests, Bonferroni "
            f"threshold {m['rank_bonferroni_threshold']:.2g} -> "
            + {True: "UNIFORM (no failure)", None: "NOT TESTED (fewer than 2 fits passed)"}.get(
                m["ranks_uniform"], f"FAILED: {m['ranks_failing']}"
            )
        )
        print(
            f"Coverage (binomial test, Bonferroni {m['coverage_bonferroni_threshold']:.2g}): "
            + (", ".join(m["coverage_failing"]) or "no level off")
        )
        first, after = m["failed_gate_first_run"], m["failed_gate_after_reruns"]
        n = max(m["simulations"], 1)
        print(
            f"Convergence gate: {len(first)} of {m['simulations']} ({100 * len(first) / n:.1f} %) "
            f"failed at the first run, {len(after)} ({100 * len(after) / n:.1f} %) after the "
            f"re-runs" + (f": sims {[f['sim'] for f in after]}" if after else "")
        )
    if "paired" in result:
        d, p = result["data_differ"], result["paired"]
        print()
        print(
            f"data sets that differ between the simulators: {d['simulations']} of "
            f"{s['sims']} "
            f"(per stratum: {', '.join(f'{k} {v}' for k, v in d['per_stratum'].items() if v)})"
        )
        print(
            f"convolution minus model over the {p['pairs_with_different_data']} fitted pairs "
            "with different data: posterior mean shift (se), max |shift|, 95 % width change (se)"
        )
        for name, q in p["different_data"].items():
            if q["mean_shift"] is None:
                continue
            print(
                f"{name:<30}{q['mean_shift']:>9.4f} ({q['mean_shift_se'] or 0:.4f})"
                f"{q['max_abs_shift']:>9.4f}"
                f"{q['width95_change']:>9.4f} ({q['width95_change_se'] or 0:.4f})"
            )
    r = result["runtime"]
    print()
    print(
        f"fitting: {r['fits_wall_s']:.0f} s wall, {r['fits_cpu_s']:.0f} s CPU over "
        f"{r['batches']} batches; this process {r['process_wall_s']:.0f} s wall; "
        f"load average {r['load_average_mean']:.1f} on {r['cpus']} cores"
    )


def rank_figure(result: dict[str, Any]) -> bytes:
    """PNG of every quantity's rank histogram, one bar colour per simulator, 99 % bands."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy import stats

    modes = list(result["modes"])
    names = list(result["modes"][modes[0]]["rank_tests"])
    bins = result["settings"]["bins"]
    ncol = 4
    nrow = math.ceil(len(names) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.4 * ncol, 2.3 * nrow), squeeze=False)
    # fixed margins: tight_layout would measure every title and tick label (seconds of CPU)
    fig.subplots_adjust(left=0.04, right=0.99, bottom=0.02, top=0.93, wspace=0.2, hspace=0.55)
    colours = {"model": "0.55", "convolution": "tab:orange"}
    width = 0.9 / len(modes)
    for ax, name in zip(axes.flat, names, strict=False):
        title = [name]
        for i, mode in enumerate(modes):
            t = result["modes"][mode]["rank_tests"][name]
            n = t["n"]
            x = np.arange(bins) + (i - (len(modes) - 1) / 2) * width
            ax.bar(x, t["counts"], width=width, color=colours[mode], label=mode, lw=0)
            if i == 0 and n:
                lo, hi = stats.binom.ppf([0.005, 0.995], n, 1 / bins)
                ax.axhspan(lo, hi, color="tab:blue", alpha=0.12, lw=0)
                ax.axhline(n / bins, color="black", lw=0.8)
            if t["chi2_p"] is not None:
                title.append(f"{mode}: chi2 p={t['chi2_p']:.2f} KS p={t['ks_p']:.2f}")
        ax.set_title("\n".join(title), fontsize=7)
        ax.set_xticks([])
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7, loc="lower left")
    fig.suptitle(
        "Rank histograms (fits passing the gate); band: 99 % of a bin's count under uniformity",
        fontsize=9,
    )
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def rank_rows(records: list[dict[str, Any]], names: list[str]) -> list[dict[str, Any]]:
    """One row per simulation, simulator and quantity (``ranks.csv``)."""
    rows = []
    for r in sorted(records, key=lambda r: (r["mode"], r["sim"])):
        for name in names:
            q = r["quantities"][name]
            rows.append(
                {
                    "simulator": r["mode"],
                    "sim": r["sim"],
                    "quantity": name,
                    "truth": q["truth"],
                    "rank": q["rank"],
                    "mean": q["mean"],
                    "ess_bulk": q["ess_bulk"],
                    "converged": r["converged"],
                    "own_fit": r.get("own_fit", True),
                    "attempts": r["attempts"],
                    "divergences": r["divergences"],
                    "max_r_hat": r["max_r_hat"],
                    "min_ess_bulk": r["min_ess_bulk"],
                }
            )
    return rows


def write_outputs(
    out: Path, result: dict[str, Any], records: list[dict[str, Any]], names: list[str]
) -> None:
    """``results.json``, ``ranks.csv`` and ``rank_histograms.png``, all written or none."""
    import pandas as pd

    from hlhbayes.atomic import json_text, write_atomically

    writes = {
        out / "results.json": json_text(result).encode("utf-8"),
        out / "ranks.csv": pd.DataFrame(rank_rows(records, names)).to_csv(index=False).encode(),
    }
    if records:
        writes[out / "rank_histograms.png"] = rank_figure(result)
    write_atomically(writes)
