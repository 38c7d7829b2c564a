"""Every option name of the command line and what it means: one meaning per name.

A name means the same thing in every command that takes it: ``--out DIR`` is always the folder
a command writes, ``-o/--output FILE`` always the one file it writes, ``--plot FILE`` /
``--no-plot`` always its figure, ``--format table|json|csv`` always how it prints its table.
``tests/test_cli_vocabulary.py`` walks the command tree and checks every option against this
table, and that the README's "Options" table is :func:`markdown_table`.
"""

from __future__ import annotations

VOCABULARY: dict[str, str] = {
    # shared by many commands
    "--data": "The evidence base folder (default: $HLHBAYES_DATA, else the workspace's, else "
    "the shipped one); fit also takes a study/events/total CSV",
    "--out": "The folder a command writes (a run folder, an output folder, templates)",
    "--output": "The one file a command writes (a prior file)",
    "--out-dir": "The folder under which report writes its own named report folder",
    "--plot": "The figure file a command draws",
    "--no-plot": "Draw no figure",
    "--format": "How results print: table (people), json or csv (scripts); report: html or md",
    "--wide": "Terminal tables keep their long columns (URLs, long text)",
    "--quiet": "No progress messages on stderr",
    "--force": "Replace what is already there",
    "--dry-run": "Check everything and say what would happen; write and sample nothing",
    "--wait": "Seconds to wait for another command using the same place",
    "--no-wait": "Refuse at once if another command uses the same place",
    # the question
    "--model": "The model (fit, cumulative, sensitivity) or saved analyses (update)",
    "--outcome": "response or death",
    "--etiology": "An etiology cell: infection, malignancy, rheumatic, other or unknown",
    "--line": "A line-of-therapy cell: first or later",
    "--threshold": "A rate T (a probability, 0-1): report P(rate > T)",
    "--population": "adult, pediatric or all",
    "--condition": "Conditions to include",
    "--exclude-study": "A study id to leave out",
    "--exclude-derived": "Leave out counts derived from stated figures",
    "--death-timeframe": "Death counts of this timeframe enter (--outcome death)",
    "--include-after-anakinra-failure": "Count anakinra after anakinra failure as later line",
    "--study-col": "random-effects table: the study column",
    "--events-col": "random-effects table: the events column",
    "--total-col": "random-effects table: the total column",
    "--spec": "A model spec file",
    "--prior": "fit: NAME=FAMILY:PARAMS, a model prior; design: a prior for the rate (file, "
    "beta:A,B or mix:...)",
    "--prior-mu-mean": "Mean of the normal prior on mu",
    "--prior-mu-sd": "SD of the normal prior on mu",
    "--prior-tau": "The prior on tau",
    "--method": "mcmc or exact (quadrature, random-effects)",
    # the sampler
    "--chains": "MCMC chains",
    "--draws": "Draws per chain",
    "--tune": "Tuning steps per chain",
    "--target-accept": "NUTS target acceptance",
    "--sampler": "The NUTS implementation",
    "--seed": "The random seed",
    # evidence base
    "--patients": "data add: the study's patient CSV; data template: write that CSV too",
    "--replace": "Replace a study with the same id",
    "--allow-overlap": "Add a study that overlaps a pooled one, not pooled",
    # living evidence
    "--new": "A study just added (update)",
    "--runs": "The runs folder",
    "--order": "Study ids to add first (cumulative)",
    "--scenarios": "Scenario names or patterns (sensitivity)",
    "--list": "List the scenarios and exit (sensitivity)",
    "--name": "The report folder's name",
    "--allow-stale": "Report a run whose evidence base has changed since",
    "--sensitivity": "The sensitivity table of a fit (priors at half and double scale and "
    "half-Cauchy, small series out or down-weighted): fit makes it unless --no-sensitivity; "
    "report makes it for a run without one",
    # design
    "--components": "Number of beta mixture components",
    "--robust": "Weight (a probability) of a vague component added to the MAP prior",
    "--robust-mean": "Mean of that vague component",
    "--unconstrained": "Let beta shapes go below 1",
    "--weight": "Weight (a probability) of the vague component",
    "--mean": "Mean of the vague component",
    "--n": "Patients (single arm)",
    "--n-treat": "Treatment-arm patients",
    "--n-control": "Control-arm patients",
    "--n-min": "Smallest sample size searched",
    "--n-max": "Largest sample size searched",
    "--responders": "Responders observed (single arm)",
    "--responders-treat": "Treatment-arm responders",
    "--responders-control": "Control-arm responders",
    "--p0": "The threshold rate p0 of a single-arm rule (a probability)",
    "--delta": "The margin of a two-arm rule",
    "--prob": "Posterior probability C that success requires (a probability)",
    "--lower-tail": "Success means a low rate",
    "--prior-treat": "Treatment-arm prior",
    "--prior-control": "Control-arm prior",
    "--rate": "A true rate (a probability)",
    "--rates": "True rates to evaluate",
    "--rate-treat": "True treatment rate (a probability)",
    "--rate-control": "True control rate(s)",
    "--rates-treat": "True treatment rates to evaluate",
    "--differences": "True differences p_t - p_c to evaluate",
    "--target-power": "The power to reach (a probability)",
    "--ratio": "n_treat / n_control",
    "--scan-all": "Evaluate every size up to --n-max",
    "--design-prior": "Distribution of the true rate (single arm)",
    "--design-treat": "Distribution of the true treatment rate",
    "--design-control": "Distribution of the true control rate",
}
"""Option name (its long form) -> what it means, in every command that takes it."""

TABLE_FORMATS = ("table", "json", "csv")
"""The ``--format`` choices of a command that prints a table."""

OTHER_FORMATS = {("report",): ("html", "md", "both", "pdf", "all")}
"""Commands whose ``--format`` is not a table's: what they write instead."""


def markdown_table() -> str:
    """The README's option table: every name with its meaning, in alphabetical order."""
    rows = ["| Option | Meaning |", "|---|---|"]
    for name in sorted(VOCABULARY):
        rows.append(f"| `{name}` | {VOCABULARY[name]} |")
    return "\n".join(rows) + "\n"
