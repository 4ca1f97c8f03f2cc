"""Versioned project resources: every version of a model kept, one of them current.

A project resource (e.g. ``SEGMENT_MODELS``, ``PROGNOSIS_MODEL``) holds
``registry.json`` and one folder per version (``1/``, ``2/`` …)::

    {"current": "2",
     "versions": [{"version": "1", "sha256": "...", "decision": "accepted", ...}, ...],
     "history": [{"action": "publish", "version": "1", "at": "..."}, ...]}

:func:`publish_version` adds a folder as a new version; :func:`use_version` changes
only ``current`` (rollback or roll forward) and keeps every version. A version whose
record says ``"decision": "rejected"`` is kept but never made current.

Both write with *merge* semantics: the new version's files, then ``registry.json``
last, are added to the resource and nothing else is touched, as XNAT's
``DefaultCatalogService.insertResources`` stores files into an existing resource
(``NrgXnat/xnat-web:src/main/java/org/nrg/xnat/services/archive/impl/legacy/DefaultCatalogService.java``;
project resources live at ``/data/projects/{P}/resources/{label}/files/...``,
``NrgXnat/xnat-web:src/main/java/org/nrg/xnat/restlet/resources/files/FileList.java``).
So a reader never sees a ``current`` whose folder is not there yet, and an earlier
version's files are never rewritten. Two publishers racing may both pick the same
next number; the second's ``registry.json`` wins (run one publisher per project).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sarcoma_xnat.archive.base import Archive
from sarcoma_xnat.archive.refs import ObjectRef
from sarcoma_xnat.errors import ConfigurationError, ObjectNotFoundError

__all__ = ["REGISTRY_FILE", "VersionedResource", "fetch_versions", "next_version",
           "publish_version", "read_registry", "use_version", "version_dir"]

REGISTRY_FILE = "registry.json"


@dataclass(frozen=True)
class VersionedResource:
    """Which project resource holds the versions, and how to speak of them.

    Attributes
    ----------
    label : str
        Project resource label (``SEGMENT_MODELS``).
    kind : str
        What a version is, for messages (``"segmentation model"``).
    format, content : str
        XNAT resource format and content of a newly created resource.
    hint : str
        How to make a first version, for the "no current version" error.
    """

    label: str
    kind: str
    format: str
    content: str
    hint: str


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def read_registry(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """Read ``registry.json`` of a versions folder; an absent one is an empty registry."""
    path = Path(folder) / REGISTRY_FILE
    if not path.is_file():
        return {"current": None, "versions": [], "history": []}
    return json.loads(path.read_text())


def _names(registry: Mapping[str, Any]) -> str:
    return ", ".join(str(v["version"]) for v in registry["versions"]) or "none"


def version_dir(folder: str | os.PathLike[str], spec: VersionedResource,
                version: str | None = None) -> tuple[Path, str]:
    """Return ``(folder of version, version)``; ``version`` defaults to the current one.

    Raises
    ------
    ConfigurationError
        When there is no current version, or ``version`` is not in the registry.
    """
    root = Path(folder)
    registry = read_registry(root)
    chosen = version or registry.get("current")
    if not chosen:
        raise ConfigurationError(f"no current {spec.kind} in {root.name} (resource {spec.label}): "
                                 f"{spec.hint}", file=str(root))
    chosen = str(chosen)
    if not any(str(v["version"]) == chosen for v in registry["versions"]) or not (root / chosen).is_dir():
        raise ConfigurationError(f"{spec.kind} version {chosen!r} is not in the registry "
                                 f"(versions: {_names(registry)})", file=str(root))
    return root / chosen, chosen


def fetch_versions(archive: Archive, project: str, spec: VersionedResource,
                   dest: str | os.PathLike[str]) -> Path:
    """Copy the project's resource ``spec.label`` into ``dest`` (an empty registry when there is none)."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    labels = {r.label for r in archive.resources(ObjectRef(project))}
    if spec.label in labels:
        archive.fetch_resource(ObjectRef(project), spec.label, dest)
    return dest


def next_version(registry: Mapping[str, Any]) -> str:
    """Return the next version number (``"1"`` for an empty registry)."""
    numbers = [int(v["version"]) for v in registry["versions"] if str(v["version"]).isdigit()]
    return str(max(numbers, default=0) + 1)


def _store(archive: Archive, project: str, spec: VersionedResource, upload: Path) -> None:
    archive.store_resource(ObjectRef(project), spec.label, upload, format=spec.format,
                           content=spec.content, merge=True)


def publish_version(archive: Archive, project: str, spec: VersionedResource,
                    source: str | os.PathLike[str], record: Mapping[str, Any],
                    make_current: bool) -> dict[str, Any]:
    """Add folder ``source`` as a new version with ``record``; make it current when asked.

    ``record["version"]`` names the version (default: :func:`next_version`). Returns
    the new registry. Raises :class:`ConfigurationError` when the version exists.
    """
    with tempfile.TemporaryDirectory(prefix="sarcoma-versions-") as tmp:
        registry = read_registry(fetch_versions(archive, project, spec, Path(tmp) / "old"))
        version = str(record.get("version") or next_version(registry))
        if any(str(v["version"]) == version for v in registry["versions"]):
            raise ConfigurationError(f"{spec.kind} version {version} exists already "
                                     f"(versions: {_names(registry)})", project=project)
        if make_current and record.get("decision") == "rejected":
            raise ConfigurationError(f"a rejected {spec.kind} cannot be made current", project=project)
        upload = Path(tmp) / "upload"
        shutil.copytree(source, upload / version)
        _store(archive, project, spec, upload)  # the version's files first ...
        registry["versions"].append({**dict(record), "version": version, "published": _now()})
        registry["history"].append({"action": "publish", "version": version, "at": _now(),
                                    "current": make_current})
        if make_current:
            registry["current"] = version
        only = Path(tmp) / "registry"
        only.mkdir()
        (only / REGISTRY_FILE).write_text(json.dumps(registry, indent=2) + "\n")
        _store(archive, project, spec, only)  # ... then the registry that names them
    return registry


def use_version(archive: Archive, project: str, spec: VersionedResource,
                version: str) -> dict[str, Any]:
    """Make ``version`` current (rollback or forward); every version is kept. Return the registry."""
    with tempfile.TemporaryDirectory(prefix="sarcoma-versions-") as tmp:
        folder = fetch_versions(archive, project, spec, Path(tmp) / "old")
        registry = read_registry(folder)
        entry = next((v for v in registry["versions"] if str(v["version"]) == str(version)), None)
        if entry is None:
            raise ObjectNotFoundError(f"no {spec.kind} version {version!r} in resource "
                                      f"{spec.label}; versions: {_names(registry)}", project=project)
        if entry.get("decision") == "rejected":
            raise ConfigurationError(f"version {version} was rejected by the validation gate "
                                     f"({entry.get('reason', '')}); it cannot be made current",
                                     project=project)
        registry["history"].append({"action": "use", "version": str(version), "at": _now(),
                                    "previous": registry.get("current")})
        registry["current"] = str(version)
        only = Path(tmp) / "registry"
        only.mkdir()
        (only / REGISTRY_FILE).write_text(json.dumps(registry, indent=2) + "\n")
        _store(archive, project, spec, only)
    return registry
