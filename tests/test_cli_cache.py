"""``hlhbayes cache info`` and ``hlhbayes cache clear`` on a cache folder of known entries."""

from __future__ import annotations

import json

from click.testing import CliRunner

from hlhbayes.cli import main
from hlhbayes.engine.cache import CACHE_DIR_ENV, MAX_BYTES_ENV, CompiledFitCache, cache_key
from table_text import records


def _store(cache: CompiledFitCache, model: str, size: int) -> str:
    payload = {"kind": "sampler", "model": model}
    key = cache_key(payload)
    cache.store(key, payload, {"kind": "sampler", "model": model}, {"program": b"x" * size})
    return key


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_info_names_the_folder_its_entries_and_sizes(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path))
    monkeypatch.setenv(MAX_BYTES_ENV, "1000000")
    cache = CompiledFitCache(tmp_path)
    first, second = _store(cache, "etiology-line", 3000), _store(cache, "random-effects", 5000)
    cache.machine_code_dir.mkdir()
    (cache.machine_code_dir / "executable").write_bytes(b"y" * 2000)

    result = run("cache", "info", "--format", "json")
    assert result.exit_code == 0
    info = json.loads(result.output)
    assert info["location"] == str(tmp_path)
    assert info["max_bytes"] == 1_000_000
    assert {e["key"] for e in info["entries"]} == {first, second}
    sizes = {e["model"]: e["bytes"] for e in info["entries"]}
    assert sizes["etiology-line"] > 3000 and sizes["random-effects"] > 5000  # program + meta
    assert info["entries_bytes"] == sum(sizes.values())
    assert info["xla_bytes"] == 2000
    assert info["total_bytes"] == info["entries_bytes"] + 2000

    table = run("cache", "info")
    assert table.exit_code == 0
    lines = table.output.splitlines()
    assert lines[0] == f"location: {tmp_path}"
    assert lines[1].startswith("entries: 2 (") and "of at most 1.0 MB" in lines[1]
    entries = records(table.output)
    assert {e["entry"] for e in entries} == {first[:12], second[:12]}
    assert {e["model"] for e in entries} == {"etiology-line", "random-effects"}
    assert all(e["size"].endswith(" kB") for e in entries)  # 3000 bytes and more, in kB


def test_clear_empties_it_and_says_what_went(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path))
    cache = CompiledFitCache(tmp_path)
    _store(cache, "etiology-line", 3000)
    cache.machine_code_dir.mkdir()
    (cache.machine_code_dir / "executable").write_bytes(b"y" * 2000)

    result = run("cache", "clear")
    assert result.exit_code == 0
    assert result.output.startswith("removed 1 entry (")
    assert result.output.rstrip().endswith(f"from {tmp_path}")
    after = cache.info()
    assert after.entries == [] and after.total_bytes == 0
    empty = json.loads(run("cache", "info", "--format", "json").output)
    assert empty["entries"] == [] and empty["total_bytes"] == 0
