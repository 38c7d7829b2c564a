"""Shared fixtures: the shipped evidence base and a scratch copy of it."""

from __future__ import annotations

import atexit
import gc
import shutil
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hlhbayes.evidence import EvidenceBase, load_evidence

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "src" / "hlhbayes" / "shipped"  # the checkout's workspace (hlhbayes.toml)
DATA = SHIPPED / "data"
MODELS = SHIPPED / "models"


def pytest_configure(config) -> None:
    """Ctrl-C reaches the suite and the commands it starts, however the suite was started.

    A shell without job control starts a background job (``make test &``) with SIGINT ignored,
    and every process it starts inherits that: the tests that press Ctrl-C would wait for a
    command that never stops. Python's own handler is put back here (and a process started from
    a handled signal gets the default action).
    """
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_unconfigure(config) -> None:
    """A test process (each worker, and the controller) ends as the ``hlhbayes`` executable
    does (:func:`hlhbayes.cli.main.run`): no garbage collection of its whole heap at exit.

    A worker that has imported PyMC, JAX and ArviZ and run hundreds of tests holds millions of
    objects; Python's collections at its exit took 2-3 s of the suite's wall time (the
    controller waits for its workers), for memory the operating system takes back anyway.
    """
    atexit.register(gc.freeze)


# --------------------------------------------------------------------------------------------
# Running the suite on several workers (pytest-xdist, `make test`)


DEFAULT_FIT_MODULES = (
    "tests/test_cli_fit.py",
    "tests/test_living_cumulative.py",
    "tests/test_reporting_findings.py",
)
"""The test modules that read ``default_fit``: they run on one worker, which fits it once."""


def pytest_collection_modifyitems(config, items) -> None:
    """On a worker: put the modules that sample first; refuse a reader of ``default_fit``
    outside :data:`DEFAULT_FIT_MODULES` (it would fit it again on another worker).

    The modules are handed to the workers in this order, each to the first worker free: the
    slow ones first, then the other sampling ones, the many short structural ones last, so that
    the workers finish together. Within a module, tests keep their order.
    """
    if not hasattr(config, "workerinput"):
        return
    strays = sorted(
        {
            module(item.nodeid)
            for item in items
            if "default_fit" in getattr(item, "fixturenames", ())
            and module(item.nodeid) not in DEFAULT_FIT_MODULES
        }
    )
    if strays:
        raise pytest.UsageError(
            f"{', '.join(strays)} read default_fit: add them to DEFAULT_FIT_MODULES (conftest.py)"
        )

    def tier(name: str) -> int:
        marks = {m.name for item in by_module[name] for m in item.iter_markers()}
        return 0 if "slow" in marks else 1 if "sampling" in marks else 2

    by_module: dict[str, list] = {}
    for item in items:
        by_module.setdefault(module(item.nodeid), []).append(item)
    order = sorted(by_module, key=tier)  # stable: collection order within a tier
    items[:] = [item for name in order for item in by_module[name]]


def module(nodeid: str) -> str:
    """The test module of a test's node id."""
    return nodeid.split("::", 1)[0]


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config, log):
    """Each test module goes to one worker, whole, so its module fixtures are made once; the
    modules of :data:`DEFAULT_FIT_MODULES` go to one worker together, which makes the session's
    fit at the default settings once.

    (pytest-xdist's own ``xdist_group`` marks do not group anything under pytest 9.2: the
    suffix xdist puts on a test's node id no longer reaches the scheduler.)
    """
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModulesAndGroups(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            name = module(nodeid)
            return "default_fit" if name in DEFAULT_FIT_MODULES else name

    config.option.loadscopereorder = False  # keep the order of the collection (above)
    return ModulesAndGroups(config, log)


@pytest.fixture(scope="session")
def shipped() -> EvidenceBase:
    return load_evidence(DATA)


def copy_base(target: Path, source: Path = DATA) -> Path:
    """Copy the evidence base ``source`` to ``target``, without its hidden files.

    Hidden files beside the records are another command's: the lock of a command reading the
    base at the same moment (another test, in parallel), or a change of it in progress.
    """
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".*"))
    return target


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped evidence base."""
    return copy_base(tmp_path / "data")


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under root with its bytes (to prove a failed write changed nothing)."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def records(root: Path) -> dict[str, bytes]:
    """:func:`snapshot` without hidden files: an evidence base's records and notes alone.

    The shipped base is read by tests on other workers at the same moment; a reader's lock
    (``.hlhbayes.lock``) beside the records is theirs, not part of the base.
    """
    return {
        name: data
        for name, data in snapshot(root).items()
        if not any(part.startswith(".") for part in Path(name).parts)
    }


def cli(*args: str | Path):
    """``hlhbayes ARGS`` through click's runner; exceptions other than exits propagate."""
    from click.testing import CliRunner

    from hlhbayes.cli import main

    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


SHORT_SAMPLER = {"draws": 100, "tune": 100, "chains": 2}
"""Sampler settings of every fit whose sampling is not what a test checks (its files, output,
reports, errors): 2 chains x 100 draws, too short for the convergence gate. The compiled engine
builds one program per model structure and settings (chains, draws and warm-up are fixed in
the program), so these fits all share one program per model and data size."""
SHORT = tuple(part for key, value in SHORT_SAMPLER.items() for part in (f"--{key}", str(value)))
""":data:`SHORT_SAMPLER` as options of the command line."""

DEFAULT_FIT = ("fit", "--etiology", "infection")
"""The command of ``default_fit`` (without its output folder and ``--quiet``)."""


@pytest.fixture(scope="session")
def default_fit(tmp_path_factory) -> tuple:
    """``hlhbayes fit --etiology infection`` at the default settings, once per test session.

    The fit at real settings that several slow tests read (it takes half a minute and more),
    with its sensitivity table (as a user types it, and as the shipped report was made),
    run in the checkout (its workspace: the shipped evidence base and specs): returns the
    command's result and its run folder.
    """
    out = tmp_path_factory.mktemp("default-fit") / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(REPO)
        return cli(*DEFAULT_FIT, "--out", out, "--quiet"), out


@pytest.fixture(scope="session")
def short_fit():
    """``hlhbayes.fit`` of the shipped base at :data:`SHORT_SAMPLER`, once per test session.

    Too short to pass the convergence gate (on purpose, and said by a ConvergenceWarning): a
    real fit for the tests of what reads one, where the sampling itself is not under test.
    """
    import warnings

    import hlhbayes

    # pytest.warns records every warning and emits again those it was not looking for: Python
    # warns when PyMC forks its chain workers from a process with threads (BLAS, JAX), which
    # the suite otherwise never sees as a Python warning. The workers use neither.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "This process .* is multi-threaded", DeprecationWarning)
        with pytest.warns(hlhbayes.ConvergenceWarning, match="did NOT converge"):
            return hlhbayes.fit(**SHORT_SAMPLER)


@pytest.fixture
def reruns_in_the_batch_program(monkeypatch) -> None:
    """Scenarios that fail the gate are re-run at a higher target_accept only, in their batch's
    own program, not then also with a longer warm-up.

    At :data:`SHORT_SAMPLER` every scenario fails the gate; the longer warm-up is a program of
    its own (the warm-up length is fixed in a program), compiled for each model and batch size
    only to fail again. Both re-runs are the engine's, tested with it (test_engine_sampler.py).
    """
    import functools

    from hlhbayes import engine
    from hlhbayes.engine.retry import DEFAULT_POLICY, RetryPolicy

    same_program = RetryPolicy(tuple(s for s in DEFAULT_POLICY.steps if s.tune_factor == 1))
    rerun = functools.partial(engine.sample_batch_with_retry, policy=same_program)
    monkeypatch.setattr(engine, "sample_batch_with_retry", rerun)


@pytest.fixture(scope="session")
def short_run(short_fit, tmp_path_factory) -> Path:
    """The session's short fit as a run folder (what ``hlhbayes fit --out`` writes)."""
    return short_fit.save(tmp_path_factory.mktemp("short-fit") / "short")


class BuiltModel:
    """A model built once on the shipped base's units, its log-densities compiled on first use.

    For structural tests that evaluate a model (no sampling). ``FAST_COMPILE``: the graphs are
    evaluated at a few points, not sampled, so the slow optimising compile is not worth it.
    """

    def __init__(self, name: str, base: EvidenceBase) -> None:
        from hlhbayes.models import get_model
        from hlhbayes.models.spec import load_spec

        self.definition = get_model(name)
        self.spec = load_spec(name)
        self.units = self.definition.units(base, self.spec.filters)
        self.model = self.definition.build(self.units, self.spec.priors, self.spec.options)
        self._logp = None
        self._likelihood = None

    @property
    def logp(self):
        """The compiled joint log-density."""
        if self._logp is None:
            self._logp = self.model.compile_logp(mode="FAST_COMPILE")
        return self._logp

    @property
    def likelihood(self):
        """The compiled log-likelihood (the models' weighted likelihood potentials)."""
        if self._likelihood is None:
            self._likelihood = likelihood_of(self.model)
        return self._likelihood


def likelihood_of(model):
    """The compiled log-likelihood of a built model: its ``likelihood_*`` potentials."""
    terms = [p for p in model.potentials if p.name.startswith("likelihood_")]
    return model.compile_logp(vars=terms, mode="FAST_COMPILE")


@pytest.fixture(scope="session")
def built_models(shipped) -> dict[str, BuiltModel]:
    """Both shipped models built (and compiled) once per test session."""
    return {name: BuiltModel(name, shipped) for name in ("etiology-line", "random-effects")}


def file_counts(root: Path) -> tuple[int, int, int]:
    """Studies, strata and patient rows of a base, counted from its files without the loader.

    Tests that print or check the size of the base compare with this, so adding a study to
    ``data/`` does not mean editing numbers in tests.
    """
    import csv

    import yaml

    studies = sorted((root / "studies").glob("*.yaml"))
    strata = sum(
        len(yaml.safe_load(p.read_text(encoding="utf-8")).get("strata") or []) for p in studies
    )
    patients = 0
    for p in (root / "patients").glob("*.csv"):
        with p.open(encoding="utf-8", newline="") as handle:
            patients += sum(1 for _ in csv.DictReader(handle))
    return len(studies), strata, patients


@contextmanager
def within(seconds: int) -> Iterator[None]:
    """Fail (instead of hanging the suite) if the block takes longer than ``seconds``."""

    def expire(*_args):
        raise TimeoutError(f"took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
