"""The site's linkage file: pseudonym -> original PatientID, kept locally, never sent.

A CSV file (``pseudonym,patient_id,key_fingerprint``) that only the site's data
manager can read (mode 0600). It is the optional reverse lookup of ``sarcoma-xnat deid
verify``; the forward direction needs only the secret.

Each row carries the fingerprint of the site secret it was made under
(:meth:`SiteKey.fingerprint`, a keyed hash of a fixed label, never the secret). A
file opened with a key refuses another secret (or prefix) before anything is
written, so a wrong secret cannot silently give patients a second pseudonym. Files of
the older two-column form are still read; their rows are checked by recomputing each
pseudonym under the key.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import TYPE_CHECKING

from sarcoma_xnat.errors import ConfigurationError

if TYPE_CHECKING:
    from sarcoma_xnat.deid.keys import SiteKey

__all__ = ["LinkageFile"]

_HEADER = ["pseudonym", "patient_id", "key_fingerprint"]
_LEGACY_HEADER = ["pseudonym", "patient_id"]


class LinkageFile:
    """Read and append pseudonym/PatientID pairs.

    Parameters
    ----------
    path : path-like
        The CSV file; created (mode 0600) on the first :meth:`record`.
    key : SiteKey, optional
        The site key in use. With it the file is checked against the key when first
        read (see :meth:`check_key`) and new rows carry its fingerprint.
    """

    def __init__(self, path: str | os.PathLike[str], key: SiteKey | None = None) -> None:
        self.path = Path(path)
        self.key = key
        self._pairs: set[tuple[str, str]] | None = None
        self._legacy = False

    def _load(self) -> set[tuple[str, str]]:
        if self._pairs is None:
            pairs: set[tuple[str, str]] = set()
            fingerprints: set[str] = set()
            if self.path.exists():
                with open(self.path, newline="", encoding="utf-8") as fh:
                    reader = csv.reader(fh)
                    header = next(reader, None)
                    if header not in (_HEADER, _LEGACY_HEADER):
                        raise ConfigurationError(f"{self.path} is not a linkage file: expected "
                                                 f"the header {','.join(_HEADER)}")
                    self._legacy = header == _LEGACY_HEADER
                    for row in reader:
                        if len(row) >= 2:
                            pairs.add((row[0], row[1]))
                        if len(row) >= 3 and row[2]:
                            fingerprints.add(row[2])
            if self.key is not None:
                self._check(pairs, fingerprints)
            self._pairs = pairs
        return self._pairs

    def _check(self, pairs: set[tuple[str, str]], fingerprints: set[str]) -> None:
        """Raise when rows were made under another secret or prefix than ``self.key``."""
        assert self.key is not None
        mine = self.key.fingerprint()
        others = sorted(fingerprints - {mine})
        if others:
            raise ConfigurationError(
                f"the linkage file {self.path} was written under another site secret (key "
                f"fingerprint {others[0]}; this secret's is {mine}): the same patients would "
                "get a second pseudonym. Use the site secret the file was written with, or "
                "another linkage file")
        wrong = sum(1 for pseudonym, patient_id in pairs
                    if self.key.pseudonym(patient_id) != pseudonym)
        if wrong:
            raise ConfigurationError(
                f"{wrong} pseudonym(s) in the linkage file {self.path} do not match this site "
                f"secret and prefix {self.key.prefix!r}: the same patients would get a second "
                "pseudonym. Use the secret and --prefix the file was written with")

    def check_key(self) -> None:
        """Read the file now and raise if it does not match the key (before any work)."""
        self._load()

    def record(self, pseudonym: str, patient_id: str) -> None:
        """Add a pair unless it is already there."""
        pairs = self._load()
        if (pseudonym, patient_id) in pairs:
            return
        new = not self.path.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            if new:
                writer.writerow(_HEADER)
            row = [pseudonym, patient_id]
            if not self._legacy:
                row.append(self.key.fingerprint() if self.key is not None else "")
            writer.writerow(row)
        pairs.add((pseudonym, patient_id))

    def patient_ids(self, pseudonym: str) -> list[str]:
        """Return the original PatientIDs recorded for ``pseudonym`` (sorted)."""
        return sorted(pid for pseu, pid in self._load() if pseu == pseudonym)

    def pseudonyms(self) -> list[str]:
        """Return every pseudonym in the file (sorted)."""
        return sorted({pseu for pseu, _ in self._load()})
