"""The site's linkage file: pseudonym -> original PatientID, kept locally, never sent.

A CSV file (``pseudonym,patient_id``) that only the site's data manager can read
(mode 0600). It is the optional reverse lookup of ``sarcoma-xnat deid verify``; the
forward direction needs only the secret.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from sarcoma_xnat.errors import ConfigurationError

__all__ = ["LinkageFile"]

_HEADER = ["pseudonym", "patient_id"]


class LinkageFile:
    """Read and append pseudonym/PatientID pairs.

    Parameters
    ----------
    path : path-like
        The CSV file; created (mode 0600) on the first :meth:`record`.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._pairs: set[tuple[str, str]] | None = None

    def _load(self) -> set[tuple[str, str]]:
        if self._pairs is None:
            self._pairs = set()
            if self.path.exists():
                with open(self.path, newline="", encoding="utf-8") as fh:
                    reader = csv.reader(fh)
                    header = next(reader, None)
                    if header != _HEADER:
                        raise ConfigurationError(f"{self.path} is not a linkage file: expected "
                                                 f"the header {','.join(_HEADER)}")
                    self._pairs = {(row[0], row[1]) for row in reader if len(row) == 2}
        return self._pairs

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
            writer.writerow([pseudonym, patient_id])
        pairs.add((pseudonym, patient_id))

    def patient_ids(self, pseudonym: str) -> list[str]:
        """Return the original PatientIDs recorded for ``pseudonym`` (sorted)."""
        return sorted(pid for pseu, pid in self._load() if pseu == pseudonym)

    def pseudonyms(self) -> list[str]:
        """Return every pseudonym in the file (sorted)."""
        return sorted({pseu for pseu, _ in self._load()})
