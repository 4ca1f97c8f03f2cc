"""XNAT objects as the Container Service sees them during command resolution.

The Container Service serialises each archive object to JSON (``id``, ``label``,
``xsiType``, ``uri``, ``directory``, ``scans``, ``resources``, ``scan-type`` ...) and
runs matchers and ``derived-from-xnat-object-property`` against that JSON. This
module builds the same JSON from any :class:`~sarcoma_xnat.archive.Archive`, and
walks between objects (session to scans, assessor up to its session, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sarcoma_xnat.archive.base import Archive
from sarcoma_xnat.archive.refs import ObjectRef
from sarcoma_xnat.errors import ConfigurationError, ObjectNotFoundError

__all__ = ["XnatObject", "children_of", "describe", "parent_of", "resolve_uri"]

_KIND_TYPE = {"project": "Project", "subject": "Subject", "session": "Session", "scan": "Scan",
              "assessor": "Assessor"}


@dataclass(frozen=True)
class XnatObject:
    """An archive object (or one resource of it) with its Container Service JSON."""

    type: str
    ref: ObjectRef
    resource: str | None = None
    data: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def uri(self) -> str:
        """Return the archive URI (resources end in ``/resources/<label>``)."""
        return self.ref.uri + (f"/resources/{self.resource}" if self.resource else "")


def _directory(archive: Archive, ref: ObjectRef) -> str | None:
    path = getattr(archive, "path", None)
    return str(path(ref)) if callable(path) else None


def _resources_json(archive: Archive, ref: ObjectRef) -> list[dict[str, Any]]:
    out = []
    for res in archive.resources(ref):
        uri = f"{ref.uri}/resources/{res.label}"
        files = [{"name": f.rsplit("/", 1)[-1], "path": f, "uri": f"{uri}/files/{f}",
                  "tags": [], "format": None, "content": None} for f in res.files]
        directory = getattr(archive, "resource_path", None)
        out.append({"id": res.label, "label": res.label, "xsiType": "xnat:resourceCatalog",
                    "uri": uri, "parent-uri": ref.uri, "format": res.format,
                    "content": res.content, "files": files,
                    "directory": str(directory(ref, res.label)) if callable(directory) else None})
    return out


def describe(archive: Archive, ref: ObjectRef, resource: str | None = None) -> XnatObject:
    """Return the object at ``ref`` (or its resource ``resource``) with its JSON."""
    obj = archive.get(ref)
    if resource is not None:
        for res in _resources_json(archive, ref):
            if res["label"] == resource:
                return XnatObject("Resource", ref, resource, res)
        raise ObjectNotFoundError(f"no resource {resource!r} on {ref.uri}", resource=resource,
                                  **ref.context())
    data: dict[str, Any] = {"id": obj.id, "label": obj.label, "xsiType": obj.xsi_type,
                            "uri": ref.uri, "directory": _directory(archive, ref),
                            "resources": _resources_json(archive, ref)}
    if ref.kind != "project":
        data["project-id"] = ref.project
    if ref.kind == "session":
        data["subject-id"] = archive.get(ref.parent).id
        data["scans"] = [describe(archive, s.ref).data for s in archive.children(ref, "scan")]
        data["assessors"] = [describe(archive, a.ref).data
                             for a in archive.children(ref, "assessor")]
    if ref.kind in ("scan", "assessor"):
        data["session-id"] = archive.get(ref.session_ref).id
    if ref.kind == "scan":
        attrs = obj.attrs
        data.update({"integer-id": int(obj.id) if obj.id.isdigit() else None,
                     "scan-type": attrs.get("type"),
                     "series-description": attrs.get("series_description"),
                     "modality": attrs.get("modality"), "frames": attrs.get("frames"),
                     "quality": attrs.get("quality"),
                     "scanner-manufacturer": attrs.get("scanner_manufacturer"),
                     "scanner-model": attrs.get("scanner_model")})
    return XnatObject(_KIND_TYPE[ref.kind], ref, None, data)


def resolve_uri(archive: Archive, value: str) -> XnatObject:
    """Return the object a launch value names: an archive URI, optionally ``/resources/<label>``."""
    text = value.strip()
    if not text.startswith("/"):
        raise ConfigurationError(f"expected an archive URI such as /archive/projects/P/..., got {value!r}")
    resource = None
    if "/resources/" in text:
        text, resource = text.split("/resources/", 1)
        resource = resource.strip("/").split("/files/")[0]
    return describe(archive, ObjectRef.parse(text), resource)


def children_of(archive: Archive, parent: XnatObject, child_type: str) -> list[XnatObject]:
    """Return the children of ``parent`` of a wrapper-input type (Scan, Assessor, Resource ...)."""
    ref = parent.ref
    if child_type == "Resource" and parent.type != "Resource":
        return [describe(archive, ref, r.label) for r in archive.resources(ref)]
    kinds = {("Session", "Scan"): "scan", ("Session", "Assessor"): "assessor",
             ("Project", "Subject"): "subject", ("Subject", "Session"): "session"}
    kind = kinds.get((parent.type, child_type))
    if kind is not None:
        return [describe(archive, o.ref) for o in archive.children(ref, kind)]
    if (parent.type, child_type) == ("Project", "Session"):
        return [describe(archive, e.ref) for s in archive.children(ref, "subject")
                for e in archive.children(s.ref, "session")]
    return []


def parent_of(archive: Archive, child: XnatObject, parent_type: str) -> XnatObject | None:
    """Return the ancestor of ``child`` of a wrapper-input type (derivation upwards), if any."""
    ref = child.ref
    if child.type == "Resource":
        if parent_type == _KIND_TYPE[ref.kind]:
            return describe(archive, ref)
    wanted = {"Project": ObjectRef(ref.project),
              "Subject": ObjectRef(ref.project, ref.subject) if ref.subject else None,
              "Session": ref.session_ref if ref.session else None}.get(parent_type)
    if wanted is None or (wanted == ref and child.type != "Resource"):
        return None
    return describe(archive, wanted)
