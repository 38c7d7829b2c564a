"""Input files that are not UTF-8 text, not regular files, or not writable: one located line.

Every refusal names the file, and the line and byte where there is one; the evidence base is
left as it was.
"""

from __future__ import annotations

import codecs
import errno
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import snapshot, within
from hlhbayes import journal
from hlhbayes.cli import main
from hlhbayes.inputs import MAX_INPUT_BYTES, InputFileError, read_text_input

FIXTURES = Path(__file__).resolve().parent / "fixtures"
STUDY = FIXTURES / "example_study.yaml"
PATIENTS = FIXTURES / "example_patients.csv"
TEXT = STUDY.read_text(encoding="utf-8")


def refusal(path: Path) -> InputFileError:
    with within(10), pytest.raises(InputFileError) as caught:
        read_text_input(path)
    return caught.value


CP1252 = "Baverez et al. \u201cAnakinra\u201d \u2013 caf\u00e9\n".encode("cp1252")
LATIN1 = ("study:\n  id: X\n  notes: Universit\u00e9 de Gen\u00e8ve\n").encode("latin-1")


@pytest.mark.parametrize(
    ("data", "row", "message"),
    [
        (
            codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"),
            "",
            "encoded as UTF-16 (byte-order mark): save it as UTF-8 text",
        ),
        (
            TEXT.encode("utf-16"),  # with the machine's byte-order mark
            "",
            "encoded as UTF-16 (byte-order mark): save it as UTF-8 text",
        ),
        (
            TEXT.encode("utf-32"),
            "",
            "encoded as UTF-32 (byte-order mark): save it as UTF-8 text",
        ),
        (
            TEXT.encode("utf-16-be"),  # no byte-order mark: a NUL in the first two bytes
            "line 1",
            "a NUL byte at byte 0: binary data, or UTF-16/UTF-32 text; save it as UTF-8 text",
        ),
        (
            LATIN1,
            "line 3",
            f"not UTF-8 text: byte 0xe9 at byte {LATIN1.index(b'\xe9')} (saved as Latin-1 or "
            "Windows-1252?); save it as UTF-8",
        ),
        (
            CP1252,
            "line 1",
            "not UTF-8 text: byte 0x93 at byte 15 (saved as Latin-1 or Windows-1252?); save it "
            "as UTF-8",
        ),
        (
            b"study:\n  id: X\n  notes: cut \xe2\x82\n",  # a multi-byte character cut short
            "line 3",
            "not UTF-8 text: byte 0xe2 at byte 28 (saved as Latin-1 or Windows-1252?); save it "
            "as UTF-8",
        ),
        (
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
            "line 3",
            "a NUL byte at byte 8: binary data, or UTF-16/UTF-32 text; save it as UTF-8 text",
        ),
    ],
    ids=["utf16-le", "utf16-bom", "utf32", "utf16-be-no-bom", "latin1", "cp1252", "cut", "png"],
)
def test_an_unreadable_encoding_is_named_with_file_line_and_byte(
    tmp_path: Path, data: bytes, row: str, message: str
) -> None:
    path = tmp_path / "study.yaml"
    path.write_bytes(data)
    error = refusal(path)
    assert (error.file, error.row, error.message) == (str(path), row, message)


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "study.yaml"
    path.write_bytes(codecs.BOM_UTF8 + TEXT.encode("utf-8"))
    assert read_text_input(path) == TEXT


@pytest.mark.parametrize("kind", ["fifo", "folder", "device", "too-large", "missing"])
def test_only_a_regular_file_is_read_and_at_once(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "study.yaml"
    expected = {
        "fifo": "a named pipe, not a regular file: give a file",
        "folder": "a folder, not a regular file: give a file",
        "device": "a character device, not a regular file: give a file",
        "too-large": f"larger than {MAX_INPUT_BYTES // 2**20} MiB: not an input of this tool",
        "missing": "No such file or directory",
    }[kind]
    if kind == "fifo":
        os.mkfifo(path)  # nobody writes to it: a blocking read would never return
    elif kind == "folder":
        path.mkdir()
    elif kind == "device":
        path = Path("/dev/zero")  # endless
    elif kind == "too-large":
        with path.open("wb") as handle:
            handle.truncate(MAX_INPUT_BYTES + 1)  # sparse: costs no disk
    assert refusal(path).message == expected


def run(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_data_add_names_the_file_that_is_not_utf8(data_copy: Path, tmp_path: Path) -> None:
    study = tmp_path / "utf16.yaml"
    study.write_bytes(TEXT.encode("utf-16"))
    patients = tmp_path / "latin1.csv"
    text = PATIENTS.read_text(encoding="utf-8").replace("Fever settled", "Fi\u00e8vre")
    patients.write_bytes(text.encode("latin-1"))
    offset = patients.read_bytes().index(b"\xe8")
    before = snapshot(data_copy)
    result = run("data", "add", study, "--patients", patients, "--data", data_copy)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "error: 2 problems found:",
        f"{patients}: line 2: not UTF-8 text: byte 0xe8 at byte {offset} (saved as Latin-1 or "
        "Windows-1252?); save it as UTF-8",
        f"{study}: encoded as UTF-16 (byte-order mark): save it as UTF-8 text",
    ]
    assert snapshot(data_copy) == before


def test_data_add_refuses_a_named_pipe_at_once(data_copy: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "study.yaml"
    os.mkfifo(fifo)
    before = snapshot(data_copy)
    with within(20):
        result = run("data", "add", fifo, "--data", data_copy)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "error: 1 problem found:",
        f"{fifo}: a named pipe, not a regular file: give a file",
    ]
    assert snapshot(data_copy) == before


def test_data_validate_names_a_binary_file_in_the_base(data_copy: Path) -> None:
    path = data_copy / "studies" / "Kumar2017.yaml"
    path.write_bytes(b"study:\n  id: Kumar2017\n\x00\x01\x02")
    result = run("data", "validate", data_copy)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[1:] == [
        f"{path}: line 3: a NUL byte at byte 23: binary data, or UTF-16/UTF-32 text; save it "
        "as UTF-8 text"
    ]


def test_a_full_disk_names_the_file_being_written(
    data_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(data_copy)

    def full(_fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(journal.os, "fsync", full)
    result = run("data", "add", STUDY, "--patients", PATIENTS, "--data", data_copy)
    assert result.exit_code == 1
    target = data_copy / "studies" / "Example2024.yaml"
    assert result.stderr == f"error: {target}: No space left on device\n"
    assert snapshot(data_copy) == before


def test_a_full_disk_names_the_report_being_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hlhbayes.reporting import render

    def full(_context):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(render, "render_html", full)
    target = tmp_path / "reports" / "r"
    with pytest.raises(OSError) as caught:
        render.write_files({"figures": []}, target, "html")
    assert caught.value.filename == str(target)
    assert list(tmp_path.iterdir()) == []  # the staging folder (and the folder made for it) is gone
