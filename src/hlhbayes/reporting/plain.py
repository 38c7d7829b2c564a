"""Plain words for the parts of a report a clinician reads, and one glossary line per table.

The clinician-facing parts (the summary of findings, the question, the evidence and the results)
say "average across studies" and "expected in a new centre", never a variable name; every
technical table carries a one-line glossary that maps its words to the model's.
"""

from __future__ import annotations

from typing import Any

AVERAGE = "average across studies"
NEW_CENTRE = "expected in a new centre"
QUANTITY_WORDS = {"rate_typical": AVERAGE, "rate_new": NEW_CENTRE}

LINE_WORDS = {
    "first": "anakinra as the first treatment",
    "later": "anakinra after another treatment failed",
}

GLOSSARY = {
    "results": (
        "Average across studies: the rate in a study with an average study effect "
        "(rate_typical). Expected in a new centre: the rate to expect in a centre not in the "
        "evidence, which adds the differences between studies (rate_new, the "
        "meta-analytic-predictive or MAP prior of trial design). Intervals: 95% equal-tailed "
        "posterior intervals. MC error: Monte Carlo standard error of the mean."
    ),
    "hyperparameters": (
        "Hyperparameters: the model's parameters on the logit (log-odds) scale; the SDs "
        "(sigma_eta: spread between triggers, tau: spread between studies) are on that scale too."
    ),
    "priors": (
        "Prior: what the model assumes before the data (normal: mean and SD; halfnormal: SD of "
        "a normal folded at 0), on the logit scale."
    ),
    "sampler": (
        "NUTS: the Markov chain Monte Carlo sampler; chains are run independently and their "
        "draws pooled after the tuning steps are discarded."
    ),
    "diagnostics": (
        "R-hat: agreement between chains (1.00 is perfect; the gate asks at most "
        "{max_r_hat}); ESS: effective number of independent draws (the gate asks at least "
        "{min_ess}); MCSE: Monte Carlo standard error."
    ),
    "loo": (
        "PSIS-LOO: how well each observation is predicted by the fit to the others; Pareto k "
        "above the threshold: an observation the fit leans on heavily."
    ),
    "loo_study": (
        "The same with all of a study's observations left out together: a high Pareto k marks a "
        "study the estimates depend on."
    ),
    "support": (
        "Contraction: how much the data narrowed the prior (1: completely, 0: not at all). "
        "Borrowed: how much of the estimate comes from other triggers and lines."
    ),
    "sensitivity": (
        "Each scenario changes one choice of this analysis: how much the studies (or the "
        "triggers) are assumed to differ, through a prior half or twice as wide, or heavy-tailed "
        "(half-Cauchy: large differences more plausible); or the small series, left out (fewer "
        "than 5 patients) or counted at half weight (fewer than 10 patients, every outcome "
        "favourable). Lower end: the 2.5% end of the 95% interval."
    ),
    "support_hyperparameters": (
        "Contraction as above; sensitivity: how much the result moves when the prior (or the "
        "likelihood) is made a little stronger or weaker."
    ),
}


def cell_label(etiology: str | None, line: str | None) -> str:
    """``Infection-triggered sHLH, anakinra as the first treatment``; ``All studies pooled``."""
    if etiology is None:
        return "All studies pooled"
    trigger = {
        "other": "Other triggers",
        "unknown": "Trigger unknown",
        "rheumatic": "Rheumatic disease",
    }.get(etiology, f"{etiology.capitalize()}-triggered sHLH")
    return f"{trigger}, {LINE_WORDS.get(str(line), str(line))}"


def per_100_label(threshold: float) -> str:
    """``more than 50 of 100`` for 0.5."""
    return f"more than {100 * threshold:g} of 100"


def direct_evidence(support: dict[str, Any] | None) -> str:
    """Patients and studies with direct data on a cell, from its support record."""
    if support is None:
        return "see the evidence table"
    patients, studies = support["direct_patients"], support["direct_studies"]
    if not patients:
        return "no patient with this trigger and line"
    text = (
        f"{patients:g} {'patient' if patients == 1 else 'patients'} in {studies} "
        f"{'study' if studies == 1 else 'studies'}"
    )
    uncertain = support.get("uncertain_patients") or 0
    if uncertain:
        text += f" (about {round(uncertain, 1):g} more in groups of unreported trigger or line)"
    return text


def support_statements(support: dict[str, Any] | None) -> list[str]:
    """Plain statements for a cell whose estimate rests little on its own patients."""
    if support is None:
        return []
    flags = support.get("flags") or []
    out = []
    if "no direct data" in flags:
        out.append("No patient with this trigger and line: borrowed from other triggers and lines.")
    elif "mostly borrowed" in flags:
        out.append("Mostly borrowed from other triggers and lines.")
    if "prior-dominated" in flags:
        out.append(
            "Driven by the prior: the data narrow the model's starting assumptions by less "
            "than half."
        )
    return out


def glossary(table_id: str, **values: Any) -> str | None:
    """The one-line glossary of a technical table (``None`` for a clinician's table)."""
    text = GLOSSARY.get(table_id)
    return None if text is None else text.format(**values)
