"""The compiled engine samples the right posterior, reproducibly, through one program per structure.

* the posterior equals PyMC NUTS on the same model within Monte Carlo error;
* the same seed gives bit-identical draws on a cold start (two processes started together on
  empty caches, which they share), a warm one, and a process that builds every program again
  in a cache of its own, each a fresh process, for a single fit and for a batch of scenarios;
  the warm process imports no PyMC, PyTensor, numpyro or ArviZ;
* one program serves several data sets: a second data set of the same shapes reuses it, and
  a batch of scenarios gives each scenario what a separate fit gives (within MC error);
* the sampler runs in chunks: it reports its progress (iterations, divergent draws) after each,
  and an interrupt between two chunks stops it;
* a scenario that cannot converge is marked, and the retry policy re-runs only it;
* padded units (likelihood weight 0) change nothing, and padded entries leave the output;
* a damaged program in the cache is discarded and rebuilt, with the same numbers;
* a cache folder that cannot be written gives the same numbers, and says so once;
* prior draws are stored and read back only for the same program, data and seed.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import engine_fixtures as fx
from engine_checks import mcmc_disagreements, pymc_nuts
from hlhbayes import engine
from hlhbayes.engine.cache import MACHINE_CODE
from hlhbayes.engine.machine_code import EXECUTABLE_FILE
from hlhbayes.engine.programs import PROGRAM_FILE, forget_programs

FAST = engine.SamplerSettings(chains=4, draws=500, tune=300)


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> engine.CompiledFitCache:
    return fx.program_cache(tmp_path_factory.mktemp("engine-cache"))


def _sampler_entries(cache: engine.CompiledFitCache) -> list[str]:
    return [e.key for e in cache.info().entries if e.kind == "sampler"]


@pytest.mark.slow
def test_cold_processes_started_together_share_one_cache_and_a_warm_one_draws_the_same(tmp_path):
    script = Path(fx.__file__)
    command = [sys.executable, str(script), str(tmp_path / "cache")]
    both = [
        subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=script.parent)
        for _ in range(2)
    ]
    outputs = [json.loads(p.communicate(timeout=900)[0].strip().splitlines()[-1]) for p in both]
    assert all(p.returncode == 0 for p in both)
    # each program was built by one of them; the other waited for it and loaded it
    assert sorted(outputs[0]["built"] + outputs[1]["built"]) == ["prior", "sampler", "sampler"]
    assert outputs[0]["posterior"] == outputs[1]["posterior"]
    assert outputs[0]["prior"] == outputs[1]["prior"]
    cache = engine.CompiledFitCache(tmp_path / "cache")
    assert sorted(e.kind for e in cache.info().entries) == [
        "prior",
        "prior draws",
        "sampler",
        "sampler",
    ]
    assert not any(cache.tmp_dir.iterdir())
    done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=script.parent)
    warm = json.loads(done.stdout.strip().splitlines()[-1])
    assert warm["modules"] == []  # no pymc, pytensor, numpyro, arviz, arviz_stats
    assert warm == outputs[0] | {"modules": [], "built": [], "seconds": warm["seconds"]}
    # A third process builds every program again, in a cache of its own: the same seed still
    # gives the same numbers, for a single fit and for a batch of scenarios. (The machine code is
    # shared: it is keyed on the program's bytes, so a program built differently would be
    # compiled anew, not served the first build's code.)
    other = tmp_path / "other-cache"
    other.mkdir()
    (other / MACHINE_CODE).symlink_to(tmp_path / "cache" / MACHINE_CODE, target_is_directory=True)
    rebuilt = subprocess.run(
        [sys.executable, str(script), str(other)],
        capture_output=True,
        text=True,
        check=True,
        cwd=script.parent,
    )
    again = json.loads(rebuilt.stdout.strip().splitlines()[-1])
    assert again["built"] == ["prior", "sampler", "sampler"]  # it built its programs
    assert {k: again[k] for k in ("posterior", "prior", "batch")} == {
        k: outputs[0][k] for k in ("posterior", "prior", "batch")
    }


def test_key_changes_with_structure_settings_layout_data_shapes_and_versions(monkeypatch):
    from hlhbayes.engine import fingerprint
    from hlhbayes.engine.cache import cache_key
    from hlhbayes.engine.programs import key_payload, signature_of

    def key(model=None, data=None, extra=None):
        model = model or fx.hierarchical()
        signature = signature_of([data or fx.hierarchical_data()])
        return cache_key(key_payload("sampler", model, signature, extra or {"tune": 500}))

    base = key()
    other_source = engine.CompiledModel(
        "test-hierarchical", fx.hierarchical().build, {"studies": 12}, "edited"
    )
    variants = [
        key(model=fx.hierarchical(n_studies=11)),
        key(model=other_source),
        key(data=fx.hierarchical_data(n=fx.HIER_N[:11], r=fx.HIER_R[:11])),
        key(data={**fx.hierarchical_data(), "total": fx.HIER_N.astype(np.int32)}),
        key(extra={"tune": 1000}),
        key(extra={"tune": 500, "layout": {"devices": 1}}),
    ]
    assert base == key()
    assert len({base, *variants}) == 1 + len(variants)
    monkeypatch.setattr(fingerprint, "package_versions", lambda: {"jax": "99"})
    monkeypatch.setattr("hlhbayes.engine.programs.package_versions", lambda: {"jax": "99"})
    assert key() != base


@pytest.mark.slow
def test_hierarchical_posterior_equals_pymc_nuts(cache):
    # the program of the other tests here; the bound is their joint Monte Carlo error
    (result,) = engine.sample_batch(
        fx.hierarchical(), [fx.hierarchical_data()], settings=FAST, cache=cache
    ).fits
    reference = pymc_nuts(fx.hierarchical_pymc(fx.hierarchical_data()), tune=500, seed=5)
    assert result.convergence.converged, result.convergence
    problems = mcmc_disagreements(result.posterior, reference, ["mu", "tau", "theta"])
    assert not problems, problems


@pytest.mark.sampling
def test_a_program_holds_no_source_paths_so_its_machine_code_serves_every_checkout(cache):
    """The machine code is keyed on the program's bytes: a path in them (JAX writes the traced
    code's file and line into every operation by default) would make every checkout, install or
    test folder compile the same program again."""
    import hlhbayes

    engine.sample_batch(fx.hierarchical(), [fx.hierarchical_data()], settings=FAST, cache=cache)
    blob = (cache.entries_dir / _sampler_entries(cache)[0] / PROGRAM_FILE).read_bytes()
    package = Path(hlhbayes.__file__).parent
    for path in (package, Path(np.__file__).parent, Path(fx.__file__).parent):
        assert str(path).encode() not in blob
    assert b".py" not in blob


@pytest.mark.sampling
def test_one_program_serves_another_data_set_of_the_same_shapes(cache):
    data_a = fx.hierarchical_data()
    data_b = fx.hierarchical_data(r=np.minimum(fx.HIER_R + 3, fx.HIER_N), tau_sigma=0.5)
    fit_a = engine.sample_batch(fx.hierarchical(), [data_a], settings=FAST, cache=cache)
    before = _sampler_entries(cache)
    fit_b = engine.sample_batch(fx.hierarchical(), [data_b], settings=FAST, cache=cache)
    assert _sampler_entries(cache) == before
    mean_a = float(fit_a.fits[0].posterior["mu"].mean())
    mean_b = float(fit_b.fits[0].posterior["mu"].mean())
    assert mean_b > mean_a + 0.2  # more events: the data did reach the program

    batch = engine.sample_batch(
        fx.hierarchical(), [data_a, data_b], settings=FAST, seeds=[7, 8], cache=cache
    )
    for single, scenario in zip([fit_a, fit_b], batch.fits, strict=True):
        problems = mcmc_disagreements(
            single.fits[0].posterior, scenario.posterior, ["mu", "tau", "theta"]
        )
        assert not problems, problems


SHARE = re.compile(r"^sampling: (\d+)% of (\d+) iterations, (\d+) divergent$")


@pytest.mark.sampling
def test_progress_is_reported_after_each_chunk_with_the_divergences_so_far(cache):
    messages: list[str] = []
    # a target acceptance rate far too low for this posterior: large steps, some divergent
    (result,) = engine.sample_batch(
        fx.hierarchical(),
        [fx.hierarchical_data()],
        settings=FAST,
        target_accept=0.3,
        cache=cache,
        log=messages.append,
    ).fits
    shares = [tuple(map(int, m.groups())) for m in map(SHARE.match, messages) if m]
    assert len(shares) == FAST.static().chunks > 1
    percents, totals, divergent = zip(*shares, strict=True)
    assert list(percents) == sorted(set(percents)) and percents[-1] == 100
    assert set(totals) == {FAST.chains * (FAST.tune + FAST.draws)}
    assert list(divergent) == sorted(divergent)
    assert divergent[-1] == int(result.sample_stats["diverging"].sum()) > 0
    # the warm-up's divergent transitions are not counted: nothing before the first draw
    warm_up_calls = FAST.tune // FAST.static().chunk
    assert divergent[:warm_up_calls] == (0,) * warm_up_calls


@pytest.mark.sampling
def test_an_interrupt_between_chunks_stops_the_sampling(cache):
    messages: list[str] = []

    def log(message: str) -> None:
        messages.append(message)
        if SHARE.match(message):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        engine.sample_batch(
            fx.hierarchical(), [fx.hierarchical_data()], settings=FAST, cache=cache, log=log
        )
    # the first chunk's report was the last thing the sampler did
    assert SHARE.match(messages[-1]) and sum(bool(SHARE.match(m)) for m in messages) == 1
    assert not messages[-1].startswith("sampling: 100%")


@pytest.mark.sampling
def test_a_scenario_that_cannot_converge_is_marked_and_retried_alone(cache):
    easy = fx.double_well_data(y=-1.0, sigma=0.5)
    bimodal = fx.double_well_data(y=4.0, sigma=0.1)  # modes at +-2 for each of 8 components
    messages: list[str] = []
    batch = engine.sample_batch_with_retry(
        fx.double_well(),
        [easy, bimodal, easy],
        settings=FAST,
        target_accept=0.9,
        seeds=[1, 2, 3],
        log=messages.append,
        cache=cache,
    )
    assert batch.failed == [1]
    failed = batch.fits[1]
    assert failed.convergence.max_r_hat > 1.1
    assert (failed.attempts, failed.target_accept, failed.tune) == (3, 0.99, 2 * FAST.tune)
    for i in (0, 2):
        fit = batch.fits[i]
        assert fit.convergence.converged
        assert (fit.attempts, fit.target_accept, fit.tune) == (1, 0.9, FAST.tune)
    assert sum("1 of 3 scenarios failed" in m for m in messages) == 2
    # the re-run at target_accept 0.99 used the batch's own program; only the longer warm-up
    # needed a second one
    programs = [e for e in cache.info().entries if e.model == "test-double-well"]
    assert len([e for e in programs if e.kind == "sampler"]) == 2


@pytest.mark.sampling
def test_padded_units_change_nothing_and_leave_the_output(cache):
    events, total = fx.HIER_R[:6], fx.HIER_N[:6]
    plain = engine.sample_batch(
        fx.random_effects(6), [fx.random_effects_data(events, total)], settings=FAST, cache=cache
    )
    dims = {"events": ("stratum",), "total": ("stratum",), "include": ("stratum",)}
    padded = engine.pad_data(
        fx.random_effects_data(events, total),
        dims,
        {"stratum": engine.bucket_size(6)},
        {"events": 0, "total": 1, "include": 0.0},
    )
    studies = [f"S{i}" for i in range(6)]
    coords = {"study": studies, "stratum": studies}
    fit = engine.sample_batch(
        fx.random_effects(8), [padded], settings=FAST, seeds=3, coords=coords, cache=cache
    )
    posterior = fit.fits[0].posterior
    assert posterior.sizes["study"] == 6 and list(posterior["study"].values) == studies
    problems = mcmc_disagreements(plain.fits[0].posterior, posterior, ["mu", "tau"])
    assert not problems, problems


@pytest.mark.sampling
def test_prior_draws_are_stored_and_read_back_for_the_same_inputs_only(cache):
    def prior(data, seed):
        messages: list[str] = []
        draws = engine.sample_prior(
            fx.hierarchical(), data, draws=300, seed=seed, cache=cache, log=messages.append
        )
        return draws, any("stored prior draws" in m for m in messages)

    first, read = prior(fx.hierarchical_data(), 1)
    assert not read
    again, read = prior(fx.hierarchical_data(), 1)
    assert read
    for name in first.prior.data_vars:
        np.testing.assert_array_equal(first.prior[name].values, again.prior[name].values)
    np.testing.assert_array_equal(first.prior_predictive["y"], again.prior_predictive["y"])
    other_seed, read = prior(fx.hierarchical_data(), 2)
    assert not read and not np.array_equal(other_seed.prior["mu"], first.prior["mu"])
    other_data, read = prior(fx.hierarchical_data(mu_sigma=3.0), 1)
    assert not read and not np.array_equal(other_data.prior["mu"], first.prior["mu"])


@pytest.mark.sampling
def test_a_cache_folder_that_cannot_be_written_costs_speed_not_the_fit(tmp_path, cache):
    blocker = tmp_path / "a-file"
    blocker.write_text("")  # no folder can be made below a file, whoever runs the test
    unwritable = engine.CompiledFitCache(blocker / "cache")

    def fit(cache, log):
        forget_programs()  # a new process: nothing in memory
        return engine.fit(
            fx.hierarchical(),
            fx.hierarchical_data(),
            settings=FAST,
            seed=5,
            prior_draws=100,
            cache=cache,
            log=log,
        )

    kept = fit(cache, lambda m: None)
    messages: list[str] = []
    unkept = fit(unwritable, messages.append)  # program, machine code and prior draws unkept
    (notice,) = [m for m in messages if "cannot be written" in m]
    assert str(blocker / "cache") in notice and "HLHBAYES_CACHE_DIR" in notice
    for group in ("posterior", "prior"):
        for name in getattr(kept, group).data_vars:
            np.testing.assert_array_equal(
                getattr(kept, group)[name].values, getattr(unkept, group)[name].values
            )


@pytest.mark.sampling
def test_damaged_program_is_rebuilt_with_the_same_draws(tmp_path):
    cache = fx.program_cache(tmp_path)
    first = engine.sample_batch(
        fx.hierarchical(), [fx.hierarchical_data()], settings=FAST, cache=cache
    )
    (key,) = _sampler_entries(cache)
    program = cache.entries_dir / key / PROGRAM_FILE
    program.write_bytes(program.read_bytes()[:1000])
    forget_programs()
    messages: list[str] = []
    again = engine.sample_batch(
        fx.hierarchical(), [fx.hierarchical_data()], settings=FAST, cache=cache, log=messages.append
    )
    assert any("discarded" in m for m in messages)
    assert any("building" in m for m in messages)
    for name in first.fits[0].posterior.data_vars:
        np.testing.assert_array_equal(
            first.fits[0].posterior[name].values, again.fits[0].posterior[name].values
        )


@pytest.mark.sampling
def test_stored_machine_code_is_loaded_not_compiled_and_code_jax_refuses_is_compiled_again(
    tmp_path,
):
    cache = engine.CompiledFitCache(tmp_path / "cache")  # its own, empty, machine-code store
    data = [fx.hierarchical_data()]

    def fit(log=None):
        forget_programs()  # a new process: nothing in memory
        return engine.sample_batch(
            fx.hierarchical(), data, settings=FAST, cache=cache, log=log or (lambda m: None)
        )

    def same_draws(a, b):
        for name in a.fits[0].posterior.data_vars:
            np.testing.assert_array_equal(
                a.fits[0].posterior[name].values, b.fits[0].posterior[name].values
            )

    compiled = fit()
    assert "xla" in compiled.timings.wall  # compiled here, then stored
    (stored,) = cache.machine_code.info().entries
    assert stored.kind == "machine code" and stored.model == "test-hierarchical"

    loaded = fit()
    assert "machine_code_load" in loaded.timings.wall
    assert not {"xla_lower", "xla"} & set(loaded.timings.wall)  # not lowered, not compiled
    same_draws(compiled, loaded)

    # stored machine code with intact checksums that this JAX cannot load: compiled again
    entry = cache.machine_code.entries_dir / stored.key
    meta = json.loads((entry / "meta.json").read_text())
    garbage = b"not an executable" * 100
    (entry / EXECUTABLE_FILE).write_bytes(garbage)
    meta["files"][EXECUTABLE_FILE] = {
        "bytes": len(garbage),
        "sha256": hashlib.sha256(garbage).hexdigest(),
    }
    (entry / "meta.json").write_text(json.dumps(meta))
    messages: list[str] = []
    again = fit(messages.append)
    assert any("could not be loaded" in m and "compiling it again" in m for m in messages)
    assert "xla" in again.timings.wall
    same_draws(compiled, again)
    assert fit().timings.wall.keys().isdisjoint({"xla_lower", "xla"})  # stored again


@pytest.mark.sampling
def test_data_that_do_not_fit_the_program_are_refused(cache):
    data = fx.hierarchical_data()
    with pytest.raises(ValueError, match="other data names, shapes or dtypes"):
        engine.sample_batch(
            fx.hierarchical(), [data, {**data, "total": data["total"][:5]}], cache=cache
        )
    too_big = {**data, "total": data["total"] + 2**40}
    with pytest.raises(ValueError, match="do not fit the model's int32"):
        engine.sample_batch(fx.hierarchical(), [too_big], settings=FAST, cache=cache)
    with pytest.raises(ValueError, match=r"pm\.Data are"):
        engine.sample_batch(
            fx.hierarchical(), [{**data, "extra": np.zeros(3)}], settings=FAST, cache=cache
        )
