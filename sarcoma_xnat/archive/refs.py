"""Typed references to archive objects, written and parsed as XNAT archive URIs."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from sarcoma_xnat.errors import ConfigurationError

__all__ = ["ObjectRef", "validate_label"]

_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


def validate_label(label: str, kind: str) -> str:
    """Return ``label`` if XNAT would accept it as an ID/label, else raise.

    XNAT labels are letters, digits, ``_``, ``-`` and ``.``; no spaces or slashes.
    """
    if not isinstance(label, str) or not _LABEL.match(label):
        raise ConfigurationError(
            f"invalid {kind} label {label!r}: expected letters, digits, '_', '-' or '.' (max 64)"
        )
    return label


@dataclass(frozen=True, order=True)
class ObjectRef:
    """Address of one archive object: a project, subject, session, scan or assessor.

    A reference is only as deep as its last non-empty field. ``session`` is the
    experiment label; ``scan`` (a scan ID) and ``assessor`` (an assessor label)
    are mutually exclusive children of a session.

    Examples
    --------
    >>> ref = ObjectRef.parse("/archive/projects/P/subjects/S1/experiments/S1_MR/scans/3")
    >>> ref.kind, ref.scan
    ('scan', '3')
    >>> ref.parent.uri
    '/archive/projects/P/subjects/S1/experiments/S1_MR'
    """

    project: str
    subject: str | None = None
    session: str | None = None
    scan: str | None = None
    assessor: str | None = None

    def __post_init__(self) -> None:
        validate_label(self.project, "project")
        chain = [("subject", self.subject), ("session", self.session)]
        seen_gap = False
        for kind, value in chain:
            if value is None:
                seen_gap = True
            elif seen_gap:
                raise ConfigurationError(f"{kind} given without its parent in {self!r}")
            else:
                validate_label(value, kind)
        for kind, value in (("scan", self.scan), ("assessor", self.assessor)):
            if value is not None:
                if self.session is None:
                    raise ConfigurationError(f"{kind} given without a session in {self!r}")
                validate_label(value, kind)
        if self.scan is not None and self.assessor is not None:
            raise ConfigurationError("a reference cannot name both a scan and an assessor")

    @property
    def kind(self) -> str:
        """Return the object kind: project, subject, session, scan or assessor."""
        if self.scan is not None:
            return "scan"
        if self.assessor is not None:
            return "assessor"
        if self.session is not None:
            return "session"
        if self.subject is not None:
            return "subject"
        return "project"

    @property
    def parent(self) -> ObjectRef:
        """Return the reference one level up (a project is its own parent)."""
        kind = self.kind
        if kind in ("scan", "assessor"):
            return replace(self, scan=None, assessor=None)
        if kind == "session":
            return replace(self, session=None)
        if kind == "subject":
            return replace(self, subject=None)
        return self

    @property
    def session_ref(self) -> ObjectRef:
        """Return the session this object belongs to (error above session level)."""
        if self.session is None:
            raise ConfigurationError(f"{self.uri} is not inside a session")
        return ObjectRef(self.project, self.subject, self.session)

    def child(self, **kwargs: str) -> ObjectRef:
        """Return a reference to a child object, e.g. ``ref.child(scan='3')``."""
        return replace(self, **kwargs)

    @property
    def uri(self) -> str:
        """Return the XNAT archive URI, e.g. ``/archive/projects/P/subjects/S``."""
        parts = ["/archive/projects", self.project]
        if self.subject:
            parts += ["subjects", self.subject]
        if self.session:
            parts += ["experiments", self.session]
        if self.scan:
            parts += ["scans", self.scan]
        if self.assessor:
            parts += ["assessors", self.assessor]
        return "/".join(parts)

    def __str__(self) -> str:
        return self.uri

    @classmethod
    def parse(cls, uri: str) -> ObjectRef:
        """Parse a label-form archive URI (with or without ``/archive`` or ``/data`` prefix).

        ID-form URIs (``/archive/experiments/XNAT_E00001``) are refused with a message
        pointing to :func:`sarcoma_xnat.archive.locate`, which asks the archive.
        """
        text = uri.strip().strip("/")
        for prefix in ("data/archive/", "archive/", "data/"):
            if text.startswith(prefix):
                text = text[len(prefix):]
                break
        parts = text.split("/")
        if parts[0] in ("experiments", "subjects"):
            # XNAT's own form, /archive/experiments/{ID} (container-service
            # model/xnat/Session.java via xnat-web UriParserUtils.getArchiveUri), names
            # objects by site-wide ID, which only the archive can map to labels.
            raise ConfigurationError(
                f"{uri!r} names an object by its XNAT ID; resolve it through the archive "
                f"(sarcoma_xnat.archive.locate(archive, uri)) instead of ObjectRef.parse")
        if len(parts) % 2 or not parts or parts[0] != "projects":
            raise ConfigurationError(f"not an archive URI: {uri!r}")
        keys = {"projects": "project", "subjects": "subject", "experiments": "session",
                "scans": "scan", "assessors": "assessor"}
        fields: dict[str, str] = {}
        for collection, value in zip(parts[::2], parts[1::2]):
            if collection not in keys:
                raise ConfigurationError(f"unknown collection {collection!r} in URI {uri!r}")
            fields[keys[collection]] = value
        return cls(**fields)

    def context(self) -> dict[str, str]:
        """Return this reference as error context (labels only, never PHI)."""
        out = {"project": self.project, "subject": self.subject, "session": self.session,
               "scan": self.scan, "assessor": self.assessor}
        return {k: v for k, v in out.items() if v is not None}
