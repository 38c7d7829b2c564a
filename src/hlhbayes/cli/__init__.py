"""The ``hlhbayes`` command line: a thin layer over the library.

Results go to stdout, messages to stderr. Exit codes: 0 ok, 1 bad input or domain error,
2 usage error, 3 fitted but not converged.
"""

from hlhbayes.cli.main import main, run

__all__ = ["main", "run"]
