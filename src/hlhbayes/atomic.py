"""All-or-nothing writes: files and folders appear whole, or not at all.

Files:

- :func:`write_atomically` replaces several files together: each new content is written to a
  temporary file beside its target (and flushed to disk), then renamed over it; a failure part-way
  puts every file back as it was.
- :func:`write_json` writes the project's one JSON form (:func:`json_text`: two-space indent,
  final newline, UTF-8 as is, NaN as ``null``) the same way.

Folders:

- :func:`stage` builds a folder in a hidden staging place beside its target; nothing is visible
  at the target yet.
- :func:`commit` moves staged folders into place together (with small pointer files); after a
  failure part-way every folder already moved is moved back, and nothing else is left.
- :func:`write_folder` is both, for a single folder that replaces what is there (kept
  elsewhere when asked, restored on failure).

Given a ``journal`` (the journal of the place's lock, :class:`hlhbayes.locking.Guard`), each of
these is also undone after a kill part-way, by the next command that takes the lock: see
:mod:`hlhbayes.journal`, which makes the moves.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hlhbayes.errors import HlhBayesError
from hlhbayes.journal import SUFFIX, Change, UnfinishedChange, apply, checkpoint, own_prefix

# --------------------------------------------------------------------------------------------
# files


def write_atomically(writes: Mapping[Path, bytes], journal: Path | None = None) -> None:
    """Replace several files so that a failure part-way leaves every one of them as it was.

    Each new content goes to a temporary file in the target's folder first; existing targets
    are kept as backups until every replacement has succeeded. With ``journal``, a kill
    part-way is undone too (by the next command that takes the lock the journal belongs to).
    """
    change = Change(journal)
    for target, content in writes.items():
        change.write(Path(target), content)
    change.apply()


def json_text(payload: Any) -> str:
    """The project's JSON form of ``payload``.

    Two-space indentation and a final newline; non-ASCII text kept as it is; NaN (a missing
    number) as ``null``; numpy scalars as plain numbers, tuples as lists, paths as strings.
    """
    return json.dumps(_plain(payload), indent=2, allow_nan=False, ensure_ascii=False) + "\n"


def write_json(path: Path, payload: Any) -> None:
    """Write ``payload`` as :func:`json_text` to ``path``, atomically."""
    write_atomically({Path(path): json_text(payload).encode("utf-8")})


def _plain(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and not isinstance(value, str):  # a numpy scalar
        return _plain(value.item())
    return value


# --------------------------------------------------------------------------------------------
# folders


@dataclass
class Staged:
    """A folder built in a hidden staging place, waiting to be moved to ``target``.

    ``keep_previous``: where a folder already at ``target`` goes when this one takes its place
    (it stays there); ``None``: the old folder is deleted once every folder is in place.
    """

    target: Path
    staging_root: Path
    keep_previous: Path | None = None
    created_dirs: list[Path] = field(default_factory=list)

    @property
    def folder(self) -> Path:
        """Where the content is being built."""
        return self.staging_root / self.target.name


def stage(target: Path, fill: Callable[[Path], None], keep_previous: Path | None = None) -> Staged:
    """Build the folder ``target`` in a hidden staging folder beside it.

    ``fill(folder)`` writes the content into ``folder`` (created empty before the call). Nothing
    is visible at ``target`` until :func:`commit`. If ``fill`` fails, the staging folder is
    removed and the exception passes on.
    """
    target = Path(target)
    created = [p for p in [target.parent, *target.parent.parents] if not p.exists()]
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        root = tempfile.mkdtemp(
            prefix=own_prefix(target.name, "staging"), suffix=SUFFIX, dir=target.parent
        )
    except OSError as exc:
        raise HlhBayesError(f"cannot write under {target.parent}: {exc.strerror or exc}") from None
    staged = Staged(target, Path(root), keep_previous, created)
    try:
        staged.folder.mkdir()
        fill(staged.folder)
        checkpoint("staged")
    except BaseException:
        discard([staged], failed=True)
        raise
    return staged


def discard(staged: list[Staged], failed: bool = False) -> None:
    """Remove staging folders; after a failure also the (empty) folders made for them."""
    for s in staged:
        shutil.rmtree(s.staging_root, ignore_errors=True)
    if failed:
        for s in reversed(staged):  # later stagings may sit in folders made by earlier ones
            for folder in s.created_dirs:  # deepest first
                try:
                    folder.rmdir()
                except OSError:
                    break  # not empty (another staged folder, or content): keep it


def refuse_existing(target: Path, force: bool) -> None:
    """Refuse to replace an existing folder unless ``force`` (and never a file)."""
    target = Path(target)
    if target.exists() and not force:
        raise HlhBayesError(
            f"{target}: exists; use --force to replace it (or choose another --out)"
        )
    if target.exists() and not target.is_dir():
        raise HlhBayesError(f"{target}: exists and is not a folder")


def commit(
    staged: list[Staged],
    pointers: Mapping[Path, bytes] | None = None,
    force: bool = False,
    journal: Path | None = None,
    journal_of: Callable[[Path], Path | None] | None = None,
) -> None:
    """Move every staged folder into place and write ``pointers``, all or nothing.

    An existing target is replaced only with ``force`` or when its staged folder says where to
    keep it (checked here, since time has passed since any earlier check). After a failure
    part-way, the folders already moved are moved back and the pointers are left as they were.
    ``journal``: the journal of the change (see :func:`write_atomically`); ``journal_of``, for a
    change spread over several places: the journal of the place of each target.
    """
    changes: dict[Path | None, Change] = {}

    def change_of(target: Path) -> Change:
        where = journal_of(target) if journal_of is not None else journal
        return changes.setdefault(where, Change(where))

    try:
        for s in staged:
            refuse_existing(s.target, force or s.keep_previous is not None)
        for s in staged:
            aside = s.keep_previous or s.staging_root / f"{s.target.name}.old"
            change_of(s.target).put_folder(s.folder, s.target, aside, s.keep_previous is not None)
        for target, content in (pointers or {}).items():
            change_of(Path(target)).write(Path(target), content)
        apply(list(changes.values()))
    except UnfinishedChange:
        raise  # the staging folders hold what the undoing needs: they stay
    except BaseException:
        discard(staged, failed=True)
        raise
    discard(staged)


def write_folder(
    target: Path,
    fill: Callable[[Path], None],
    keep_previous: Path | None = None,
    journal: Path | None = None,
) -> Path:
    """Build ``target`` beside it with ``fill(folder)``, then swap it into place.

    What was at ``target`` is replaced: moved to ``keep_previous`` when given (where it stays),
    otherwise deleted once the new folder is in place. On any failure nothing new is left
    behind and the old folder is where it was. ``journal``: see :func:`write_atomically`.
    """
    target = Path(target)
    commit([stage(target, fill, keep_previous)], force=True, journal=journal)
    return target
