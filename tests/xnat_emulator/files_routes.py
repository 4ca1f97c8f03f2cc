"""Emulated resources and files: catalogs, file PUT/GET/DELETE, zip downloads.

Catalog entries: XNAT keeps one ``cat:entry`` per file in the resource's catalog.
Its DICOM importer writes each instance's SOP Instance UID into the entry
(``cat:dcmEntry@UID``); a plain REST file upload (xnat-web
``NrgXnat/xnat-web:src/main/java/org/nrg/xnat/restlet/resources/files/FileList.java``)
writes an entry without a UID. The OHIF ROI plugin reads those UIDs
(``PluginUtils.getSopInstanceUids``) to check a collection's dependencies. The
emulator keeps the entries in ``emu.catalog`` (file path -> UID or None); a file a
test placed in ``emu.archive`` directly stands for data XNAT's importer wrote, so
its UID is its header's.
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pydicom

from sarcoma_xnat.archive import ObjectRef
from xnat_emulator.archive_routes import (
    NotFound, Target, md5_of, resultset, rest_uri, stage_dir, zip_folder)
from xnat_emulator.server import Request, Response, XnatEmulator


def _resource_dir(emu: XnatEmulator, ref: ObjectRef, label: str) -> Path:
    return emu.archive.resource_path(ref, label).parent


def ensure_resource(emu: XnatEmulator, ref: ObjectRef, label: str, fmt: str | None,
                    content: str | None) -> bool:
    """Create an empty resource unless it exists; return whether it was created."""
    folder = _resource_dir(emu, ref, label)
    if (folder / "resource.json").is_file():
        return False
    empty = stage_dir(emu)
    try:
        emu.archive.store_resource(ref, label, empty, format=fmt, content=content)
    finally:
        shutil.rmtree(empty, ignore_errors=True)
    return True


def record_entry(emu: XnatEmulator, path: Path, uid: str | None) -> None:
    """Record the catalog entry of one stored file (``uid`` None: a REST upload)."""
    with emu.lock:
        emu.catalog[str(path)] = uid  # type: ignore[attr-defined]


def _entry_uid(emu: XnatEmulator, path: Path) -> str | None:
    catalog = emu.catalog  # type: ignore[attr-defined]
    if str(path) in catalog:
        return catalog[str(path)]
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SOPInstanceUID"])
    except Exception:  # noqa: BLE001 - not DICOM: no UID in its entry
        return None
    return str(ds.get("SOPInstanceUID", "")) or None


def scan_sop_uids(emu: XnatEmulator, scan: ObjectRef) -> set[str]:
    """Return the SOP Instance UIDs in a scan's catalog entries (``PluginUtils.getSopInstanceUids``)."""
    out: set[str] = set()
    archive = emu.archive
    for info in archive.resources(scan):
        files = archive.resource_path(scan, info.label)
        for rel in info.files:
            uid = _entry_uid(emu, files / rel)
            if uid:
                out.add(uid)
    return out


def _file_rows(emu: XnatEmulator, ref: ObjectRef, label: str) -> list[dict[str, Any]]:
    archive = emu.archive
    # XNAT answers a file listing from the resource's catalog as it stands at that moment
    # (FileList.java): one consistent listing, even while the resource is being replaced
    info = archive.resource(ref, label)
    base = rest_uri(archive, ref) + ("/out" if ref.kind == "assessor" else "")
    rows = []
    files = archive.resource_path(ref, label)
    for rel in info.files:
        path = files / rel
        try:  # a file the resource's replacement removed since: not in this answer
            size, digest = path.stat().st_size, md5_of(emu, path)
        except FileNotFoundError:
            continue
        rows.append({"Name": path.name, "Size": str(size),
                     "URI": f"{base}/resources/{label}/files/{rel}", "collection": label,
                     "file_tags": "", "file_format": info.format or "",
                     "file_content": info.content or "", "cat_ID": label, "digest": digest})
    return rows


def handle(emu: XnatEmulator, req: Request, t: Target) -> Response:
    """Answer resource and file requests for ``t``."""
    archive = emu.archive
    ref = t.ref
    assert ref is not None
    if not archive.exists(ref):
        raise NotFound(ref.uri)
    if t.all_scans:
        return _session_zip(emu, req, ref)
    if t.collection == "resources":
        rows = []
        for info in archive.resources(ref):
            size = sum((archive.resource_path(ref, info.label) / f).stat().st_size for f in info.files)
            rows.append({"xnat_abstractresource_id": info.label, "label": info.label,
                         "element_name": "xnat:resourceCatalog", "format": info.format or "",
                         "content": info.content or "", "tags": "", "category": ref.kind,
                         "cat_desc": "", "file_count": str(len(info.files)),
                         "file_size": str(size)})
        return resultset(rows, "Resources")
    label = str(t.resource)
    folder = _resource_dir(emu, ref, label)
    exists = (folder / "resource.json").is_file()
    q = req.query
    if not t.files:
        if req.method == "PUT":
            if exists:
                return Response.error(409, f"Resource {label} already exists")
            ensure_resource(emu, ref, label, q.get("format"), q.get("content"))
            return Response.text("", 200)
        if req.method == "DELETE":
            if not exists:
                raise NotFound(label)
            archive.delete_resource(ref, label)
            return Response.text("")
        raise NotFound(label)
    if req.method == "PUT" and t.file:
        return _put_file(emu, req, ref, label, t.file)
    if not exists:
        raise NotFound(f"resource {label}")
    files = archive.resource_path(ref, label)
    if t.file is None:
        if req.method != "GET":
            return Response.error(405, "Method not allowed")
        if q.get("format") == "zip":
            rows = _file_rows(emu, ref, label)
            prefix = f"{ref.session or ref.subject or ref.project}/resources/{label}/files"
            entries = [(files / r["URI"].split("/files/", 1)[1],
                        f"{prefix}/{r['URI'].split('/files/', 1)[1]}") for r in rows]
            target = zip_folder(emu, entries)
            return Response(file=target, cleanup=target.parent)
        return resultset(_file_rows(emu, ref, label), "Files")
    path = files / t.file
    if not path.is_file():
        raise NotFound(f"file {t.file}")
    if req.method == "GET":
        return Response(file=path)
    if req.method == "DELETE":
        path.unlink()
        return Response.text("")
    return Response.error(405, "Method not allowed")


def _put_file(emu: XnatEmulator, req: Request, ref: ObjectRef, label: str, rel: str) -> Response:
    """Store an uploaded file as xnat-web's ``FileList.handlePost`` does.

    Without ``overwrite=true`` a file that exists is kept, and the answer is still
    200, with ``{"duplicates": [...]}`` (``ResourceModifierA.addFile`` returns the
    duplicates, ``FileList`` answers ``SUCCESS_OK``). The new catalog entry has no UID.
    """
    q = req.query
    files = emu.archive.resource_path(ref, label)
    target = files / rel
    overwrite = q.get("overwrite") == "true"
    scratch = stage_dir(emu)
    duplicates: list[str] = []
    try:
        body = scratch / "body"
        req.stream_to(body)
        ensure_resource(emu, ref, label, q.get("format"), q.get("content"))
        files = emu.archive.resource_path(ref, label)
        target = files / rel
        if q.get("extract") == "true" and zipfile.is_zipfile(body):
            with zipfile.ZipFile(body) as zf:
                for name in zf.namelist():
                    dest = files / Path(rel).parent / name
                    if name.endswith("/"):
                        continue
                    if dest.exists() and not overwrite:
                        duplicates.append(name)
                        continue
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(name) as src, open(dest, "wb") as out:
                        shutil.copyfileobj(src, out)
                    record_entry(emu, dest, None)
        elif target.exists() and not overwrite:
            duplicates.append(rel)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(body, target)  # a reader never sees half a file
            record_entry(emu, target, None)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if duplicates:
        return Response(200, json.dumps({"duplicates": duplicates}).encode(), "text/html")
    return Response.text("", 200)


def _session_zip(emu: XnatEmulator, req: Request, session: ObjectRef) -> Response:
    """``.../scans/ALL/files?format=zip`` (or ``format=json``: the file rows of every scan)."""
    archive = emu.archive
    rows, entries = [], []
    for scan in archive.children(session.session_ref, "scan"):
        for info in archive.resources(scan.ref):
            for row in _file_rows(emu, scan.ref, info.label):
                rows.append(row)
                rel = row["URI"].split("/files/", 1)[1]
                entries.append((archive.resource_path(scan.ref, info.label) / rel,
                                f"{session.session}/scans/{scan.label}-{scan.attrs.get('type', '')}"
                                f"/resources/{info.label}/files/{rel}"))
    if req.query.get("format") != "zip":
        return resultset(rows, "Files")
    target = zip_folder(emu, entries)
    return Response(file=target, cleanup=target.parent)


def _referenced(ds: pydicom.Dataset) -> tuple[set[str], set[str]]:
    """Return the series and SOP Instance UIDs a SEG or RTSTRUCT refers to."""
    series: set[str] = set()
    sops: set[str] = set()
    for item in ds.get("ReferencedSeriesSequence", []) or []:  # SEG
        series.add(str(item.get("SeriesInstanceUID", "")))
        for inst in item.get("ReferencedInstanceSequence", []) or []:
            sops.add(str(inst.get("ReferencedSOPInstanceUID", "")))
    for frame in ds.get("ReferencedFrameOfReferenceSequence", []) or []:  # RTSTRUCT
        for study in frame.get("RTReferencedStudySequence", []) or []:
            for se in study.get("RTReferencedSeriesSequence", []) or []:
                series.add(str(se.get("SeriesInstanceUID", "")))
                for img in se.get("ContourImageSequence", []) or []:
                    sops.add(str(img.get("ReferencedSOPInstanceUID", "")))
    for roi in ds.get("ROIContourSequence", []) or []:
        for contour in roi.get("ContourSequence", []) or []:
            for img in contour.get("ContourImageSequence", []) or []:
                sops.add(str(img.get("ReferencedSOPInstanceUID", "")))
    return series - {""}, sops - {""}


def missing_dependencies(emu: XnatEmulator, session: ObjectRef, path: Path) -> str | None:
    """Return what an ROI collection file lacks in the session, or None when all is there.

    The ICR ROI plugin's ``DefaultCollectionStorage.checkDependencies``
    (``nekoaimo/neko-ohif-xnat:src/main/java/org/nrg/xnatx/roi/process/DefaultCollectionStorage.java``,
    a copy of the ICR OHIF-XNAT plugin) runs before anything is saved: every
    referenced series UID must map to a scan (``PluginUtils.getImageScanUidIdMap``)
    and every referenced SOP Instance UID must be in those scans' catalog entries
    (``PluginUtils.getSopInstanceUids``); else 422 "Missing dependencies: series
    UID" / "...: SOP instance UID".
    """
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    except Exception:  # noqa: BLE001 - AIM/MEAS are not DICOM
        return None
    series, sops = _referenced(ds)
    scans = {str(s.attrs.get("UID")): s.ref for s in emu.archive.children(session, "scan")}
    known: set[str] = set()
    for uid in series:
        if uid not in scans:
            return "series UID"
        known |= scan_sop_uids(emu, scans[uid])
    if not sops <= known:
        return "SOP instance UID"
    return None
