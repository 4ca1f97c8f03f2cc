"""A project's series selection rules: ``series_rules.json`` in project resource ``SERIES_RULES``.

The file holds what :func:`sarcoma_xnat.imaging.selection.rules_from_json` reads, e.g.
``{"t2": {"include": "\\\\bPD\\\\b|\\\\bSTIR\\\\b", "prefer": ["fat_saturated", "axial"]}}``.
``run_on_archive`` reads it from the project; ``sarcoma-xnat preprocess --rules FILE``
reads a file. The XNAT command does not mount it: an optional project-resource mount
that resolves to nothing fails the launch (container-service
``CommandResolutionServiceImpl`` mount resolution, as the local runner models it),
so in "Run container" the rules are overridden through the pattern and scan-ID inputs.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from sarcoma_xnat.archive.base import Archive
from sarcoma_xnat.archive.refs import ObjectRef
from sarcoma_xnat.errors import ConfigurationError
from sarcoma_xnat.imaging.selection import rules_from_json

__all__ = ["RULES_FILE", "RULES_RESOURCE", "project_rules", "read_rules"]

#: project resource holding the rules file
RULES_RESOURCE = "SERIES_RULES"
#: name of the rules file inside the resource (or a folder given with ``--rules-dir``)
RULES_FILE = "series_rules.json"


def read_rules(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """Return the rules of a rules file, or of ``RULES_FILE`` in a folder; ``None`` when absent."""
    path = Path(path)
    if path.is_dir():
        path = path / RULES_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read the series rules file {path.name}: {exc}") from None
    rules_from_json(data)  # refuse a bad file here, naming it
    return data


def project_rules(archive: Archive, project: str) -> dict[str, Any] | None:
    """Return the project's rules from its ``SERIES_RULES`` resource, ``None`` when it has none."""
    ref = ObjectRef(project)
    if not any(r.label == RULES_RESOURCE for r in archive.resources(ref)):
        return None
    with tempfile.TemporaryDirectory(prefix="sarcoma-rules-") as tmp:
        archive.fetch_resource(ref, RULES_RESOURCE, Path(tmp))
        found = sorted(Path(tmp).rglob(RULES_FILE))
        if not found:
            raise ConfigurationError(f"project {project} resource {RULES_RESOURCE} has no "
                                     f"{RULES_FILE}", project=project)
        return read_rules(found[0])
