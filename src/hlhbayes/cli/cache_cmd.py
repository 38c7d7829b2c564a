"""``hlhbayes cache info`` and ``hlhbayes cache clear``: the compiled-fit cache."""

from __future__ import annotations

import time

import click
import pandas as pd

from hlhbayes.cli.common import emit_payload
from hlhbayes.cli.options import table_format_option
from hlhbayes.cli.tables import print_table


@click.group()
def cache() -> None:
    """Show or empty the compiled-fit cache.

    The first fit of a model structure compiles a program and keeps it there; later fits of
    the same structure load it (about 3 s instead of about 15). The folder is
    $HLHBAYES_CACHE_DIR if set, else the user cache folder; its size is bounded by
    $HLHBAYES_CACHE_MAX_BYTES (default 2 GB), least recently used entries going first.
    """


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


@cache.command(short_help="Where the cache is, its entries and its size.")
@table_format_option()
def info(fmt: str) -> None:
    """Where the cache is, its entries and its size.

    Each entry with its kind, model, size and last use.
    """
    from hlhbayes.engine.cache import cache_info

    found = cache_info()
    if fmt != "table":
        emit_payload(
            {
                "location": str(found.location),
                "max_bytes": found.max_bytes,
                "entries_bytes": found.entries_bytes,
                "xla_bytes": found.xla_bytes,
                "total_bytes": found.total_bytes,
                "entries": [
                    {
                        "key": e.key,
                        "kind": e.kind,
                        "model": e.model,
                        "bytes": e.size_bytes,
                        "created": e.created,
                        "last_used": e.last_used,
                    }
                    for e in found.entries
                ],
            },
            fmt,
        )
        return
    click.echo(f"location: {found.location}")
    click.echo(
        f"entries: {len(found.entries)} ({_size(found.entries_bytes)}); "
        f"compiled machine code: {_size(found.xla_bytes)}; "
        f"total {_size(found.total_bytes)} of at most {_size(found.max_bytes)}"
    )
    if found.entries:
        frame = pd.DataFrame(
            {
                "entry": [e.key[:12] for e in found.entries],
                "kind": [e.kind for e in found.entries],
                "model": [e.model for e in found.entries],
                "size": [e.size_bytes for e in found.entries],
                "last used": [
                    time.strftime("%Y-%m-%d %H:%M", time.localtime(e.last_used))
                    for e in found.entries
                ],
            }
        )
        click.echo()
        print_table(frame, formats={"size": _size})


@cache.command(short_help="Empty the compiled-fit cache.")
def clear() -> None:
    """Empty the compiled-fit cache.

    Removes every compiled program and stored draw, and the programs' machine code.
    """
    from hlhbayes.engine.cache import cache_clear, cache_info

    before = cache_info()
    cache_clear()
    n = len(before.entries)
    click.echo(
        f"removed {n} {'entry' if n == 1 else 'entries'} ({_size(before.total_bytes)} with the "
        f"machine code) from {before.location}"
    )
