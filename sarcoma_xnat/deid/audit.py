"""The de-identification audit log: one JSON object a line, never any PHI.

Each record says what was done to how many files: counts per profile action, files
skipped and why (reasons, not file names, which may carry PHI), the pseudonyms
involved, the profile edition and options, and a fingerprint of the site secret.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sarcoma_xnat import __version__

__all__ = ["AuditLog"]


class AuditLog:
    """Append-only JSON-lines audit log.

    Parameters
    ----------
    path : path-like or None
        The log file (created with its folder); ``None`` keeps records in memory only.
    """

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self.path = Path(path) if path is not None else None
        self.records: list[dict[str, Any]] = []

    def write(self, event: str, **fields: Any) -> dict[str, Any]:
        """Append one record (``event`` plus ``fields``) and return it."""
        record: dict[str, Any] = {
            "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "event": event,
            "tool": f"sarcoma-xnat {__version__}",
        }
        record.update({k: _plain(v) for k, v in fields.items()})
        self.records.append(record)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record, sort_keys=True) + "\n")
        return record


def _plain(value: Any) -> Any:
    """Return ``value`` as JSON-friendly data (counters and sets become dicts and sorted lists)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in sorted(value.items())}
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
