"""The :class:`Archive` protocol that every step and tool reads and writes through."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from sarcoma_xnat.archive.refs import ObjectRef
from sarcoma_xnat.errors import ConfigurationError, ObjectNotFoundError

__all__ = ["Archive", "ArchiveObject", "DEFAULT_XSI_TYPES", "ID_KINDS", "ResourceInfo", "locate"]

#: object kinds that have a site-wide XNAT ID (scans are numbered within their session)
ID_KINDS = ("project", "subject", "session", "assessor")

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
        merge: bool = False,
    ) -> ResourceInfo:
        """Store folder ``source`` as resource ``label``, atomically replacing any old one.

        With ``merge`` the files are added to an existing resource instead: same-named
        files are overwritten, the others kept — what XNAT's Container Service does
        with a container's output (xnat-web ``DefaultCatalogService.insertResources``).
        """
        ...

    def delete_resource(self, ref: ObjectRef, label: str) -> None:
        """Delete resource ``label`` of an object; missing resources are not an error."""
        ...

    def delete(self, ref: ObjectRef) -> None:
        """Delete an object with all its children and resources."""
        ...

    def find_id(self, kind: str, xnat_id: str) -> ObjectRef:
        """Return the object of ``kind`` (one of :data:`ID_KINDS`) whose XNAT ID is ``xnat_id``.

        Raises ``ObjectNotFoundError`` when there is none.
        """
        ...


def _child(archive: Archive, parent: ObjectRef, kind: str, key: str) -> ObjectRef:
    """Return ``parent``'s child of ``kind`` whose label (or XNAT ID) is ``key``."""
    if kind == "session" and parent.kind == "project":  # /projects/P/experiments/E
        for subject in archive.children(parent, "subject"):
            for session in archive.children(subject.ref, "session"):
                if key in (session.label, session.id):
                    return session.ref
        raise ObjectNotFoundError(f"no experiment {key!r} in project {parent.project}",
                                  project=parent.project)
    try:
        ref = parent.child(**{kind: key})
    except ConfigurationError:
        ref = None
    if ref is not None and archive.exists(ref):
        return ref
    for child in archive.children(parent, kind):
        if child.id == key:
            return child.ref
    raise ObjectNotFoundError(f"no {kind} {key!r} in {parent.uri}", **parent.context())


def _find_any(archive: Archive, xnat_id: str, kinds: tuple[str, ...]) -> ObjectRef:
    for kind in kinds:
        try:
            return archive.find_id(kind, xnat_id)
        except ObjectNotFoundError:
            continue
    raise ObjectNotFoundError(f"no {' or '.join(kinds)} with XNAT ID {xnat_id!r}")


_STEPS = {"subjects": "subject", "experiments": "session", "scans": "scan",
          "assessors": "assessor"}


def locate(archive: Archive, value: str, kind: str | None = None) -> tuple[ObjectRef, str | None]:
    """Return the object (and resource label, if any) that an XNAT launch value names.

    Accepts what the Container Service accepts (container-service
    ``CommandResolutionServiceImpl.resolveXnatObject``): a URI, with ``/archive``
    prefixed when missing, so ``/archive/experiments/{ID}``, ``/experiments/{ID}``,
    label-form ``/archive/projects/P/subjects/S/experiments/E/scans/3`` and mixed
    forms (``/archive/projects/P/experiments/{ID}``); or a bare XNAT ID, looked up as
    an object of ``kind`` (or as a session, assessor, subject or project). IDs and
    labels are accepted in every position, as xnat-web's ``UriParserUtils`` templates do.
    A trailing ``/resources/<label>[/files/...]`` names a resource of the object.
    """
    text = value.strip()
    if not text:
        raise ConfigurationError("empty archive URI or ID")
    if not text.startswith("/"):
        if kind is not None and kind not in ID_KINDS:
            raise ConfigurationError(f"a {kind} has no site-wide XNAT ID; give its URI, "
                                     f"not {value!r}")
        return _find_any(archive, text, (kind,) if kind else
                         ("session", "assessor", "subject", "project")), None
    resource = None
    if "/resources/" in text:
        text, resource = text.split("/resources/", 1)
        resource = resource.strip("/").split("/files/")[0].split("/")[0]
    tokens = [t for t in text.split("/") if t]
    for prefix in ("data", "REST", "archive"):
        if tokens[:1] == [prefix]:
            tokens = tokens[1:]
    tokens = [t for t in tokens if t not in ("in", "out")]  # assessor in/out resources
    if len(tokens) < 2 or len(tokens) % 2:
        raise ConfigurationError(f"not an archive URI: {value!r}")
    head, key = tokens[0], tokens[1]
    if head == "projects":
        ref = ObjectRef(key)
        if not archive.exists(ref):
            ref = archive.find_id("project", key)
    elif head == "subjects":
        ref = archive.find_id("subject", key)
    elif head == "experiments":
        ref = _find_any(archive, key, ("session", "assessor"))
    else:
        raise ConfigurationError(f"not an archive URI: {value!r}")
    for collection, key in zip(tokens[2::2], tokens[3::2]):
        if collection not in _STEPS:
            raise ConfigurationError(f"unknown collection {collection!r} in URI {value!r}")
        ref = _child(archive, ref, _STEPS[collection], key)
    return ref, resource
