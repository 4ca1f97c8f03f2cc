"""Projects, subjects, sessions, scans and assessors: list, get, create, custom fields, delete."""

from __future__ import annotations

from typing import Any

from sarcoma_xnat.archive.refs import ObjectRef
from sarcoma_xnat.errors import ConfigurationError, ObjectNotFoundError, XnatNotFoundError
from sarcoma_xnat.xnat.refs import XnatItem, data_path, parse_items, resultset_rows
from sarcoma_xnat.xnat.session import XnatSession

__all__ = ["COLLECTIONS", "ObjectsApi", "field_param"]

#: REST collection name of each object kind
COLLECTIONS = {"project": "projects", "subject": "subjects", "session": "experiments",
               "scan": "scans", "assessor": "assessors"}

_DEFAULT_TYPES = {"project": "xnat:projectData", "subject": "xnat:subjectData",
                  "session": "xnat:mrSessionData", "scan": "xnat:mrScanData"}


def field_param(xsi_type: str, name: str) -> str:
    """Return the query key that sets custom field ``name`` of an object of ``xsi_type``."""
    return f"{xsi_type}/fields/field[name={name}]/field"


class ObjectsApi:
    """Archive objects over REST; reached as ``client.objects``."""

    def __init__(self, session: XnatSession) -> None:
        self.session = session

    # -- listing -----------------------------------------------------------------
    def list(self, parent: ObjectRef | None, kind: str) -> list[dict[str, Any]]:
        """Return the ResultSet rows of the ``kind`` children of ``parent`` (None: projects)."""
        if kind not in COLLECTIONS:
            raise ConfigurationError(f"unknown object kind {kind!r}")
        if parent is None:
            if kind != "project":
                raise ConfigurationError(f"listing {kind}s needs a parent")
            path = "/data/projects"
        elif kind == "session" and parent.kind == "project":
            path = data_path(parent) + "/experiments"
        else:
            path = data_path(parent) + "/" + COLLECTIONS[kind]
        try:
            payload = self.session.get_json(path)
        except XnatNotFoundError as exc:
            if parent is not None:
                raise ObjectNotFoundError(f"no {parent.kind} at {parent.uri} ({exc.url} -> 404)",
                                          **parent.context()) from None
            raise
        return resultset_rows(payload, self.session.url(path))

    def projects(self) -> list[dict[str, Any]]:
        """List the projects the user can see."""
        return self.list(None, "project")

    def subjects(self, project: str) -> list[dict[str, Any]]:
        """List the subjects of a project."""
        return self.list(ObjectRef(project), "subject")

    def sessions(self, project: str, subject: str | None = None) -> list[dict[str, Any]]:
        """List the sessions (experiments) of a project or of one subject."""
        return self.list(ObjectRef(project, subject), "session")

    def scans(self, session: ObjectRef) -> list[dict[str, Any]]:
        """List the scans of a session."""
        return self.list(session.session_ref, "scan")

    def assessors(self, session: ObjectRef, xsi_type: str | None = None) -> list[dict[str, Any]]:
        """List the assessors of a session, optionally only those of one xsiType."""
        rows = self.list(session.session_ref, "assessor")
        return [r for r in rows if xsi_type is None or r.get("xsiType") == xsi_type]

    # -- one object --------------------------------------------------------------
    def get(self, ref: ObjectRef) -> XnatItem:
        """Return an object's items JSON, or raise ``ObjectNotFoundError`` naming it."""
        path = data_path(ref)
        try:
            return parse_items(self.session.get_json(path), self.session.url(path))
        except XnatNotFoundError as exc:
            raise ObjectNotFoundError(f"no {ref.kind} at {ref.uri} on XNAT ({exc.url} -> 404)",
                                      **ref.context()) from None

    def exists(self, ref: ObjectRef) -> bool:
        """Return whether the object exists."""
        try:
            self.get(ref)
        except ObjectNotFoundError:
            return False
        return True

    def accession_id(self, ref: ObjectRef) -> str:
        """Return XNAT's site-wide ID (e.g. ``XNAT_E00012``) of an object given by labels."""
        return str(self.get(ref).data["ID"])

    def create(
        self,
        ref: ObjectRef,
        xsi_type: str | None = None,
        attrs: dict[str, Any] | None = None,
        fields: dict[str, Any] | None = None,
    ) -> XnatItem:
        """Create an object, or update attributes and custom fields of an existing one.

        Attributes and fields travel as XNAT query-string shortcuts
        (``xnat:mrScanData/type=T1``, ``.../fields/field[name=x]/field=v``); only
        scalar values can be sent this way.
        """
        if xsi_type is None:
            xsi_type = self.get(ref).xsi_type if self.exists(ref) else _DEFAULT_TYPES.get(ref.kind)
        if xsi_type is None:
            raise ConfigurationError(f"creating {ref.uri} needs an xsiType", **ref.context())
        params: dict[str, str] = {"xsiType": xsi_type}
        for key, value in (attrs or {}).items():
            if isinstance(value, (list, dict, tuple, set)):
                raise ConfigurationError(
                    f"attribute {key!r} of {ref.uri} is not a scalar; XNAT's query-string "
                    "shortcuts take scalars only (send assessor XML instead)", **ref.context())
            if value is not None:
                params[f"{xsi_type}/{key}"] = str(value)
        for name, value in (fields or {}).items():
            params[field_param(xsi_type, name)] = "" if value is None else str(value)
        self.session.put(data_path(ref), params=params)
        return self.get(ref)

    def create_subject(self, project: str, label: str, fields: dict[str, Any] | None = None) -> XnatItem:
        """Create (or update) a subject with custom fields."""
        return self.create(ObjectRef(project, label), "xnat:subjectData", fields=fields)

    def create_session(
        self,
        project: str,
        subject: str,
        label: str,
        xsi_type: str = "xnat:mrSessionData",
        attrs: dict[str, Any] | None = None,
    ) -> XnatItem:
        """Create (or update) an imaging session of a subject."""
        return self.create(ObjectRef(project, subject, label), xsi_type, attrs=attrs)

    def fields(self, ref: ObjectRef) -> dict[str, str]:
        """Return an object's custom fields (the clinical variables of a subject)."""
        return self.get(ref).custom_fields

    def set_fields(self, ref: ObjectRef, fields: dict[str, Any]) -> None:
        """Set custom fields of an existing object (values are sent as strings)."""
        item = self.get(ref)
        params = {field_param(item.xsi_type, k): "" if v is None else str(v)
                  for k, v in fields.items()}
        if params:
            self.session.put(data_path(ref), params=params)

    def delete(self, ref: ObjectRef) -> None:
        """Delete an object with its children and files."""
        try:
            self.session.delete(data_path(ref), params={"removeFiles": "true"})
        except XnatNotFoundError as exc:
            raise ObjectNotFoundError(f"no {ref.kind} at {ref.uri} on XNAT ({exc.url} -> 404)",
                                      **ref.context()) from None
