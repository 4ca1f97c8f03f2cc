"""Where a de-identified file goes, and the digests the folder pass records of each file.

A file keeps its folders under the output, except that a folder name carrying an
identifier becomes a keyed code (:func:`safe_parts`); :func:`safe_folder` works that
out once per input folder and pool. :func:`file_digest` fingerprints a file from its
parts so that the pixel data, which the output copies unchanged, is hashed once for
the input's and the output's digest.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from sarcoma_xnat.deid.keys import SiteKey
from sarcoma_xnat.deid.scrub import Scrubber

__all__ = ["file_digest", "forget_folders", "safe_folder", "safe_parts"]


def safe_parts(parts: tuple[str, ...], scrubber: Scrubber, key: SiteKey) -> list[str]:
    """Return folder names with any that carries an identifier replaced by a keyed code."""
    return [f"D{key.code('path', part)}" if scrubber.is_dirty(part.encode("utf-8")) else part
            for part in parts]


#: (input folder, pool) -> output folder and the pool's scrubber (kept: its id stays its own)
_FOLDERS: dict[tuple[Path, int], tuple[str, Scrubber]] = {}


def safe_folder(parent: Path, scrubber: Scrubber, key: SiteKey) -> str:
    """Return the output folder of the files in input folder ``parent``: "" or "a/b/"."""
    found = _FOLDERS.get((parent, id(scrubber)))
    if found is None:
        folder = "".join(f"{part}/" for part in safe_parts(parent.parts, scrubber, key))
        found = _FOLDERS[(parent, id(scrubber))] = (folder, scrubber)
    return found[0]


def forget_folders() -> None:
    """Forget the output folders worked out so far (a new run, or its end)."""
    _FOLDERS.clear()


def file_digest(head: bytes, pixels: bytes | None = None, tail: bytes = b"") -> bytes:
    """Return the digest of a file made of ``head``, a pixel data element and ``tail``.

    ``pixels`` is the element's sha256 (None: no separate pixel part, as empty); the
    file's digest is the sha256 of the three parts' sha256. The pixel data element is
    hashed once and serves both the input's and the output's digest, since the output
    copies it byte for byte; each file's digest still changes with any byte of it.
    """
    return hashlib.sha256(hashlib.sha256(head).digest()
                          + (pixels or hashlib.sha256(b"").digest())
                          + hashlib.sha256(tail).digest()).digest()
