"""Input mounts as XNAT makes them: the archive folders, with XNAT's catalog in each resource.

The Container Service mounts an object's archive directory itself
(``NrgXnat/container-service:src/main/java/org/nrg/containers/services/impl/CommandResolutionServiceImpl.java``,
``resolveCommandMount``), so a step sees XNAT's bookkeeping beside the data: every
resource folder holds its catalog, ``<label>_catalog.xml`` (``<id>/<id>_catalog.xml``
with the catalog ID set to the resource label, ``CatalogUtils.writeCatalogToFile`` as
called from ``NrgXnat/xnat-web:src/main/java/org/nrg/xnat/services/archive/impl/legacy/DefaultCatalogService.java``),
or ``scan_<id>_catalog.xml`` for a scan's DICOM written by XNAT's DICOM importer. A
catalog is a ``cat:Catalog`` (``cat:DCMCatalog`` for DICOM) in namespace
``http://nrg.wustl.edu/catalog`` with one ``cat:entry`` per file under ``cat:entries``:
``URI`` (the path relative to the catalog), ``ID``, ``format``/``content``, and for a
DICOM instance ``xsi:type="cat:dcmEntry"`` with ``UID`` (its SOP Instance UID).

The local runner stages copies of the files, then :func:`write_catalogs` adds these
catalogs, so that what runs locally sees what it would see on XNAT.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from sarcoma_xnat.archive.base import Archive, ResourceInfo
from sarcoma_xnat.archive.refs import ObjectRef

__all__ = ["CATALOG_NS", "catalog_name", "write_catalog", "write_catalogs"]

#: XNAT's catalog namespace
CATALOG_NS = "http://nrg.wustl.edu/catalog"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"


def catalog_name(ref: ObjectRef, label: str) -> str:
    """Return the catalog file name XNAT gives resource ``label`` of ``ref``."""
    if ref.kind == "scan" and label == "DICOM":
        return f"scan_{ref.scan}_catalog.xml"  # XNAT's DICOM importer
    return f"{label}_catalog.xml"


def _sop_uid(path: Path) -> str | None:
    try:
        from pydicom import dcmread

        ds = dcmread(path, stop_before_pixels=True, specific_tags=["SOPInstanceUID"])
    except Exception:  # noqa: BLE001 - not DICOM (or not readable): a plain entry
        return None
    return str(ds.get("SOPInstanceUID", "")) or None


def write_catalog(folder: Path, name: str, label: str, info: ResourceInfo) -> Path:
    """Write the catalog of resource ``info`` (files already in ``folder``); return its path."""
    ET.register_namespace("cat", CATALOG_NS)
    ET.register_namespace("xsi", _XSI)
    uids = {rel: _sop_uid(folder / rel) for rel in info.files}
    dicom = bool(info.files) and all(uids.values())
    root = ET.Element(f"{{{CATALOG_NS}}}{'DCMCatalog' if dicom else 'Catalog'}",
                      {"ID": label})
    entries = ET.SubElement(root, f"{{{CATALOG_NS}}}entries")
    for rel in info.files:
        attrs = {"URI": rel, "ID": rel}
        if info.format:
            attrs["format"] = info.format
        if info.content:
            attrs["content"] = info.content
        uid = uids[rel]
        if uid:
            attrs.update({f"{{{_XSI}}}type": "cat:dcmEntry", "UID": uid, "ID": uid})
        ET.SubElement(entries, f"{{{CATALOG_NS}}}entry", attrs)
    path = folder / name
    folder.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="UTF-8", xml_declaration=True)
    return path


def _resource_folders(archive: Archive, kind: str, ref: ObjectRef, dest: Path,
                      resource: str | None) -> list[tuple[ObjectRef, ResourceInfo, Path]]:
    """Return (object, resource, staged folder) for each resource staged under ``dest``."""
    if kind == "Resource":
        return [(ref, r, dest) for r in archive.resources(ref) if r.label == resource]
    if kind in ("Scan", "Assessor"):
        return [(ref, r, dest / r.label) for r in archive.resources(ref)]
    if kind != "Session":
        return []
    out = [(ref, r, dest / "RESOURCES" / r.label) for r in archive.resources(ref)]
    for scan in archive.children(ref, "scan"):
        out += [(scan.ref, r, dest / "SCANS" / scan.label / r.label)
                for r in archive.resources(scan.ref)]
    for assessor in archive.children(ref, "assessor"):
        out += [(assessor.ref, r, dest / "ASSESSORS" / assessor.label / r.label)
                for r in archive.resources(assessor.ref)]
    return out


def write_catalogs(archive: Archive, kind: str, ref: ObjectRef, dest: Path,
                   resource: str | None = None) -> list[Path]:
    """Write XNAT's catalog into every staged resource folder of a mount; return their paths.

    ``kind`` is the mounted object's wrapper-input type (Session, Scan, Assessor,
    Resource); folders that were not staged are skipped.
    """
    written = []
    for obj, info, folder in _resource_folders(archive, kind, ref, dest, resource):
        if folder.is_dir():
            written.append(write_catalog(folder, catalog_name(obj, info.label), info.label, info))
    return written
