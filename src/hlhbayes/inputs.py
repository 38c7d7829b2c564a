"""Reading a user's input file: regular files only, bounded, UTF-8, and every refusal located.

A named pipe or a device given as a file would block or never end; a file saved as UTF-16,
Latin-1 or Windows-1252, or a binary file, would otherwise fail deep inside a parser with a
message that names no file. :func:`read_text_input` refuses each at once with one line that
names the file (and the line and byte where it can).
"""

from __future__ import annotations

import codecs
import os
import stat
from pathlib import Path

from hlhbayes.errors import HlhBayesError

MAX_INPUT_BYTES = 16 * 1024 * 1024
"""Largest input file read (study files, patient tables and tables of counts are far smaller)."""

_BOMS = (  # UTF-32 first: its little-endian mark begins with UTF-16's
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
_KINDS = {
    stat.S_IFIFO: "a named pipe",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a folder",
}


class InputFileError(HlhBayesError):
    """An input file that cannot be read as text: the file, where in it, and why."""

    def __init__(self, file: str, row: str, message: str) -> None:
        self.file = file
        self.row = row
        self.message = message
        super().__init__(": ".join(p for p in (file, row, message) if p))


def read_input_bytes(path: Path | str, shown: str | None = None) -> bytes:
    """The bytes of a regular file of at most :data:`MAX_INPUT_BYTES`.

    The file is opened without blocking and checked before anything is read, so a named pipe
    or a device is refused at once. ``shown`` is how messages name the file (default: path).
    """
    shown = shown if shown is not None else str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise InputFileError(shown, "", exc.strerror or str(exc)) from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
        raise InputFileError(shown, "", f"{kind}, not a regular file: give a file")
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(MAX_INPUT_BYTES + 1)
    if len(data) > MAX_INPUT_BYTES:
        raise InputFileError(
            shown, "", f"larger than {MAX_INPUT_BYTES // 2**20} MiB: not an input of this tool"
        )
    return data


def decode_text(data: bytes, shown: str) -> str:
    """UTF-8 text of ``data`` (a UTF-8 byte-order mark is dropped), or a located refusal."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            raise InputFileError(
                shown, "", f"encoded as {name} (byte-order mark): save it as UTF-8 text"
            )
    nul = data.find(b"\0")
    if nul != -1:
        raise InputFileError(
            shown,
            _line_of(data, nul),
            f"a NUL byte at byte {nul}: binary data, or UTF-16/UTF-32 text; save it as UTF-8 text",
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        start = exc.start + (3 if data.startswith(codecs.BOM_UTF8) else 0)
        raise InputFileError(
            shown,
            _line_of(data, start),
            f"not UTF-8 text: byte 0x{data[start]:02x} at byte {start} "
            "(saved as Latin-1 or Windows-1252?); save it as UTF-8",
        ) from None


def read_text_input(path: Path | str, shown: str | None = None) -> str:
    """:func:`read_input_bytes` then :func:`decode_text`: an input file's text, or a refusal."""
    shown = shown if shown is not None else str(path)
    return decode_text(read_input_bytes(path, shown), shown)


def _line_of(data: bytes, offset: int) -> str:
    return f"line {data.count(b'\n', 0, offset) + 1}"
