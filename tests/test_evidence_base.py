"""The content hash: same content in any order on disk, same hash; any change, another hash."""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

import pytest
import yaml

from hlhbayes.evidence import EvidenceBase, load_evidence


def hash_of(root: Path) -> str:
    return load_evidence(root).content_hash


def shuffle_patient_rows(root: Path, seed: int) -> None:
    path = root / "patients" / "Baverez2022.csv"
    header, *rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    random.Random(seed).shuffle(rows)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([header, *rows])
    path.write_text(buffer.getvalue(), encoding="utf-8")


def reversed_keys(value):
    """The same YAML value with the keys of every mapping in reverse order."""
    if isinstance(value, dict):
        return {k: reversed_keys(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [reversed_keys(v) for v in value]
    return value


def rewrite_study(root: Path, sid: str, change) -> None:
    path = root / "studies" / f"{sid}.yaml"
    record = change(yaml.safe_load(path.read_text(encoding="utf-8")))
    path.write_text(yaml.safe_dump(record, sort_keys=False, allow_unicode=True), encoding="utf-8")


def test_hash_is_a_sha256_hex_digest(shipped: EvidenceBase) -> None:
    assert len(shipped.content_hash) == 64
    assert int(shipped.content_hash, 16) >= 0


def test_a_copy_has_the_same_hash(shipped: EvidenceBase, data_copy: Path) -> None:
    assert hash_of(data_copy) == shipped.content_hash


def test_hash_ignores_the_order_of_patient_rows(shipped: EvidenceBase, data_copy: Path) -> None:
    original = (data_copy / "patients" / "Baverez2022.csv").read_bytes()
    shuffle_patient_rows(data_copy, seed=7)
    assert (data_copy / "patients" / "Baverez2022.csv").read_bytes() != original
    assert hash_of(data_copy) == shipped.content_hash


def test_hash_ignores_the_order_of_strata_reported_entries_and_keys(
    shipped: EvidenceBase, data_copy: Path
) -> None:
    def shuffle(record: dict) -> dict:
        rng = random.Random(3)
        rng.shuffle(record["strata"])
        rng.shuffle(record["reported"])
        return reversed_keys(record)

    before = (data_copy / "studies" / "Imperial2020.yaml").read_text(encoding="utf-8")
    for sid in ("Imperial2020", "Eloseily2020", "Baverez2022"):
        rewrite_study(data_copy, sid, shuffle)
    after = (data_copy / "studies" / "Imperial2020.yaml").read_text(encoding="utf-8")
    assert after != before
    assert after.splitlines()[0] == "strata:"  # top-level keys reversed
    assert hash_of(data_copy) == shipped.content_hash


def test_hash_ignores_comments_quoting_and_flow_style(
    shipped: EvidenceBase, data_copy: Path
) -> None:
    path = data_copy / "studies" / "Imperial2020.yaml"
    record = yaml.safe_load(path.read_text(encoding="utf-8"))
    text = "# a comment\n" + yaml.safe_dump(record, default_flow_style=True, width=60)
    path.write_text(text, encoding="utf-8")
    assert hash_of(data_copy) == shipped.content_hash


def test_hash_ignores_the_order_of_files_being_read(shipped: EvidenceBase) -> None:
    studies = dict(reversed(list(shipped.studies.items())))
    patients = list(reversed(shipped.patients))
    other = EvidenceBase(root=shipped.root, studies=studies, patients=patients)
    assert other.content_hash == shipped.content_hash


def one_more_event(record: dict) -> dict:
    record["strata"][1]["events"] += 1  # Imperial2020 deaths-infection: 1/3 -> 2/3
    return record


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(one_more_event, id="one stratum count"),
        pytest.param(
            lambda r: {**r, "reported": [{**r["reported"][0], "value": 12}, *r["reported"][1:]]},
            id="one reported value",
        ),
        pytest.param(
            lambda r: {**r, "study": {**r["study"], "notes": r["study"]["notes"] + "."}},
            id="one character of a note",
        ),
        pytest.param(
            lambda r: {**r, "strata": r["strata"][:-1]},
            id="one stratum removed",
        ),
    ],
)
def test_any_content_change_changes_the_hash(
    shipped: EvidenceBase, data_copy: Path, change
) -> None:
    rewrite_study(data_copy, "Imperial2020", change)
    assert hash_of(data_copy) != shipped.content_hash


def test_one_patient_cell_changes_the_hash(shipped: EvidenceBase, data_copy: Path) -> None:
    path = data_copy / "patients" / "Baverez2022.csv"
    text = path.read_text(encoding="utf-8")
    changed = text.replace("Baverez2022,7,20,M,", "Baverez2022,7,21,M,", 1)  # patient 7's age
    assert changed != text
    path.write_text(changed, encoding="utf-8")
    assert hash_of(data_copy) != shipped.content_hash


def test_hash_of_a_shuffled_and_changed_base_differs(
    shipped: EvidenceBase, data_copy: Path
) -> None:
    shuffle_patient_rows(data_copy, seed=11)
    rewrite_study(data_copy, "Imperial2020", one_more_event)
    changed = hash_of(data_copy)
    assert changed != shipped.content_hash
    rewrite_study(data_copy, "Imperial2020", reversed_keys)  # reorder only: same changed hash
    assert hash_of(data_copy) == changed
