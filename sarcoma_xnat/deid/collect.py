"""The first pass of folder de-identification: identifying values per study and patient.

A referring physician named in one series may appear in another series' description,
an operator of the CT in the MR's comments. So before any file is cleaned, every
header in the folder is scanned (up to the pixel data) and its identifying values
(:func:`sarcoma_xnat.deid.values.identifying_values`) are pooled over every file that
shares a patient or a study with it. The second pass cleans each file with its pool.
Headers are read in ``jobs`` processes (:func:`~sarcoma_xnat.deid.jobs.map_files`) and
only the elements that can hold such values are decoded, so this pass stays cheap.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import pydicom

from sarcoma_xnat.deid.jobs import map_files
from sarcoma_xnat.deid.prescan import scan_values
from sarcoma_xnat.deid.scrub import Scrubber
from sarcoma_xnat.deid.values import identifying_values, tokens_of

__all__ = ["StudyValues", "header_values"]

_Found = tuple[set[str], str, str]
_MEMO: dict[object, frozenset[str]] = {}  # per process: element as read -> values in it
_SCANNED: dict[object, object] = {}  # the same (and values read), for the byte scan


def header_values(path: str | os.PathLike[str]) -> _Found | None:
    """Return a file's identifying values, PatientID and StudyInstanceUID; None if unreadable.

    The header's bytes are scanned without building a Dataset
    (:func:`~sarcoma_xnat.deid.prescan.scan_values`); a file that scan does not model
    is read with pydicom, which gives the same values.
    """
    if len(_SCANNED) > 50_000:
        _SCANNED.clear()
    found = scan_values(str(path), _SCANNED)
    if found is not None:
        return found
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        if len(_MEMO) > 50_000:
            _MEMO.clear()
        values = identifying_values(ds, _MEMO)
        patient = str(ds.get("PatientID", "") or "").strip()
        study = str(ds.get("StudyInstanceUID", "") or "").strip()
    except Exception:  # noqa: BLE001 - the second pass reports unreadable files
        return None
    return values, patient, study


class StudyValues:
    """Identifying values pooled per patient/study over a set of files.

    Parameters
    ----------
    paths : iterable of path-like
        The files; any that cannot be read contributes nothing (the second pass reports it).
    jobs : int
        Processes reading the headers.
    """

    def __init__(self, paths: Iterable[str | os.PathLike[str]], jobs: int = 1) -> None:
        self._parent: dict[object, object] = {}
        self._values: dict[Path, set[str]] = {}
        files = [Path(p) for p in paths]
        for path, found in zip(files, map_files(header_values, files, jobs)):
            self._add(path, found)
        pools: dict[object, set[str]] = {}
        for path, values in self._values.items():
            pools.setdefault(self._find(path), set()).update(values)
        self._pools = {root: tokens_of(values) for root, values in pools.items()}
        self._all = tokens_of(v for values in pools.values() for v in values)
        self._scrubbers: dict[tuple[str, ...], Scrubber] = {}

    def _find(self, node: object) -> object:
        parent = self._parent.setdefault(node, node)
        while parent != node:
            grand = self._parent.setdefault(parent, parent)
            self._parent[node] = grand
            node, parent = parent, grand
        return node

    def _union(self, a: object, b: object) -> None:
        ra, rb = self._find(a), self._find(b)
        if ra != rb:
            self._parent[ra] = rb

    def _add(self, path: Path, found: _Found | None) -> None:
        if found is None:
            return
        values, patient, study = found
        self._values[path] = values
        self._find(path)
        if patient:
            self._union(path, ("patient", patient))
        if study:
            self._union(path, ("study", study))

    def tokens(self, path: str | os.PathLike[str]) -> tuple[str, ...]:
        """Return the tokens of the pool ``path`` belongs to (all pools if it was unreadable)."""
        path = Path(path)
        if path not in self._values:
            return self._all
        return self._pools[self._find(path)]

    def scrubber(self, path: str | os.PathLike[str]) -> Scrubber:
        """Return the :class:`Scrubber` of the pool of ``path`` (one per pool: it remembers)."""
        tokens = self.tokens(path)
        found = self._scrubbers.get(tokens)
        if found is None:
            found = self._scrubbers[tokens] = Scrubber(tokens)
        return found

    def everything(self) -> Scrubber:
        """Return a :class:`Scrubber` for the values of every file (for names of bad files)."""
        found = self._scrubbers.get(self._all)
        if found is None:
            found = self._scrubbers[self._all] = Scrubber(self._all)
        return found
