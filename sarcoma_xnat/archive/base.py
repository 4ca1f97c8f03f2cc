"""The :class:`Archive` protocol that every step and tool reads and writes through."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from sarcoma_xnat.archive.refs import ObjectRef

__all__ = ["Archive", "ArchiveObject", "DEFAULT_XSI_TYPES", "ResourceInfo"]

#: xsiType used when an object is created without one.
DEFAULT_XSI_TYPES = {
    "project": "xnat:projectData",
    "subject": "xnat:subjectData",
    "session": "xnat:mrSessionData",
    "scan": "xnat:mrScanData",
    "assessor": "xnat:qcAssessmentData",
}


@dataclass(frozen=True)
class ArchiveObject:
    """Metadata of one archive object.

    Attributes
    ----------
    ref : ObjectRef
        Where the object is.
    xsi_type : str
        XNAT data type, e.g. ``xnat:mrSessionData`` or ``icr:roiCollectionData``.
    id : str
        Site-wide ID (XNAT's ``ID``; for scans the scan ID, for projects the project ID).
    label : str
        Label within its parent.
    attrs : dict
        Native attributes: scan ``type`` and ``series_description``, session ``UID``,
        ROI collection ``collectionType`` and ``references``, and so on.
    fields : dict
        Custom fields (``xnat:subjectData/fields/field``); values are strings, as in XNAT.
    """

    ref: ObjectRef
    xsi_type: str
    id: str
    label: str
    attrs: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ResourceInfo:
    """A file resource (catalog) of an object: its label, format, content and files."""

    label: str
    format: str | None
    content: str | None
    files: tuple[str, ...]


@runtime_checkable
class Archive(Protocol):
    """What a step needs from an archive: objects, metadata, and file resources.

    Implemented by :class:`~sarcoma_xnat.archive.local.LocalArchive` (a folder)
    and by the XNAT-backed archive. All writes are idempotent: creating an object
    that exists updates it, storing a resource that exists replaces it.
    """

    def exists(self, ref: ObjectRef) -> bool:
        """Return whether the object exists."""
        ...

    def get(self, ref: ObjectRef) -> ArchiveObject:
        """Return the object's metadata or raise ``ObjectNotFoundError``."""
        ...

    def children(self, ref: ObjectRef | None, kind: str) -> list[ArchiveObject]:
        """List child objects of ``kind`` (project/subject/session/scan/assessor), sorted by label."""
        ...

    def create(
        self,
        ref: ObjectRef,
        xsi_type: str | None = None,
        attrs: dict[str, Any] | None = None,
        fields: dict[str, Any] | None = None,
    ) -> ArchiveObject:
        """Create the object, or update attrs/fields of an existing one; parents must exist."""
        ...

    def set_fields(self, ref: ObjectRef, fields: dict[str, Any]) -> None:
        """Set custom fields on an object (values are stored as strings)."""
        ...

    def resources(self, ref: ObjectRef) -> list[ResourceInfo]:
        """List the file resources of an object, sorted by label."""
        ...

    def fetch_resource(self, ref: ObjectRef, label: str, dest: Path) -> list[Path]:
        """Copy the files of resource ``label`` into folder ``dest``; return their paths."""
        ...

    def store_resource(
        self,
        ref: ObjectRef,
        label: str,
        source: Path,
        format: str | None = None,
        content: str | None = None,
    ) -> ResourceInfo:
        """Store folder ``source`` as resource ``label``, atomically replacing any old one."""
        ...

    def delete_resource(self, ref: ObjectRef, label: str) -> None:
        """Delete resource ``label`` of an object; missing resources are not an error."""
        ...

    def delete(self, ref: ObjectRef) -> None:
        """Delete an object with all its children and resources."""
        ...
