"""Archives: where steps read inputs and store outputs (a local folder, or XNAT)."""

from sarcoma_xnat.archive.base import DEFAULT_XSI_TYPES, Archive, ArchiveObject, ResourceInfo
from sarcoma_xnat.archive.local import LocalArchive
from sarcoma_xnat.archive.refs import ObjectRef, validate_label

__all__ = [
    "Archive",
    "ArchiveObject",
    "DEFAULT_XSI_TYPES",
    "LocalArchive",
    "ObjectRef",
    "ResourceInfo",
    "validate_label",
]
