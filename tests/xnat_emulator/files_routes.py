"""Emulated resources and files: catalogs, file PUT/GET/DELETE, zip downloads."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path
from typing import Any

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


def _file_rows(emu: XnatEmulator, ref: ObjectRef, label: str) -> list[dict[str, Any]]:
    archive = emu.archive
    info = json.loads((_resource_dir(emu, ref, label) / "resource.json").read_text())
    base = rest_uri(archive, ref) + ("/out" if ref.kind == "assessor" else "")
    rows = []
    files = archive.resource_path(ref, label)
    for rel in sorted(p.relative_to(files).as_posix() for p in files.rglob("*") if p.is_file()):
        path = files / rel
        rows.append({"Name": path.name, "Size": str(path.stat().st_size),
                     "URI": f"{base}/resources/{label}/files/{rel}", "collection": label,
                     "file_tags": "", "file_format": info.get("format") or "",
                     "file_content": info.get("content") or "", "cat_ID": label,
                     "digest": md5_of(emu, path)})
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
    q = req.query
    files = emu.archive.resource_path(ref, label)
    target = files / rel
    if target.exists() and q.get("overwrite") != "true":
        return Response.error(409, f"File {rel} already exists")
    scratch = stage_dir(emu)
    try:
        body = scratch / "body"
        req.stream_to(body)
        ensure_resource(emu, ref, label, q.get("format"), q.get("content"))
        if q.get("extract") == "true" and zipfile.is_zipfile(body):
            with zipfile.ZipFile(body) as zf:
                zf.extractall(files / Path(rel).parent)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(body, target)  # a reader never sees half a file
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
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
