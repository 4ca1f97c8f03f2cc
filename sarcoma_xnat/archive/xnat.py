"""``XnatArchive``: the :class:`~sarcoma_xnat.archive.base.Archive` protocol over the XNAT SDK.

Every step and ``ingest`` read and write through ``Archive``; handing them an
``XnatArchive`` instead of a ``LocalArchive`` makes them work against XNAT
unchanged. Differences worth knowing:

* ``store_resource`` is idempotent but not atomic: files are overwritten in place
  and stale files pruned (XNAT cannot rename a resource into place).
* ROI collections (``icr:roiCollectionData``) are created through the OHIF
  plugin's ROI API when their SEG/RTSTRUCT resource is stored, so that OHIF shows
  them; the plugin reads type, UID and referenced series from the DICOM itself.
* A resource that is missing can be waited for (``missing_wait``): the OHIF
  plugin saves a collection's assessor before its file, so a step triggered by
  the first save may look before the file is there.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sarcoma_xnat.archive.base import DEFAULT_XSI_TYPES, ArchiveObject, ResourceInfo
from sarcoma_xnat.archive.refs import ObjectRef
from sarcoma_xnat.errors import ArchiveError, ObjectNotFoundError, XnatNotFoundError
from sarcoma_xnat.xnat.client import XnatClient
from sarcoma_xnat.xnat.files import relative_path
from sarcoma_xnat.xnat.refs import ResourceRef, XnatItem, parse_items
from sarcoma_xnat.xnat.roi import ROI_XSI_TYPE

__all__ = ["XnatArchive"]

#: data fields that are identity or bookkeeping, not attributes
_CORE_FIELDS = {"ID", "label", "project", "subject_ID", "imageSession_ID", "image_session_ID",
                "session_ID", "insert_date", "insert_user", "xsiType"}
_ROI_RESOURCES = ("SEG", "RTSTRUCT")


def _to_object(ref: ObjectRef, item: XnatItem) -> ArchiveObject:
    attrs = {k: v for k, v in item.data.items() if k not in _CORE_FIELDS}
    series = item.child_values("references/seriesUID", "seriesUID")
    if series:
        attrs["references"] = [str(s) for s in series]
    label = str(item.data.get("label") or item.data.get("ID") or getattr(ref, ref.kind))
    if ref.kind == "scan":
        label = str(item.data.get("ID", ref.scan))
    return ArchiveObject(ref=ref, xsi_type=item.xsi_type, id=str(item.data.get("ID", label)),
                         label=label, attrs=attrs, fields=item.custom_fields)


class XnatArchive:
    """An archive that lives in XNAT.

    Parameters
    ----------
    client : XnatClient
        A logged-in SDK client (see :func:`sarcoma_xnat.xnat.connect`).
    missing_wait : float
        Seconds to keep retrying ``fetch_resource`` for a resource that is not
        there yet (0: fail at once).
    """

    def __init__(self, client: XnatClient, missing_wait: float = 0.0) -> None:
        self.client = client
        self.missing_wait = missing_wait
        self._pending_roi: dict[ObjectRef, dict[str, Any]] = {}

    def __repr__(self) -> str:
        return f"XnatArchive({self.client.url!r})"

    # -- objects -----------------------------------------------------------------
    def exists(self, ref: ObjectRef) -> bool:
        """Return whether the object exists on XNAT."""
        return self.client.objects.exists(ref)

    def get(self, ref: ObjectRef) -> ArchiveObject:
        """Return the object's metadata or raise ``ObjectNotFoundError``."""
        if ref in self._pending_roi and not self.exists(ref):
            pending = self._pending_roi[ref]
            return ArchiveObject(ref, ROI_XSI_TYPE, "", str(ref.assessor), dict(pending), {})
        return _to_object(ref, self.client.objects.get(ref))

    def children(self, ref: ObjectRef | None, kind: str) -> list[ArchiveObject]:
        """List child objects of ``kind``, sorted by label (scans in numeric order)."""
        rows = self.client.objects.list(ref, kind)
        out = []
        for row in rows:
            if kind == "project":
                child = ObjectRef(str(row["ID"]))
            else:
                key = "ID" if kind == "scan" else "label"
                child = ref.child(**{kind: str(row[key])})  # type: ignore[union-attr]
            out.append(self.get(child))
        key_fn = (lambda o: (0, int(o.label), o.label) if o.label.isdigit() else (1, 0, o.label))
        return sorted(out, key=key_fn)

    def create(self, ref: ObjectRef, xsi_type: str | None = None,
               attrs: dict[str, Any] | None = None,
               fields: dict[str, Any] | None = None) -> ArchiveObject:
        """Create the object, or update attrs/fields of an existing one; parents must exist."""
        if ref.kind != "project" and not self.exists(ref.parent):
            raise ObjectNotFoundError(
                f"cannot create {ref.kind} {ref.uri}: parent {ref.parent.kind} does not exist",
                **ref.context())
        if xsi_type == ROI_XSI_TYPE and not self.exists(ref):
            # the ROI API creates the assessor when its file is stored
            self._pending_roi[ref] = dict(attrs or {})
            return self.get(ref)
        if ref.kind == "assessor" and xsi_type is None and not self.exists(ref):
            xsi_type = DEFAULT_XSI_TYPES["assessor"]
        scalars = {k: v for k, v in (attrs or {}).items()
                   if not (xsi_type == ROI_XSI_TYPE and k == "references")}
        item = self.client.objects.create(ref, xsi_type, attrs=scalars, fields=fields)
        return _to_object(ref, item)

    def _by_id(self, collection: str, xnat_id: str) -> dict[str, Any]:
        path = f"/data/{collection}/{xnat_id}"
        try:
            return parse_items(self.client.session.get_json(path), path).data
        except XnatNotFoundError:
            raise ObjectNotFoundError(f"no {collection[:-1]} with XNAT ID {xnat_id!r} on XNAT "
                                      f"({path} -> 404)") from None

    def find_id(self, kind: str, xnat_id: str) -> ObjectRef:
        """Return the object of ``kind`` whose XNAT ID is ``xnat_id``.

        ``GET /data/experiments/{ID}`` (sessions and assessors) and
        ``GET /data/subjects/{ID}`` answer the object's ``project``, ``label`` and
        parent ID (``subject_ID``, ``imageSession_ID``): xnat-web
        ``org.nrg.xnat.restlet.resources.ExperimentResource`` / ``SubjectResource``.
        """
        if kind == "project":
            ref = ObjectRef(xnat_id)
            if not self.exists(ref):
                raise ObjectNotFoundError(f"no project {xnat_id!r} on XNAT", project=xnat_id)
            return ref
        if kind == "subject":
            data = self._by_id("subjects", xnat_id)
            return ObjectRef(str(data["project"]), str(data["label"]))
        if kind not in ("session", "assessor"):
            raise ArchiveError(f"a {kind} has no site-wide ID to look up")
        data = self._by_id("experiments", xnat_id)
        parent = data.get("imageSession_ID") or data.get("image_session_ID")
        if kind == "session" and not parent and data.get("subject_ID"):
            subject = self.find_id("subject", str(data["subject_ID"]))
            return ObjectRef(str(data["project"]), subject.subject, str(data["label"]))
        if kind == "assessor" and parent:
            return self.find_id("session", str(parent)).child(assessor=str(data["label"]))
        raise ObjectNotFoundError(f"XNAT ID {xnat_id!r} is not a {kind}")

    def set_fields(self, ref: ObjectRef, fields: dict[str, Any]) -> None:
        """Set custom fields on an object (values are stored as strings)."""
        self.client.objects.set_fields(ref, fields)

    def delete(self, ref: ObjectRef) -> None:
        """Delete an object with all its children and resources."""
        self._pending_roi.pop(ref, None)
        self.client.objects.delete(ref)

    # -- resources ---------------------------------------------------------------
    def resources(self, ref: ObjectRef) -> list[ResourceInfo]:
        """List the file resources of an object, sorted by label."""
        if ref in self._pending_roi and not self.exists(ref):
            return []
        out = []
        for row in self.client.files.resources(ref):
            label = str(row.get("label"))
            files = tuple(sorted(relative_path(f)
                                 for f in self.client.files.files(ResourceRef(ref, label))))
            out.append(ResourceInfo(label, row.get("format") or None, row.get("content") or None,
                                    files))
        return sorted(out, key=lambda r: r.label)

    def fetch_resource(self, ref: ObjectRef, label: str, dest: Path) -> list[Path]:
        """Download the files of resource ``label`` into folder ``dest``; return their paths."""
        deadline = time.monotonic() + self.missing_wait
        pause = 0.25
        while True:
            try:
                return self.client.files.download_resource(ResourceRef(ref, label), dest)
            except ObjectNotFoundError:
                if time.monotonic() >= deadline:
                    raise ObjectNotFoundError(f"no resource {label!r} on {ref.uri}",
                                              resource=label, **ref.context()) from None
                time.sleep(pause)
                pause = min(pause * 2, 5.0)

    def store_resource(self, ref: ObjectRef, label: str, source: Path,
                       format: str | None = None, content: str | None = None,
                       merge: bool = False) -> ResourceInfo:
        """Store folder ``source`` as resource ``label``, replacing any old one (never a copy).

        With ``merge`` the files are uploaded into the resource (created if missing)
        and no other file is deleted, as the Container Service's finalize does.
        """
        source = Path(source)
        roi = ref.kind == "assessor" and label in _ROI_RESOURCES and (
            ref in self._pending_roi or self.get(ref).xsi_type == ROI_XSI_TYPE)
        if roi:
            files = sorted(p for p in source.rglob("*") if p.is_file()) if source.is_dir() else []
            if len(files) != 1:
                raise ArchiveError(f"an ROI collection resource holds exactly one file; "
                                   f"{source} has {len(files)}", resource=label, **ref.context())
            self.client.roi.upload(ref.session_ref, str(ref.assessor), files[0], label,
                                   overwrite=True)
            self._pending_roi.pop(ref, None)
        elif ref.kind == "scan" and label == "DICOM" and (format or "").upper() == "DICOM":
            # through the import service: only XNAT's DICOM importer writes the catalog
            # UIDs the ROI plugin checks (see sarcoma_xnat.xnat.imports)
            if not self.exists(ref):
                raise ObjectNotFoundError(f"cannot store resource {label!r}: no scan at "
                                          f"{ref.uri}", resource=label, **ref.context())
            self.client.imports.import_scan(ref, source)
        else:
            if not self.exists(ref):
                raise ObjectNotFoundError(f"cannot store resource {label!r}: no {ref.kind} at "
                                          f"{ref.uri}", resource=label, **ref.context())
            if merge:
                self._merge_folder(ResourceRef(ref, label), source, format, content)
            else:
                self.client.files.upload_folder(ResourceRef(ref, label), source, format, content)
        for info in self.resources(ref):
            if info.label == label:
                return info
        raise ArchiveError(f"resource {label!r} did not appear on {ref.uri} after upload",
                           resource=label, **ref.context())

    def _merge_folder(self, resource: ResourceRef, source: Path, format: str | None,
                      content: str | None) -> None:
        """Upload every file of ``source`` into ``resource`` (overwriting), deleting nothing."""
        if not source.is_dir():
            raise ArchiveError(f"upload source {source} is not a folder", **resource.context())
        if not self.client.files.exists(resource):
            self.client.files.create_resource(resource, format, content)
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            self.client.files.upload_file(resource, path, path.relative_to(source).as_posix())

    def delete_resource(self, ref: ObjectRef, label: str) -> None:
        """Delete resource ``label`` of an object; missing resources are not an error."""
        self.client.files.delete_resource(ResourceRef(ref, label))
