"""A project's segmentation models: every version kept as a project resource, one of them current.

The project resource :data:`RESOURCE_LABEL` holds ``registry.json`` and one MONAI
bundle folder per version (``1/``, ``2/`` …)::

    {"current": "2",
     "versions": [{"version": "1", "sha256": "...", "decision": "accepted", ...}, ...],
     "history": [{"action": "publish", "version": "1", "at": "..."}, ...]}

A version that the validation gate rejected is kept with its figures but never made
current; :func:`use_version` makes an earlier accepted version current again
(rollback). The Container Service mounts the resource into the ``segment`` container
(``/model``), where :func:`current_bundle_dir` picks the current bundle.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sarcoma_xnat.archive.base import Archive
from sarcoma_xnat.archive.refs import ObjectRef
from sarcoma_xnat.errors import ConfigurationError, ObjectNotFoundError

__all__ = ["REGISTRY_FILE", "RESOURCE_LABEL", "current_bundle_dir", "fetch_models", "next_version",
           "publish", "read_registry", "use_version"]

RESOURCE_LABEL = "SEGMENT_MODELS"
REGISTRY_FILE = "registry.json"


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def read_registry(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """Read ``registry.json`` of a models folder; an absent one is an empty registry."""
    path = Path(folder) / REGISTRY_FILE
    if not path.is_file():
        return {"current": None, "versions": [], "history": []}
    return json.loads(path.read_text())


def current_bundle_dir(folder: str | os.PathLike[str], version: str | None = None) -> Path:
    """Return the bundle folder of ``version`` (default: the current one) in a models folder.

    A folder that is itself a bundle (``configs/inference.json``) is returned as is.
    """
    root = Path(folder)
    if (root / "configs" / "inference.json").is_file() and version is None:
        return root
    registry = read_registry(root)
    chosen = version or registry.get("current")
    if not chosen:
        raise ConfigurationError(f"no current segmentation model in {root.name}: train one with "
                                 "'segment train --from-scratch' or give a bundle", file=str(root))
    if not any(v["version"] == chosen for v in registry["versions"]) or not (root / chosen).is_dir():
        raise ConfigurationError(f"segmentation model version {chosen!r} is not in the registry "
                                 f"(versions: {', '.join(v['version'] for v in registry['versions']) or 'none'})")
    return root / chosen


def fetch_models(archive: Archive, project: str, dest: str | os.PathLike[str]) -> Path:
    """Copy the project's models resource into ``dest`` (an empty registry when there is none)."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    labels = {r.label for r in archive.resources(ObjectRef(project))}
    if RESOURCE_LABEL in labels:
        archive.fetch_resource(ObjectRef(project), RESOURCE_LABEL, dest)
    return dest


def next_version(registry: Mapping[str, Any]) -> str:
    """Return the next version number (``"1"`` for an empty registry)."""
    numbers = [int(v["version"]) for v in registry["versions"] if str(v["version"]).isdigit()]
    return str(max(numbers, default=0) + 1)


def _store(archive: Archive, project: str, folder: Path, registry: dict[str, Any]) -> None:
    (folder / REGISTRY_FILE).write_text(json.dumps(registry, indent=2) + "\n")
    archive.store_resource(ObjectRef(project), RESOURCE_LABEL, folder, format="MONAI_BUNDLE",
                           content="SEGMENT_MODELS")


def publish(archive: Archive, project: str, bundle_dir: str | os.PathLike[str],
            record: Mapping[str, Any], make_current: bool) -> dict[str, Any]:
    """Add a bundle as a new version with its ``record``; make it current when accepted."""
    with tempfile.TemporaryDirectory(prefix="sarcoma-models-") as tmp:
        folder = fetch_models(archive, project, Path(tmp) / "models")
        registry = read_registry(folder)
        version = str(record["version"])
        if any(v["version"] == version for v in registry["versions"]):
            raise ConfigurationError(f"segmentation model version {version} exists already",
                                     project=project)
        shutil.copytree(bundle_dir, folder / version)
        registry["versions"].append({**dict(record), "published": _now()})
        registry["history"].append({"action": "publish", "version": version, "at": _now(),
                                    "current": make_current})
        if make_current:
            registry["current"] = version
        _store(archive, project, folder, registry)
    return registry


def use_version(archive: Archive, project: str, version: str) -> dict[str, Any]:
    """Make an earlier accepted version current again (rollback); return the registry."""
    with tempfile.TemporaryDirectory(prefix="sarcoma-models-") as tmp:
        folder = fetch_models(archive, project, Path(tmp) / "models")
        registry = read_registry(folder)
        entry = next((v for v in registry["versions"] if v["version"] == version), None)
        if entry is None:
            raise ObjectNotFoundError(f"no segmentation model version {version!r}; versions: "
                                      f"{', '.join(v['version'] for v in registry['versions']) or 'none'}",
                                      project=project)
        if entry.get("decision") == "rejected":
            raise ConfigurationError(f"version {version} was rejected by the validation gate "
                                     f"({entry.get('reason', '')}); it cannot be made current",
                                     project=project)
        registry["history"].append({"action": "use", "version": version, "at": _now(),
                                    "previous": registry.get("current")})
        registry["current"] = version
        _store(archive, project, folder, registry)
    return registry
