"""Shape buckets, the spread of a batch's tasks over devices, the XLA flags (no sampling)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from hlhbayes.engine.buckets import (
    bucket_size,
    pad_axis,
    pad_data,
    padded_sizes,
    scenario_bucket,
)
from hlhbayes.engine.layout import Layout, choose_layout


@pytest.mark.parametrize(
    ("n", "size"), [(0, 8), (1, 8), (8, 8), (9, 16), (16, 16), (17, 32), (100, 128)]
)
def test_bucket_size(n, size):
    assert bucket_size(n) == size


def test_scenario_buckets():
    assert [scenario_bucket(n) for n in (1, 2, 3, 5, 20, 22, 64)] == [1, 2, 4, 8, 32, 32, 64]
    with pytest.raises(ValueError, match="at most 64"):
        scenario_bucket(65)


def test_pad_data_pads_named_dims_at_the_end_with_each_arrays_fill():
    data = {
        "events": np.array([3, 4, 5]),
        "total": np.array([5, 6, 7]),
        "w": np.ones((3, 2)),
        "scale": np.float64(1.5),
    }
    dims = {"events": ("stratum",), "total": ("stratum",), "w": ("stratum", "etiology")}
    out = pad_data(data, dims, {"stratum": 8}, {"events": 0, "total": 1, "w": 0.5})
    assert out["events"].tolist() == [3, 4, 5, 0, 0, 0, 0, 0]
    assert out["total"].tolist() == [5, 6, 7, 1, 1, 1, 1, 1]
    assert out["w"].shape == (8, 2) and out["w"][3:].tolist() == [[0.5, 0.5]] * 5
    assert out["scale"] == 1.5
    assert padded_sizes({"stratum": 3, "study": 9}) == {"stratum": 8, "study": 16}


def test_pad_data_errors():
    with pytest.raises(ValueError, match="no fill value"):
        pad_data({"x": np.zeros(3)}, {"x": ("unit",)}, {"unit": 8}, {})
    with pytest.raises(ValueError, match="axes"):
        pad_data({"x": np.zeros((3, 2))}, {"x": ("unit",)}, {"unit": 8}, {"x": 0})
    with pytest.raises(ValueError, match="down to"):
        pad_axis(np.zeros(9), 0, 8, 0)


@pytest.mark.parametrize(
    ("scenarios", "chains", "devices"), [(1, 4, 2), (4, 4, 2), (8, 3, 2), (2, 4, 8)]
)
def test_task_table_covers_every_task_once_and_balances_devices(scenarios, chains, devices):
    layout = choose_layout(scenarios, chains, devices)
    for active in range(1, scenarios + 1):
        scenario, chain, is_active = layout.task_table(active)
        pairs = {(s, c) for s, c, a in zip(scenario, chain, is_active, strict=True) if a}
        assert pairs == {(s, c) for s in range(active) for c in range(chains)}
        per_device = is_active.reshape(layout.devices, layout.tasks_per_device).sum(axis=1)
        assert per_device.max() - per_device.min() <= 1


def test_per_scenario_inverts_the_task_order():
    layout = Layout(scenarios=4, chains=3, devices=2)
    scenario, chain, _ = layout.task_table(3)
    marked = scenario * 10 + chain  # what a program returns per slot
    out = layout.per_scenario(marked[:, None], 3)
    assert out.shape == (3, 3, 1)
    assert out[..., 0].tolist() == [[s * 10 + c for c in range(3)] for s in range(3)]


def test_engine_xla_flags_replace_only_the_device_count():
    from hlhbayes.engine.runtime import engine_xla_flags

    # what importing pymc.sampling.jax leaves behind, plus a flag of the user's
    current = "--xla_force_host_platform_device_count=100 --xla_dump_to=/tmp/x"
    assert engine_xla_flags(current, 2) == (
        "--xla_force_host_platform_device_count=2 --xla_dump_to=/tmp/x"
    )
    assert engine_xla_flags(None, 1) == "--xla_force_host_platform_device_count=1"


def test_pinned_xla_flags_restore_the_engines_value_while_compiling(monkeypatch):
    from hlhbayes.engine import runtime

    monkeypatch.setitem(runtime._state, "xla_flags", "--xla_force_host_platform_device_count=2")
    monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=100")
    with runtime.pinned_xla_flags():
        assert os.environ["XLA_FLAGS"] == "--xla_force_host_platform_device_count=2"
    assert os.environ["XLA_FLAGS"] == "--xla_force_host_platform_device_count=100"
