"""hlhbayes: Bayesian evidence synthesis for anakinra in secondary HLH."""

__version__ = "0.1.0"
