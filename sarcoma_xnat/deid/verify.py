"""Checks after de-identification: which pseudonym a PatientID has, and whether PHI survived."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Iterable

__all__ = ["PhiHit", "find_phi"]


@dataclass(frozen=True)
class PhiHit:
    """A planted identifying value found in an output file (``where``: content or name)."""

    file: str
    value: str
    where: str


def find_phi(root: str | os.PathLike[str], values: Iterable[str]) -> list[PhiHit]:
    """Return every occurrence of ``values`` in the files under ``root`` and in their paths.

    The search is over raw bytes, case-insensitive, so it covers every header, nested
    sequence and private element whatever its VR, and every file and folder name
    below ``root``. Meant for tests, benchmarks and audits of test data: the values
    themselves are PHI, so never log the hits of real data.
    """
    base = Path(root)
    wanted = sorted({v for v in values if v}, key=len, reverse=True)
    needles = [(v, v.lower().encode("utf-8")) for v in wanted]
    hits = []
    for path in sorted(p for p in base.rglob("*") if p.is_file()):
        rel = path.relative_to(base).as_posix()
        data = path.read_bytes().lower()
        name = rel.lower().encode("utf-8")
        for value, needle in needles:
            if needle in name:
                hits.append(PhiHit(rel, value, "name"))
            if needle in data:
                hits.append(PhiHit(rel, value, "content"))
    return hits
