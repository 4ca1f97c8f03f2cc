"""Emulated XNAT services: login, JSESSION, tokens, version, DICOM import and the prearchive."""

from __future__ import annotations

import datetime as dt
import shutil
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pydicom

from sarcoma_xnat.archive import ObjectRef
from xnat_emulator.server import Request, Response, XnatEmulator

VERSION = "1.8.10"


def register(emu: XnatEmulator) -> None:
    """Add the service routes."""
    emu.prearchive = {}  # type: ignore[attr-defined]

    def root(req: Request, m: Any) -> Response:
        return Response(200, b"<html><body>XNAT emulator</body></html>", "text/html")

    def jsession_post(req: Request, m: Any) -> Response:
        if req.user is None:
            return Response.error(401, "Login attempt failed. Please try again.")
        jsession = emu.new_session(req.user)
        return Response(200, jsession.encode(), headers={
            "Set-Cookie": f"JSESSIONID={jsession}; Path=/; HttpOnly",
        })

    def jsession_get(req: Request, m: Any) -> Response:
        cookie = req.headers.get("Cookie") or ""
        current = cookie.split("JSESSIONID=", 1)[-1].split(";")[0] if "JSESSIONID=" in cookie else ""
        return Response.text(current or emu.new_session(req.user or ""))

    def jsession_delete(req: Request, m: Any) -> Response:
        cookie = req.headers.get("Cookie") or ""
        if "JSESSIONID=" in cookie:
            emu.sessions.pop(cookie.split("JSESSIONID=", 1)[1].split(";")[0], None)
        return Response.text("")

    def auth_put(req: Request, m: Any) -> Response:
        form = {k: v[-1] for k, v in parse_qs(req.body().decode()).items()}
        user, password = form.get("username"), form.get("password")
        if user is None or emu.users.get(user) != password:
            return Response.error(401, "Login attempt failed. Please try again.")
        return Response.text(emu.new_session(user))

    def auth_get(req: Request, m: Any) -> Response:
        return Response.text(f"User '{req.user}' is logged in")

    def version(req: Request, m: Any) -> Response:
        return Response.text(VERSION)

    def build_info(req: Request, m: Any) -> Response:
        return Response.json({"version": VERSION, "buildNumber": "emulator"})

    def token_issue(req: Request, m: Any) -> Response:
        user = m.group(1) or req.user
        alias, secret = emu.issue_token(str(user))
        expires = int((time.time() + 48 * 3600) * 1000)
        return Response.json({"alias": alias, "secret": secret, "xdatUserId": user,
                              "singleUse": False, "estimatedExpirationTime": expires,
                              "enabled": True})

    def token_validate(req: Request, m: Any) -> Response:
        token = emu.tokens.get(m.group(1))
        if token is None or token[0] != m.group(2):
            return Response.error(401, "Invalid token")
        return Response.json({"valid": token[1]})

    def token_invalidate(req: Request, m: Any) -> Response:
        token = emu.tokens.get(m.group(1))
        if token is None or token[0] != m.group(2):
            return Response.error(401, "Invalid token")
        emu.tokens.pop(m.group(1))
        return Response.text("")

    emu.route("GET", r"/", root)
    emu.route("POST", r"/data/JSESSION", jsession_post)
    emu.route("GET", r"/data/JSESSION", jsession_get)
    emu.route("DELETE", r"/data/JSESSION", jsession_delete)
    emu.route("PUT", r"/data/services/auth", auth_put)
    emu.route("GET", r"/data/auth", auth_get)
    emu.route("GET", r"/data/version", version)
    emu.route("GET", r"/xapi/siteConfig/buildInfo", build_info)
    emu.route("GET", r"/data/services/tokens/issue(?:/user/([^/]+))?", token_issue)
    emu.route("GET", r"/data/services/tokens/validate/([^/]+)/([^/]+)", token_validate)
    emu.route("GET", r"/data/services/tokens/invalidate/([^/]+)/([^/]+)", token_invalidate)
    emu.route("POST", r"/data/services/import", lambda r, m: _import(emu, r))
    emu.route("GET", r"/data/prearchive/projects(?:/([^/]+))?", lambda r, m: _prearchive(emu, m))
    emu.route("POST", r"/data/services/archive", lambda r, m: _archive(emu, r))
    emu.route("POST", r"/data/services/prearchive/delete", lambda r, m: _pre_delete(emu, r))


def _unpack(body: Path, dest: Path) -> None:
    if zipfile.is_zipfile(body):
        with zipfile.ZipFile(body) as zf:
            zf.extractall(dest)
    elif tarfile.is_tarfile(body):
        with tarfile.open(body) as tf:
            tf.extractall(dest, filter="data")
    else:
        shutil.copyfile(body, dest / "upload.dcm")


def _read_series(folder: Path) -> dict[str, Any]:
    """Group DICOM files by series; return study facts and ``{series number: files}``."""
    study: dict[str, Any] = {"series": {}}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        except Exception:  # noqa: BLE001 - XNAT skips unparsable files
            continue
        if "StudyInstanceUID" not in ds:
            continue
        study.setdefault("uid", str(ds.StudyInstanceUID))
        if str(ds.StudyInstanceUID) != study["uid"]:
            raise ValueError("Upload included multiple imaging sessions")
        study.setdefault("patient_name", str(ds.get("PatientName", "")))
        study.setdefault("patient_id", str(ds.get("PatientID", "")))
        study.setdefault("date", str(ds.get("StudyDate", "")))
        number = str(ds.get("SeriesNumber", "1"))
        entry = study["series"].setdefault(number, {
            "uid": str(ds.SeriesInstanceUID), "description": str(ds.get("SeriesDescription", "")),
            "modality": str(ds.get("Modality", "MR")), "files": [], "uids": {}})
        entry["files"].append(path)
        entry["uids"][path] = str(ds.get("SOPInstanceUID", "")) or None
    return study


_SESSION_TYPES = {"MR": "xnat:mrSessionData", "CT": "xnat:ctSessionData", "PT": "xnat:petSessionData"}
_SCAN_TYPES = {"MR": "xnat:mrScanData", "CT": "xnat:ctScanData", "PT": "xnat:petScanData"}


def _store_session(emu: XnatEmulator, study: dict[str, Any], ref: ObjectRef, overwrite: str) -> Response | None:
    """Archive an imported study as XNAT's DICOM importer does.

    ``overwrite``: ``none`` refuses an existing session (409), ``append`` merges into
    it (scans by Series Number; files of the same name are kept), ``delete`` replaces
    it (xnat-web ``NrgXnat/xnat-web:src/main/java/org/nrg/xnat/restlet/services/Importer.java``
    and the archiver it calls). Every file gets a catalog entry with its SOP Instance
    UID, which the ROI plugin's dependency check reads (see ``files_routes``).
    """
    from xnat_emulator.files_routes import record_entry

    archive = emu.archive
    if archive.exists(ref):
        if overwrite == "delete":
            archive.delete(ref)
        elif overwrite != "append":
            return Response.error(409, f"Session {ref.session} already exists in project {ref.project}")
    if not archive.exists(ObjectRef(ref.project)):
        return Response.error(404, f"No project {ref.project}")
    archive.create(ref.parent, "xnat:subjectData")
    date = study.get("date") or ""
    modalities = [s["modality"] for s in study["series"].values()]
    modality = max(set(modalities), key=modalities.count) if modalities else "MR"
    attrs = {"UID": study["uid"], "modality": modality}
    if len(date) == 8:
        attrs["date"] = f"{date[:4]}-{date[4:6]}-{date[6:]}"
    xsi = None if archive.exists(ref) else _SESSION_TYPES.get(modality, "xnat:otherDicomSessionData")
    archive.create(ref, xsi, attrs=attrs)
    for number, series in study["series"].items():
        scan = ref.child(scan=number)
        scan_xsi = None if archive.exists(scan) else _SCAN_TYPES.get(
            series["modality"], "xnat:otherDicomScanData")
        archive.create(scan, scan_xsi, attrs={
            "type": series["description"], "series_description": series["description"],
            "UID": series["uid"], "frames": len(series["files"]), "modality": series["modality"]})
        with tempfile.TemporaryDirectory(dir=emu.root) as tmp:
            uids: dict[str, str | None] = {}
            old = archive.resource_path(scan, "DICOM")
            if old.is_dir():  # append: keep what is there
                for path in sorted(p for p in old.rglob("*") if p.is_file()):
                    rel = path.relative_to(old).as_posix()
                    (Path(tmp) / rel).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, Path(tmp) / rel)
                    uids[rel] = emu.catalog.get(str(path), "")  # type: ignore[attr-defined]
            for path in series["files"]:
                name = path.name
                if (Path(tmp) / name).exists():
                    continue
                shutil.copyfile(path, Path(tmp) / name)
                uids[name] = series["uids"].get(path)
            archive.store_resource(scan, "DICOM", Path(tmp), format="DICOM", content="RAW")
        files = archive.resource_path(scan, "DICOM")
        for rel, uid in uids.items():
            if uid != "":
                record_entry(emu, files / rel, uid)
    return None


def _import(emu: XnatEmulator, req: Request) -> Response:
    q = req.query
    handler = q.get("import-handler") or ("gradual-DICOM" if "dicom" in
                                          (req.headers.get("Content-Type") or "") else "SI")
    if handler not in ("DICOM-zip", "gradual-DICOM", "SI"):
        return Response.error(400, f"Unsupported import handler {handler}")
    work = Path(tempfile.mkdtemp(prefix="import-", dir=emu.root))
    try:
        body = work / "body"
        req.stream_to(body)
        files = work / "files"
        files.mkdir()
        _unpack(body, files)
        try:
            study = _read_series(files)
        except ValueError as exc:
            return Response.error(400, str(exc))
        if not study["series"]:
            return Response.error(400, "Upload did not include parseable files for session")
        project = q.get("project") or ""
        dest = q.get("dest", "")
        subject = q.get("subject") or study["patient_name"] or "UNKNOWN"
        session = q.get("session") or study["patient_id"] or "UNKNOWN"
        if dest.startswith("/archive/projects/"):
            parts = dest.strip("/").split("/")
            project = parts[2]
            if len(parts) >= 7:
                subject, session = parts[4], parts[6]
        if dest.startswith("/prearchive") or handler == "gradual-DICOM":
            # gradual-DICOM ignores dest: the file lands in the prearchive (Importer.java,
            # GradualDicomImporter); only DICOM-zip archives straight to ``dest``
            stamp = dt.datetime.now().strftime("%Y%m%d_%H%M%S%f")[:-3]
            url = f"/prearchive/projects/{project}/{stamp}/{session}"
            keep = emu.root / "prearchive" / project / stamp / session
            keep.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(files), keep)
            emu.prearchive[url] = {  # type: ignore[attr-defined]
                "project": project, "timestamp": stamp, "folderName": session, "name": session,
                "subject": subject, "status": "READY", "url": url, "tag": study["uid"],
                "uploaded": dt.datetime.now().isoformat(), "scan_date": study["date"],
                "autoarchive": "Manual", "prevent_anon": "false", "path": str(keep)}
            return Response.text(f"/data{url}\r\n")
        ref = ObjectRef(project, subject, session)
        error = _store_session(emu, study, ref, q.get("overwrite", "none"))
        if error is not None:
            return error
        return Response.text(f"/data/archive/projects/{project}/subjects/{subject}"
                             f"/experiments/{session}\r\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _prearchive(emu: XnatEmulator, m: Any) -> Response:
    rows = [dict(r, path=None) for r in emu.prearchive.values()  # type: ignore[attr-defined]
            if m.group(1) in (None, r["project"])]
    for row in rows:
        row.pop("path")
    return Response.json({"ResultSet": {"Result": rows, "totalRecords": str(len(rows)),
                                        "title": "Prearchive"}})


def _archive(emu: XnatEmulator, req: Request) -> Response:
    src = req.query.get("src", "")
    entry = emu.prearchive.get(src)  # type: ignore[attr-defined]
    if entry is None:
        return Response.error(404, f"No prearchive session at {src}")
    project = req.query.get("project") or entry["project"]
    subject = req.query.get("subject") or entry["subject"]
    session = req.query.get("session") or entry["name"]
    study = _read_series(Path(entry["path"]))
    ref = ObjectRef(project, subject, session)
    error = _store_session(emu, study, ref, req.query.get("overwrite", "none"))
    if error is not None:
        return error
    emu.prearchive.pop(src)  # type: ignore[attr-defined]
    shutil.rmtree(entry["path"], ignore_errors=True)
    return Response.text(f"/data/archive/projects/{project}/subjects/{subject}/experiments/{session}")


def _pre_delete(emu: XnatEmulator, req: Request) -> Response:
    entry = emu.prearchive.pop(req.query.get("src", ""), None)  # type: ignore[attr-defined]
    if entry is None:
        return Response.error(404, "No such prearchive session")
    shutil.rmtree(entry["path"], ignore_errors=True)
    return Response.text("")
