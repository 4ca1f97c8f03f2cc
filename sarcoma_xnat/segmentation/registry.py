"""A project's segmentation models: every version kept as a project resource, one of them current.

The project resource :data:`RESOURCE_LABEL` holds ``registry.json`` and one MONAI
bundle folder per version (``1/``, ``2/`` …)::

    {"current": "2",
     "versions": [{"version": "1", "sha256": "...", "decision": "accepted", ...}, ...],
     "history": [{"action": "publish", "version": "1", "at": "..."}, ...]}

A version that the validation gate rejected is kept with its figures but never made
current; :func:`use_version` makes an earlier accepted version current again
(rollback). The Container Service mounts the resource into the ``segment`` container
(``/model``), where :func:`current_bundle_dir` picks the current bundle. The
registry itself is :mod:`sarcoma_xnat.archive.versions`, shared with the prognosis
models (:mod:`sarcoma_xnat.fl.registry`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sarcoma_xnat.archive import versions as _versions
from sarcoma_xnat.archive.base import Archive
from sarcoma_xnat.archive.versions import REGISTRY_FILE, next_version, read_registry

__all__ = ["REGISTRY_FILE", "RESOURCE_LABEL", "SPEC", "current_bundle_dir", "fetch_models",
           "next_version", "publish", "read_registry", "use_version"]

RESOURCE_LABEL = "SEGMENT_MODELS"
#: the project resource of segmentation models (see :mod:`sarcoma_xnat.archive.versions`)
SPEC = _versions.VersionedResource(
    label=RESOURCE_LABEL, kind="segmentation model", format="MONAI_BUNDLE", content="SEGMENT_MODELS",
    hint="train one with 'segment train --from-scratch' or give a bundle")


def current_bundle_dir(folder: str | os.PathLike[str], version: str | None = None) -> Path:
    """Return the bundle folder of ``version`` (default: the current one) in a models folder.

    A folder that is itself a bundle (``configs/inference.json``) is returned as is.
    """
    root = Path(folder)
    if (root / "configs" / "inference.json").is_file() and version is None:
        return root
    return _versions.version_dir(root, SPEC, version)[0]


def fetch_models(archive: Archive, project: str, dest: str | os.PathLike[str]) -> Path:
    """Copy the project's models resource into ``dest`` (an empty registry when there is none)."""
    return _versions.fetch_versions(archive, project, SPEC, dest)


def publish(archive: Archive, project: str, bundle_dir: str | os.PathLike[str],
            record: Mapping[str, Any], make_current: bool) -> dict[str, Any]:
    """Add a bundle as a new version with its ``record``; make it current when accepted."""
    return _versions.publish_version(archive, project, SPEC, bundle_dir, record, make_current)


def use_version(archive: Archive, project: str, version: str) -> dict[str, Any]:
    """Make an earlier accepted version current again (rollback); return the registry."""
    return _versions.use_version(archive, project, SPEC, version)
