"""Fixed text of a report: the question and the model equations.

Equations are plain Unicode (no MathJax), so the report reads offline.
"""

from __future__ import annotations

EQUATIONS = {
    "etiology-line": """\
Evidence unit j (a patient, or an aggregate stratum of n_j patients) in study s(j):

  patient:  y_j ~ Bernoulli(p_j),
            logit p_j = Σ_e w_je·η_e + γ·v_j + u_s(j)
  stratum:  r_j ~ Binomial(n_j, p̄_j),
            p̄_j = Σ_e w_je·[(1 − v_j)·logit⁻¹(η_e + u_s(j)) + v_j·logit⁻¹(η_e + γ + u_s(j))]

  η_e = α + σ_η·z_e,  z_e ~ N(0, 1)        etiologies partially pooled (non-centred)
  u_s = τ·z_s,        z_s ~ N(0, 1)        between-study heterogeneity (non-centred)

  w_je: etiology weights of unit j (1 on a patient's trigger, 1/2 on each of two triggers;
        a stratum's reported fractions); v_j: its later-line fraction (0/1 for a patient).
  Unknown mixes are latent, never guessed:  w_j ~ Dirichlet(1 + c·w̄),
        v_j ~ Beta(1 + c·v̄, 1 + c·(1 − v̄)), w̄, v̄ the pooled mix of the known units,
        c the composition concentration.

Reported, for etiology e and line l ([l] = 1 for the later line):
  rate_typical[e, l] = logit⁻¹(η_e + γ·[l])               a typical study (u = 0)
  rate_new[e, l]     = logit⁻¹(η_e + γ·[l] + u_new),
                       u_new ~ N(0, τ)                    a new study: the MAP prior""",
    "random-effects": """\
Study i with r_i events out of n_i:

  r_i ~ Binomial(n_i, p_i),  logit p_i = θ_i = μ + τ·z_i,  z_i ~ N(0, 1)   (non-centred)

Reported:
  rate_typical = logit⁻¹(μ)                                 a typical study
  rate_new     = logit⁻¹(μ + τ·z_new),  z_new ~ N(0, 1)     a new study: the MAP prior
  study estimate (forest plot) = logit⁻¹(θ_i)""",
}

APPROXIMATION_NOTE = {
    "etiology-line": (
        "A stratum that mixes etiologies or lines is fitted with the mean probability of its "
        "members, an approximation to the exact convolution of binomials (same mean, slightly "
        "larger variance; measured in tests/test_mixture_approximation.py)."
    ),
    "random-effects": (
        "The classic binomial-logit-normal meta-analysis (RBesT gMAP; brms "
        "r | trials(n) ~ 1 + (1 | study)). Fitted to the evidence base it uses one count per "
        "study: its patients and strata added up."
    ),
}


def question(model: str, outcome: str, table: str | None) -> str:
    """The clinical question the run answers."""
    if table is not None:
        return (
            f"What is the pooled event rate across the studies of {table}, in a typical study "
            "and in a new study?"
        )
    what = (
        "how often does anakinra control secondary haemophagocytic lymphohistiocytosis (sHLH)"
        if outcome == "response"
        else "how often do patients with secondary HLH treated with anakinra die (mortality "
        "at last follow-up as reported)"
    )
    if model == "random-effects":
        return f"Across studies, {what}? (one pooled rate, all triggers and lines together)"
    return (
        f"{what[0].upper()}{what[1:]}, and how does that depend on the "
        "trigger (infection, malignancy, rheumatic disease, other, unknown) and on the line of "
        "therapy (anakinra first, or after another treatment failed)?"
    )
