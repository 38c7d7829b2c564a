"""All-or-nothing writes: several files, one JSON form, staged folders committed together."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from conftest import snapshot
from hlhbayes import atomic, journal
from hlhbayes.errors import HlhBayesError


def stray_files(root: Path) -> list[str]:
    """Temporary or backup files left by a write (their names start with a dot)."""
    return sorted(str(p.relative_to(root)) for p in root.rglob(".*"))


# --------------------------------------------------------------------------------------------
# files


def test_write_atomically_writes_all_files(tmp_path: Path) -> None:
    existing = tmp_path / "a" / "old.txt"
    existing.parent.mkdir()
    existing.write_bytes(b"old")
    new = tmp_path / "b" / "new.txt"
    atomic.write_atomically({existing: b"replaced", new: b"created"})
    assert existing.read_bytes() == b"replaced"
    assert new.read_bytes() == b"created"
    assert stray_files(tmp_path) == []


def test_write_atomically_keeps_nothing_after_an_interrupt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    existing = tmp_path / "old.txt"
    existing.write_bytes(b"old")
    real = os.replace

    def interrupted(src, dst):
        if Path(dst) == tmp_path / "new.txt":
            raise KeyboardInterrupt
        return real(src, dst)

    monkeypatch.setattr(journal.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic.write_atomically({existing: b"replaced", tmp_path / "new.txt": b"created"})
    assert existing.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.txt"]


def test_json_text_is_the_one_form(tmp_path: Path) -> None:
    payload = {
        "mean": math.nan,
        "n": np.int64(3),
        "x": np.float64(0.25),
        "cells": ("infection", "first"),
        "where": Path("runs") / "a",
        "text": "Müller ≥ 1",
    }
    text = atomic.json_text(payload)
    assert text.endswith("}\n") and "\n  " in text  # two-space indent, final newline
    assert "Müller ≥ 1" in text  # UTF-8 as it is, not escaped
    assert json.loads(text) == {
        "mean": None,
        "n": 3,
        "x": 0.25,
        "cells": ["infection", "first"],
        "where": str(Path("runs") / "a"),
        "text": "Müller ≥ 1",
    }
    path = tmp_path / "out.json"
    atomic.write_json(path, payload)
    assert path.read_text(encoding="utf-8") == text
    assert stray_files(tmp_path) == []


# --------------------------------------------------------------------------------------------
# folders


def _fill(content: str):
    def fill(folder: Path) -> None:
        (folder / "a.txt").write_text(content)

    return fill


def test_write_folder_replaces_and_keeps_the_old_folder_when_asked(tmp_path: Path) -> None:
    target = tmp_path / "run"
    atomic.write_folder(target, _fill("old"))
    assert (target / "a.txt").read_text() == "old"
    kept = tmp_path / "history" / "old-run"
    atomic.write_folder(target, _fill("new"), keep_previous=kept)
    assert (target / "a.txt").read_text() == "new"
    assert (kept / "a.txt").read_text() == "old"
    atomic.write_folder(target, _fill("newer"))  # no place to keep it: the old one is gone
    assert (target / "a.txt").read_text() == "newer"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history", "run"]


def test_a_failure_leaves_the_old_folder_and_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "run"
    atomic.write_folder(target, _fill("old"))

    def broken(folder: Path) -> None:
        (folder / "a.txt").write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic.write_folder(target, broken)
    assert (target / "a.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]

    real = Path.rename

    def rename(self: Path, dest):  # the final rename of the finished folder fails
        if Path(dest) == target and self.name == "run" and ".staging-" in self.parent.name:
            raise OSError("rename refused")
        return real(self, dest)

    monkeypatch.setattr(Path, "rename", rename)
    with pytest.raises(OSError, match="rename refused"):
        atomic.write_folder(target, _fill("new"))
    assert (target / "a.txt").read_text() == "old"  # moved aside, then put back
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_commit_is_all_or_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    existing = tmp_path / "keep"
    existing.mkdir()
    (existing / "summary.json").write_text("{}")
    before = snapshot(tmp_path)
    staged = [
        atomic.stage(tmp_path / "deep" / "one", _fill("a")),
        atomic.stage(tmp_path / "deep" / "two", _fill("a")),
    ]

    real = os.replace

    def boom(src, dst):  # the pointer, written after both folders are in place
        if Path(dst).name == "POINTER":
            raise OSError("disk full")
        return real(src, dst)

    monkeypatch.setattr(journal.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        atomic.commit(staged, {tmp_path / "POINTER": b"x"})
    assert snapshot(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep"]  # no folder left behind
    # an existing folder is never replaced without force
    with pytest.raises(HlhBayesError, match="exists; use --force"):
        atomic.commit([atomic.stage(existing, _fill("a"))])
    assert snapshot(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep"]
