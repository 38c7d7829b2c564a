"""Living evidence: update the saved analyses when a series is added, and see what changed.

- :mod:`~hlhbayes.living.compare`: before/after of every reported quantity between two runs.
- :mod:`~hlhbayes.living.conflict`: prior-data conflict of a new series against the previous
  fit's predictive distribution.
- :mod:`~hlhbayes.living.update`: ``hlhbayes update``.
- :mod:`~hlhbayes.living.cumulative`: cumulative meta-analysis with one compiled model.
- :mod:`~hlhbayes.living.sensitivity`: the headline estimates under alternative choices.
- :mod:`~hlhbayes.living.figures`: the figures of the above;
  :mod:`~hlhbayes.living.output`: the output folder of cumulative and sensitivity.
"""
