"""ROI collections through the OHIF viewer plugin's ``/xapi/roi`` API.

Only collections stored this way are indexed by the plugin and shown in OHIF; a
SEG or RTSTRUCT uploaded as a plain resource or scan is invisible to annotators.
The plugin stores an ``icr:roiCollectionData`` assessor whose ``out`` resource,
labelled with the collection type, holds ``<label>.dcm``.

A GET or DELETE of a collection that does not exist is answered 422, not 404
(``OhifRoiApi.getCollection`` "Bad ID or label: …", ``deleteCollection`` "ROI
collection … not valid for project …"; ICR OHIF-XNAT plugin, e.g.
``nekoaimo/neko-ohif-xnat:src/main/java/org/nrg/xnatx/roi/xapi/OhifRoiApi.java``);
both are read here as "not found".
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sarcoma_xnat.archive.refs import ObjectRef
from sarcoma_xnat.errors import ConfigurationError, ObjectNotFoundError, XnatError, XnatNotFoundError
from sarcoma_xnat.xnat.files import FilesApi
from sarcoma_xnat.xnat.objects import ObjectsApi
from sarcoma_xnat.xnat.session import XnatSession

__all__ = ["COLLECTION_TYPES", "ROI_XSI_TYPE", "RoiApi", "RoiCollection"]

ROI_XSI_TYPE = "icr:roiCollectionData"
#: collection types the plugin accepts on upload
COLLECTION_TYPES = ("SEG", "RTSTRUCT", "AIM", "MEAS")
_SUFFIX = {"SEG": ".dcm", "RTSTRUCT": ".dcm", "AIM": ".xml", "MEAS": ".json"}


@dataclass(frozen=True)
class RoiCollection:
    """One ROI collection: its assessor ID and label, type, and the session it annotates."""

    id: str
    label: str
    collection_type: str
    session: ObjectRef
    series_uids: tuple[str, ...] = ()

    @property
    def ref(self) -> ObjectRef:
        """Return the assessor reference of the collection."""
        return self.session.child(assessor=self.label)


class RoiApi:
    """ROI collections; reached as ``client.roi``."""

    def __init__(self, session: XnatSession, objects: ObjectsApi, files: FilesApi) -> None:
        self.session = session
        self.objects = objects
        self.files = files

    def upload(self, session_ref: ObjectRef, label: str, source: str | os.PathLike[str],
               collection_type: str = "SEG", overwrite: bool = False) -> str:
        """Store a SEG/RTSTRUCT file as ROI collection ``label``; return the collection ID.

        With ``overwrite=True`` an existing collection of the same label in the same
        session is replaced (same ID), never duplicated.
        """
        if collection_type not in COLLECTION_TYPES:
            raise ConfigurationError(f"collection type must be one of {COLLECTION_TYPES}, "
                                     f"got {collection_type!r}")
        session_ref = session_ref.session_ref
        session_id = self.objects.accession_id(session_ref)
        path = (f"/xapi/roi/projects/{session_ref.project}/sessions/{session_id}"
                f"/collections/{label}")
        params = {"type": collection_type, "overwrite": "true" if overwrite else "false"}
        with open(source, "rb") as fh:
            try:
                response = self.session.put(path, params=params, data=fh,
                                            headers={"Content-Type": "application/octet-stream"})
            except XnatError as exc:
                hint = {409: "the label is used in another session",
                        422: "the label exists (use overwrite) or the file does not match the session"}
                if exc.status in hint:
                    exc.message = f"{exc.message} ({hint[exc.status]})"
                    exc.args = (str(exc),)
                raise exc.with_context(assessor=label, **session_ref.context())
        return response.text.strip().strip('"')

    def list(self, session_ref: ObjectRef) -> list[RoiCollection]:
        """List the ROI collections of a session with their types and referenced series."""
        session_ref = session_ref.session_ref
        out = []
        for row in self.objects.assessors(session_ref, ROI_XSI_TYPE):
            item = self.objects.get(session_ref.child(assessor=str(row["label"])))
            out.append(RoiCollection(
                id=str(item.data.get("ID", row.get("ID"))), label=str(row["label"]),
                collection_type=str(item.data.get("collectionType", "")), session=session_ref,
                series_uids=tuple(str(u) for u in item.child_values("references/seriesUID",
                                                                      "seriesUID"))))
        return sorted(out, key=lambda c: c.label)

    def download(self, project: str, id_or_label: str, dest: str | os.PathLike[str],
                 collection_type: str | None = None) -> Path:
        """Download a collection's file into folder ``dest``; return its path."""
        path = f"/xapi/roi/projects/{project}/collections/{id_or_label}"
        suffix = _SUFFIX.get(collection_type or "SEG", ".dcm")
        target = Path(dest) / f"{id_or_label}{suffix}"
        url = path + (f"?type={collection_type}" if collection_type else "")
        try:
            return self.files.download_file(url, target)
        except XnatError as exc:
            if not _missing(exc, "bad id or label"):
                if exc.status == 422:  # OhifRoiApi.getCollection: not convertible, empty body
                    exc.message = f"{exc.message} (the collection has no {collection_type} form)"
                    exc.args = (str(exc),)
                raise
            raise ObjectNotFoundError(f"no ROI collection {id_or_label!r} in project {project}",
                                      project=project, assessor=id_or_label) from None

    def delete(self, project: str, id_or_label: str) -> None:
        """Delete a collection; a missing one is not an error."""
        try:
            self.session.delete(f"/xapi/roi/projects/{project}/collections/{id_or_label}")
        except XnatError as exc:
            if not _missing(exc, "not valid for project"):
                raise


def _missing(exc: XnatError, marker: str) -> bool:
    """Return whether an ROI API error means "no such collection" (422 with ``marker``, or 404)."""
    return isinstance(exc, XnatNotFoundError) or (exc.status == 422 and marker in str(exc).lower())
