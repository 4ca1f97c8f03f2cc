"""Typed references for the SDK and parsers for XNAT's two JSON shapes (ResultSet and items).

Projects, subjects, sessions, scans and assessors are addressed with
:class:`~sarcoma_xnat.archive.refs.ObjectRef` (labels below the project, as XNAT
accepts); a file resource of any of them with :class:`ResourceRef`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sarcoma_xnat.archive.refs import ObjectRef, validate_label
from sarcoma_xnat.errors import XnatError

__all__ = [
    "ObjectRef",
    "ResourceRef",
    "XnatItem",
    "data_path",
    "parse_items",
    "resultset_rows",
]


def data_path(ref: ObjectRef) -> str:
    """Return the REST path of an object, e.g. ``/data/projects/P/subjects/S``."""
    return "/data" + ref.uri[len("/archive"):]


@dataclass(frozen=True)
class ResourceRef:
    """A file resource (catalog) ``label`` of a project, subject, session, scan or assessor."""

    owner: ObjectRef
    label: str

    def __post_init__(self) -> None:
        validate_label(self.label, "resource")

    @property
    def path(self) -> str:
        """Return the REST path of the resource (assessor resources live under ``out/``)."""
        middle = "/out/resources/" if self.owner.kind == "assessor" else "/resources/"
        return data_path(self.owner) + middle + self.label

    @property
    def files_path(self) -> str:
        """Return the REST path of the resource's file listing."""
        return self.path + "/files"

    def context(self) -> dict[str, str]:
        """Return error context naming the owner and the resource."""
        return {**self.owner.context(), "resource": self.label}

    def __str__(self) -> str:
        return f"{self.owner.uri}/resources/{self.label}"


def resultset_rows(payload: Any, url: str | None = None) -> list[dict[str, Any]]:
    """Return the rows of a ``{"ResultSet": {"Result": [...]}}`` listing."""
    try:
        rows = payload["ResultSet"]["Result"]
    except (KeyError, TypeError):
        raise XnatError("expected a ResultSet listing from XNAT", method="GET", url=url,
                        status=200) from None
    if not isinstance(rows, list):
        raise XnatError("ResultSet.Result is not a list", method="GET", url=url, status=200)
    return rows


@dataclass(frozen=True)
class XnatItem:
    """One object from XNAT's ``items`` JSON: its xsiType, data fields and children."""

    xsi_type: str
    data: dict[str, Any]
    children: dict[str, list[XnatItem]] = field(default_factory=dict)

    @property
    def custom_fields(self) -> dict[str, str]:
        """Return the custom fields (``fields/field``) as a name -> value mapping."""
        out = {}
        for child in self.children.get("fields/field", []):
            name = child.data.get("name")
            if name is not None:
                out[str(name)] = "" if child.data.get("field") is None else str(child.data["field"])
        return out

    def child_values(self, path: str, key: str) -> list[Any]:
        """Return ``key`` of every child item under ``path`` (e.g. ``references/seriesUID``)."""
        return [c.data.get(key) for c in self.children.get(path, []) if key in c.data]


def _item(raw: dict[str, Any]) -> XnatItem:
    meta = raw.get("meta", {})
    children: dict[str, list[XnatItem]] = {}
    for group in raw.get("children", []):
        children.setdefault(group.get("field", ""), []).extend(
            _item(c) for c in group.get("items", []))
    return XnatItem(xsi_type=str(meta.get("xsi:type", "")), data=dict(raw.get("data_fields", {})),
                    children=children)


def parse_items(payload: Any, url: str | None = None) -> XnatItem:
    """Return the current (non-history) object of an ``{"items": [...]}`` answer."""
    try:
        items = payload["items"]
    except (KeyError, TypeError):
        raise XnatError("expected an items document from XNAT", method="GET", url=url,
                        status=200) from None
    for raw in items:
        if not raw.get("meta", {}).get("isHistory", False):
            return _item(raw)
    raise XnatError("XNAT returned no current item", method="GET", url=url, status=200)
