"""DOIs, PMIDs and web addresses as people paste them, checked and reduced to one form.

- A DOI may be written bare (``10.3390/jcm11195799``), as a link (``https://doi.org/...``,
  ``http://dx.doi.org/...``) or with ``doi:`` in front; the record keeps the bare DOI, as
  written otherwise. DOIs are case-insensitive, so duplicates are compared case-folded
  (:func:`doi_key`).
- A PMID may be a number or text such as ``"PMID: 0123"``; the record keeps the digits without
  leading zeros (a number stays a number, text stays text, so the content hash of a base
  written in the bare forms does not change). Duplicates are compared as numbers
  (:func:`pmid_key`).
- A web address (``url``, ``read_at``, ``source``) must be ``http://`` or ``https://`` with a
  host, and hold no space, control character, quote or angle bracket: reports show it, and turn
  ``url`` into a live link.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

from hlhbayes.quoting import quoted

_DOI_PREFIX = re.compile(r"(?:https?://(?:dx\.|www\.)?doi\.org/|doi:\s*)", re.IGNORECASE)
_DOI = re.compile(r"10\.\d{4,9}/\S{1,300}")
_PMID = re.compile(r"(?:pmid\s*:?\s*)?(\d{1,12})", re.IGNORECASE)
MAX_PMID = 999_999_999
_NOT_IN_ADDRESS = frozenset('<>"\\`')


def normalise_doi(text: str) -> str:
    """The bare DOI ``10.<registrant>/<suffix>``; ``ValueError`` if ``text`` is not a DOI."""
    bare = _DOI_PREFIX.sub("", text.strip(), count=1)
    if not _DOI.fullmatch(bare) or _has_control(bare):
        raise ValueError(
            f"{quoted(text)} is not a DOI (expected 10.<registrant>/<suffix>, "
            "e.g. 10.3390/jcm11195799)"
        )
    return bare


def normalise_pmid(value: int | str) -> int | str:
    """The PMID without prefix or leading zeros (same type); ``ValueError`` if not a PMID."""
    if isinstance(value, int) and not isinstance(value, bool):
        if 1 <= value <= MAX_PMID:
            return value
    elif isinstance(value, str):
        match = _PMID.fullmatch(value.strip())
        if match and 1 <= int(match.group(1)) <= MAX_PMID:
            return str(int(match.group(1)))
    raise ValueError(f"{quoted(value)} is not a PMID (a number from 1 to {MAX_PMID})")


def check_web_address(text: str) -> str:
    """``text`` if it is an http(s) address with a host, else ``ValueError``."""
    try:
        parts = urlsplit(text)
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or any(c.isspace() or c in _NOT_IN_ADDRESS for c in text)
        or _has_control(text)
    ):
        raise ValueError(
            f"{quoted(text)} is not a web address (http:// or https://, without spaces)"
        )
    return text


def doi_key(doi: str) -> str:
    """What two DOIs are compared by: the bare DOI, case-folded."""
    return normalise_doi(doi).casefold()


def pmid_key(pmid: int | str) -> int:
    """What two PMIDs are compared by: the number."""
    return int(normalise_pmid(pmid))


IDENTIFIER_KEYS = {"doi": doi_key, "pmid": pmid_key}
"""The comparison key of each identifier field of a study."""


def _has_control(text: str) -> bool:
    return any(unicodedata.category(c) in ("Cc", "Cf") for c in text)
