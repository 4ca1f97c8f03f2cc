"""XNAT objects as the Container Service sees them during command resolution.

The Container Service serialises each archive object to JSON (``id``, ``label``,
``xsiType``, ``uri``, ``directory``, ``scans``, ``resources``, ``scan-type`` ...) and
runs matchers and ``derived-from-xnat-object-property`` against that JSON. This
module builds the same JSON from any :class:`~sarcoma_xnat.archive.Archive`, and
walks between objects (session to scans, assessor up to its session, ...).

The ``uri`` is XNAT's ID form, as the Container Service gives it (container-service
``model/xnat/{Project,Subject,Session,Scan,Assessor,Resource}.java``, built with
xnat-web ``UriParserUtils.getArchiveUri`` or from the parent's URI):
``/archive/projects/{ID}``, ``/archive/subjects/{ID}``, ``/archive/experiments/{ID}``,
``/archive/experiments/{ID}/scans/{scan}``, ``/archive/experiments/{ID}/assessors/{ID}``
and ``<parent uri>/resources/{label}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sarcoma_xnat.archive.base import Archive, locate
from sarcoma_xnat.archive.refs import ObjectRef
from sarcoma_xnat.errors import ObjectNotFoundError

__all__ = ["XnatObject", "children_of", "describe", "parent_of", "resolve_uri", "xnat_uri"]

_KIND_TYPE = {"project": "Project", "subject": "Subject", "session": "Session", "scan": "Scan",
              "assessor": "Assessor"}
_TYPE_KIND = {v: k for k, v in _KIND_TYPE.items()}


@dataclass(frozen=True)
class XnatObject:
    """An archive object (or one resource of it) with its Container Service JSON."""

    type: str
    ref: ObjectRef
    resource: str | None = None
    data: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def uri(self) -> str:
        """Return XNAT's URI for the object (resources end in ``/resources/<label>``)."""
        if self.data.get("uri"):
            return str(self.data["uri"])
        return self.ref.uri + (f"/resources/{self.resource}" if self.resource else "")


def _xnat_id(archive: Archive, ref: ObjectRef) -> str:
    obj = archive.get(ref)
    return obj.id or obj.label


def xnat_uri(archive: Archive, ref: ObjectRef) -> str:
    """Return the URI the Container Service gives the object at ``ref`` (XNAT's ID form)."""
    if ref.kind == "project":
        return f"/archive/projects/{_xnat_id(archive, ref)}"
    if ref.kind == "subject":
        return f"/archive/subjects/{_xnat_id(archive, ref)}"
    session = f"/archive/experiments/{_xnat_id(archive, ref.session_ref)}"
    if ref.kind == "scan":
        return f"{session}/scans/{ref.scan}"
    if ref.kind == "assessor":  # container-service model/xnat/Assessor.java
        return f"{session}/assessors/{_xnat_id(archive, ref)}"
    return session


def _directory(archive: Archive, ref: ObjectRef) -> str | None:
    path = getattr(archive, "path", None)
    return str(path(ref)) if callable(path) else None


def _resources_json(archive: Archive, ref: ObjectRef, parent_uri: str) -> list[dict[str, Any]]:
    out = []
    for res in archive.resources(ref):
        uri = f"{parent_uri}/resources/{res.label}"  # container-service model/xnat/Resource.java
        files = [{"name": f.rsplit("/", 1)[-1], "path": f, "uri": f"{uri}/files/{f}",
                  "tags": [], "format": None, "content": None} for f in res.files]
        directory = getattr(archive, "resource_path", None)
        out.append({"id": res.label, "label": res.label, "xsiType": "xnat:resourceCatalog",
                    "uri": uri, "parent-uri": parent_uri, "format": res.format,
                    "content": res.content, "files": files,
                    "directory": str(directory(ref, res.label)) if callable(directory) else None})
    return out


def describe(archive: Archive, ref: ObjectRef, resource: str | None = None) -> XnatObject:
    """Return the object at ``ref`` (or its resource ``resource``) with its JSON."""
    obj = archive.get(ref)
    uri = xnat_uri(archive, ref)
    if resource is not None:
        for res in _resources_json(archive, ref, uri):
            if res["label"] == resource:
                return XnatObject("Resource", ref, resource, res)
        raise ObjectNotFoundError(f"no resource {resource!r} on {ref.uri}", resource=resource,
                                  **ref.context())
    data: dict[str, Any] = {"id": obj.id, "label": obj.label, "xsiType": obj.xsi_type,
                            "uri": uri, "directory": _directory(archive, ref),
                            "resources": _resources_json(archive, ref, uri)}
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


def resolve_uri(archive: Archive, value: str, kind: str | None = None) -> XnatObject:
    """Return the object a launch value names, as the Container Service resolves it.

    ``value`` is an archive URI in XNAT's ID form (``/archive/experiments/{ID}``), with
    ``/archive`` left out (``/experiments/{ID}``), in label form, optionally ending in
    ``/resources/<label>``; or a bare XNAT ID of an object of wrapper-input type
    ``kind`` (container-service ``CommandResolutionServiceImpl.resolveXnatObject``).
    """
    ref, resource = locate(archive, value, _TYPE_KIND.get(kind or ""))
    return describe(archive, ref, resource)


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
