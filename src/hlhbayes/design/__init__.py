"""Trial design from the evidence (RBesT's vocabulary, for a binary endpoint).

- :mod:`~hlhbayes.design.mixture`: beta-mixture priors, conjugate updates, prior files;
- :mod:`~hlhbayes.design.em`: EM fit of a mixture to MAP draws, components chosen by AIC;
- :mod:`~hlhbayes.design.map_prior`: from a run folder to a (robust) MAP prior;
- :mod:`~hlhbayes.design.ess`: effective sample size (ELIR, moment, Morita, ELIR on the logit
  scale);
- :mod:`~hlhbayes.design.predictive`: the predictive distribution of future responders;
- :mod:`~hlhbayes.design.decision`: decision rules and boundaries, single arm and two arms;
- :mod:`~hlhbayes.design.oc`: exact operating characteristics and sample size;
- :mod:`~hlhbayes.design.pos`: probability of success (assurance);
- :mod:`~hlhbayes.design.plots`, :mod:`~hlhbayes.design.text`: figures, tables and the rounding
  rule of printed numbers.
"""

from hlhbayes.design.decision import Rule1S, Rule2S, boundary_1s, boundary_2s, prob_difference
from hlhbayes.design.em import auto_fit, fit_beta_mixture
from hlhbayes.design.ess import ess, ess_elir, ess_elir_logit, ess_moment, ess_morita
from hlhbayes.design.mixture import BetaMixture, PriorFileError, load_prior, read_prior_file
from hlhbayes.design.oc import (
    Design1S,
    Design2S,
    find_delta,
    oc_1s,
    oc_2s,
    sample_size_1s,
    sample_size_2s,
)
from hlhbayes.design.pos import pos_1s, pos_2s
from hlhbayes.design.predictive import Predictive, predictive

__all__ = [
    "BetaMixture",
    "Design1S",
    "Design2S",
    "Predictive",
    "PriorFileError",
    "Rule1S",
    "Rule2S",
    "auto_fit",
    "boundary_1s",
    "boundary_2s",
    "ess",
    "ess_elir",
    "ess_elir_logit",
    "ess_moment",
    "ess_morita",
    "find_delta",
    "fit_beta_mixture",
    "load_prior",
    "oc_1s",
    "oc_2s",
    "pos_1s",
    "pos_2s",
    "predictive",
    "prob_difference",
    "read_prior_file",
    "sample_size_1s",
    "sample_size_2s",
]
