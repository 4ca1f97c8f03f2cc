"""Emulated ``/data`` archive: listings, object JSON, create/update/delete, resources and files."""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sarcoma_xnat.archive import ArchiveObject, LocalArchive, ObjectRef
from xnat_emulator.server import Request, Response, XnatEmulator

_FIELD = re.compile(r"^(?:[\w-]+:[\w-]+/)?fields/field\[name=([^\]]+)\]/field$")
_KINDS = {"subjects": "subject", "experiments": "session", "scans": "scan", "assessors": "assessor"}


@dataclass
class Target:
    """What a ``/data/...`` path addresses."""

    ref: ObjectRef | None = None
    collection: str | None = None
    resource: str | None = None
    file: str | None = None
    files: bool = False
    all_scans: bool = False


class NotFound(Exception):
    """The path names something that does not exist."""


def find_session(archive: LocalArchive, key: str, project: str | None = None) -> ObjectRef:
    """Find a session by ID or label (within ``project`` when given)."""
    for proj in archive.children(None, "project"):
        if project and proj.label != project:
            continue
        for subj in archive.children(proj.ref, "subject"):
            for sess in archive.children(subj.ref, "session"):
                if key in (sess.id, sess.label) and (project or key == sess.id):
                    return sess.ref
    raise NotFound(key)


def _lookup(archive: LocalArchive, parent: ObjectRef, kind: str, key: str) -> ObjectRef:
    ref = parent.child(**{kind: key})
    if archive.exists(ref):
        return ref
    if archive.exists(parent):
        for child in archive.children(parent, kind):
            if child.id == key:
                return child.ref
    return ref  # may not exist: creation targets


def resolve(archive: LocalArchive, path: str) -> Target:
    """Parse a ``/data`` path into the object, collection, resource and file it names."""
    tokens = [t for t in path.split("/") if t][1:]
    if tokens[:1] == ["archive"]:
        tokens = tokens[1:]
    t = Target()
    i = 0
    if len(tokens) >= 2 and tokens[0] == "experiments":
        t.ref, i = find_session(archive, tokens[1]), 2
    elif len(tokens) >= 2 and tokens[0] == "subjects":
        for proj in archive.children(None, "project"):
            for subj in archive.children(proj.ref, "subject"):
                if subj.id == tokens[1]:
                    t.ref = subj.ref
        if t.ref is None:
            raise NotFound(tokens[1])
        i = 2
    elif tokens[:1] == ["projects"]:
        if len(tokens) == 1:
            t.collection = "projects"
            return t
        t.ref, i = ObjectRef(tokens[1]), 2
    else:
        raise NotFound(path)
    while i < len(tokens):
        tok = tokens[i]
        if tok in ("out", "in"):
            i += 1
        elif tok in _KINDS:
            if i + 1 == len(tokens):
                t.collection = tok
                return t
            key = tokens[i + 1]
            if tok == "experiments" and t.ref.kind == "project":  # type: ignore[union-attr]
                try:
                    t.ref = find_session(archive, key, t.ref.project)  # type: ignore[union-attr]
                except NotFound:
                    raise NotFound(key) from None
            elif tok == "scans" and (key == "ALL" or "," in key):
                t.all_scans = True
            else:
                t.ref = _lookup(archive, t.ref, _KINDS[tok], key)  # type: ignore[arg-type]
            i += 2
        elif tok == "resources":
            if i + 1 == len(tokens):
                t.collection = "resources"
                return t
            t.resource, i = tokens[i + 1], i + 2
        elif tok == "files":
            t.files = True
            t.file = "/".join(tokens[i + 1:]) or None
            return t
        else:
            raise NotFound(path)
    return t


def resultset(rows: list[dict[str, Any]], title: str) -> Response:
    """Answer a ResultSet listing (counts as strings, as XNAT does)."""
    return Response.json({"ResultSet": {"Result": rows, "totalRecords": str(len(rows)),
                                        "title": title}})


def items_json(obj: ArchiveObject, archive: LocalArchive) -> dict[str, Any]:
    """Return the ``items`` document of one object."""
    data: dict[str, Any] = {"ID": obj.id}
    ref = obj.ref
    if ref.kind != "scan":
        data["label"] = obj.label
    if ref.kind != "project":
        data["project"] = ref.project
    if ref.kind == "session":
        data["subject_ID"] = archive.get(ref.parent).id
    if ref.kind in ("scan", "assessor"):
        key = "image_session_ID" if ref.kind == "scan" else "imageSession_ID"
        data[key] = archive.get(ref.session_ref).id
    children = []
    for key, value in obj.attrs.items():
        if isinstance(value, list):
            leaf = "seriesUID" if key == "references" else key
            children.append({"field": f"{key}/{leaf}", "items": [
                {"children": [], "meta": {"xsi:type": f"{obj.xsi_type}_{leaf}", "isHistory": False},
                 "data_fields": {leaf: v}} for v in value]})
        elif value is not None:
            data[key] = value
    if obj.fields:
        children.append({"field": "fields/field", "items": [
            {"children": [], "meta": {"xsi:type": f"{obj.xsi_type}_field", "isHistory": False},
             "data_fields": {"field": v, "name": k}} for k, v in sorted(obj.fields.items())]})
    return {"items": [{"children": children, "data_fields": data,
                       "meta": {"xsi:type": obj.xsi_type, "isHistory": False,
                                "start_date": "Thu Jan 01 00:00:00 UTC 2026"}}]}


def rest_uri(archive: LocalArchive, ref: ObjectRef) -> str:
    """Return the ``/data`` URI XNAT lists for an object (ID-based below sessions)."""
    if ref.session is None:
        return "/data" + ref.uri[len("/archive"):]
    base = f"/data/experiments/{archive.get(ref.session_ref).id}"
    if ref.scan:
        return f"{base}/scans/{ref.scan}"
    if ref.assessor:
        return f"{base}/assessors/{archive.get(ref).id}"
    return base


def _row(archive: LocalArchive, obj: ArchiveObject) -> dict[str, Any]:
    ref, a = obj.ref, obj.attrs
    uri = rest_uri(archive, ref)
    if ref.kind == "project":
        return {"ID": obj.id, "secondary_ID": obj.id, "name": a.get("name", obj.id),
                "description": a.get("description", ""), "pi_firstname": "", "pi_lastname": "",
                "URI": uri}
    if ref.kind == "subject":
        return {"ID": obj.id, "project": ref.project, "label": obj.label, "insert_date": "",
                "insert_user": "admin", "URI": uri}
    if ref.kind == "session":
        return {"ID": obj.id, "project": ref.project, "label": obj.label, "xsiType": obj.xsi_type,
                "date": str(a.get("date", "")), "insert_date": "", "subject_label": ref.subject,
                "URI": uri}
    if ref.kind == "scan":
        return {"ID": obj.id, "xsiType": obj.xsi_type, "type": str(a.get("type", "")),
                "series_description": str(a.get("series_description", "")),
                # quality is a default column of the scan listing (NrgXnat/xnat-web:
                # src/main/java/org/nrg/xnat/restlet/resources/ScanList.java getDefaultFields);
                # its labels default to usable/questionable/unusable (xnat-web
                # src/main/webapp/scripts/imageScanData/scan_tools.js setScanQualityOptions)
                "quality": str(a.get("quality", "usable")), "note": "",
                "xnat_imagescandata_id": obj.id, "URI": uri}
    session = archive.get(ref.session_ref)
    return {"ID": obj.id, "label": obj.label, "xsiType": obj.xsi_type,
            "date": str(a.get("date", "")), "insert_date": "", "project": ref.project,
            "session_ID": session.id, "session_label": session.label,
            "xnat:imageassessordata/id": obj.id, "URI": uri}


def md5_of(emu: XnatEmulator, path: Path) -> str:
    """Return a file's MD5, cached by size and mtime (XNAT keeps digests in its catalog)."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    cache = emu.digests  # type: ignore[attr-defined]
    if key not in cache:
        digest = hashlib.md5(usedforsecurity=False)
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        cache[key] = digest.hexdigest()
    return cache[key]


def register(emu: XnatEmulator) -> None:
    """Add the archive routes."""
    emu.digests = {}  # type: ignore[attr-defined]
    emu.catalog = {}  # type: ignore[attr-defined]  # file path -> catalog entry UID (files_routes)
    archive = emu.archive

    def handle(req: Request, m: Any) -> Response:
        try:
            return _dispatch(emu, req, resolve(archive, req.path))
        except NotFound as exc:
            return Response.error(404, f"Unable to find {exc}")

    for method in ("GET", "PUT", "DELETE", "POST"):
        emu.route(method, r"/data/(?:archive/)?(?:projects|experiments|subjects)(?:/.*)?", handle)


def _dispatch(emu: XnatEmulator, req: Request, t: Target) -> Response:
    from xnat_emulator import files_routes

    archive = emu.archive
    if t.collection == "projects":
        rows = [_row(archive, p) for p in archive.children(None, "project")]
        return resultset(rows, "Projects")
    ref = t.ref
    assert ref is not None
    if t.files or t.resource is not None or t.collection == "resources" or t.all_scans:
        return files_routes.handle(emu, req, t)
    if t.collection is not None:
        if not archive.exists(ref):
            raise NotFound(ref.uri)
        kind = _KINDS[t.collection]
        if kind == "session" and ref.kind == "project":
            objs = [s for subj in archive.children(ref, "subject")
                    for s in archive.children(subj.ref, "session")]
        else:
            objs = archive.children(ref, kind)
        return resultset([_row(archive, o) for o in objs], t.collection)
    if req.method == "GET":
        if not archive.exists(ref):
            raise NotFound(ref.uri)
        return Response.json(items_json(archive.get(ref), archive))
    if req.method == "DELETE":
        if not archive.exists(ref):
            raise NotFound(ref.uri)
        archive.delete(ref)
        return Response.text("")
    if req.method == "PUT":
        return _put_object(emu, req, ref)
    return Response.error(405, "Method not allowed")


def _put_object(emu: XnatEmulator, req: Request, ref: ObjectRef) -> Response:
    archive = emu.archive
    q = dict(req.query)
    xsi_type = q.pop("xsiType", None)
    attrs: dict[str, Any] = {}
    fields: dict[str, str] = {}
    if q.get("inbody") == "true" and req.length:
        root = ET.fromstring(req.body())
        xsi_type = xsi_type or root.tag
        for child in root:
            tag = child.tag.split("}")[-1]
            if len(child) == 0 and child.text is not None:
                attrs[tag] = child.text.strip()
    for key, value in q.items():
        if key in ("inbody", "req_format", "format", "event_reason", "allowDataDeletion"):
            continue
        fm = _FIELD.match(key)
        if fm:
            fields[fm.group(1)] = value
        elif "/" in key:
            attrs[key.split("/", 1)[1]] = value
        elif key in ("label", "date", "modality", "UID", "type", "series_description", "name",
                     "quality"):
            # short names XNAT maps to XML paths, e.g. a scan's ``quality`` ->
            # ``xnat:imageScanData/quality`` (NrgXnat/xnat-web:
            # src/main/java/org/nrg/xnat/helpers/xmlpath/XMLPathShortcuts.java)
            attrs[key] = value
    attrs.pop("label", None)
    existed = archive.exists(ref)
    if existed and xsi_type and archive.get(ref).xsi_type != xsi_type:
        return Response.error(400, f"{ref.uri} exists as {archive.get(ref).xsi_type}")
    if ref.kind != "project" and not archive.exists(ref.parent):
        return Response.error(404, f"Unable to find {ref.parent.uri}")
    if not existed and ref.kind != "project" and not xsi_type and ref.kind != "subject":
        return Response.error(400, "Need PUT Contents")
    if existed and ref.kind == "assessor" and q.get("allowDataDeletion") == "true" \
            and q.get("inbody") == "true":
        # the XML replaces the stored document: fields it leaves out are removed
        _drop_attrs(archive, ref)
    # otherwise a PUT on an existing experiment or assessor merges into it: fields the
    # XML leaves out are kept (xnat-web
    # NrgXnat/xnat-web:src/main/java/org/nrg/xnat/restlet/resources/SubjAssessmentResource.java
    # and ExptAssessmentResource.java: ``create(expt, false, allowDataDeletion, ...)``,
    # allowDataDeletion only when the query says ``allowDataDeletion=true``)
    obj = archive.create(ref, xsi_type, attrs=attrs, fields=fields)
    return Response.text(obj.id, 200 if existed else 201)


def _drop_attrs(archive: LocalArchive, ref: ObjectRef) -> None:
    """Clear an object's stored attributes (an ``allowDataDeletion=true`` save)."""
    import json

    meta = archive._meta_path(ref)  # noqa: SLF001 - the emulator owns this archive
    data = json.loads(meta.read_text())
    data["attrs"] = {}
    meta.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def stage_dir(emu: XnatEmulator) -> Path:
    """Return a scratch folder inside the emulator root (same file system as the archive)."""
    path = emu.root / "tmp"
    path.mkdir(exist_ok=True)
    return Path(tempfile.mkdtemp(dir=path))


def zip_folder(emu: XnatEmulator, entries: list[tuple[Path, str]]) -> Path:
    """Write ``(file, name)`` pairs into a zip in the scratch area; return its path."""
    target = stage_dir(emu) / "download.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for path, name in entries:
            zf.write(path, name)
    return target
