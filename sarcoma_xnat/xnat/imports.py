"""DICOM import through XNAT's import service, and the prearchive.

Import DICOM this way, never as plain resource files: only XNAT's DICOM importer
writes the per-instance catalog entries (``cat:dcmEntry@UID``) that the OHIF ROI
plugin checks before it accepts a collection (``DefaultCollectionStorage.checkDependencies``
in the ICR plugin: 422 "Missing dependencies: SOP instance UID"). Everything is sent
as a zip with ``import-handler=DICOM-zip``: the ``gradual-DICOM`` handler (single
files) ignores ``dest`` and leaves the file in the prearchive (xnat-web
``NrgXnat/xnat-web:src/main/java/org/nrg/xnat/restlet/services/Importer.java``).
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from sarcoma_xnat.archive.refs import ObjectRef
from sarcoma_xnat.errors import ArchiveError, ConfigurationError, XnatError, XnatNotFoundError
from sarcoma_xnat.xnat.refs import data_path, resultset_rows
from sarcoma_xnat.xnat.session import XnatSession

__all__ = ["ImportsApi", "zip_folder"]

_OVERWRITE = ("none", "append", "delete")


def zip_folder(folder: Path, target: Path) -> Path:
    """Zip every file below ``folder`` into ``target`` (stored, not compressed: DICOM barely shrinks)."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
    return target


class ImportsApi:
    """The import service and the prearchive; reached as ``client.imports``."""

    def __init__(self, session: XnatSession) -> None:
        self.session = session

    def import_dicom(
        self,
        source: str | os.PathLike[str],
        project: str,
        subject: str | None = None,
        session: str | None = None,
        overwrite: str = "delete",
        to_prearchive: bool = False,
        direct_archive: bool = False,
    ) -> str:
        """Send a DICOM folder, zip or single file to ``/data/services/import``.

        Parameters
        ----------
        source : path-like
            A folder of DICOM files (zipped on the fly into a temporary file), a
            ``.zip``/``.tar.gz``, or one DICOM file.
        project, subject, session : str
            Destination labels; XNAT takes them over whatever the DICOM headers say.
        overwrite : {"none", "append", "delete"}
            What to do when the session exists; ``delete`` makes a re-run replace it.
        to_prearchive : bool
            Stop in the prearchive instead of archiving.
        direct_archive : bool
            Ask XNAT (1.8.3+) to skip the prearchive entirely.

        Returns
        -------
        str
            The URI XNAT answers with (``/data/prearchive/...`` or ``/data/archive/...``).
        """
        if overwrite not in _OVERWRITE:
            raise ConfigurationError(f"overwrite must be one of {_OVERWRITE}, got {overwrite!r}")
        source = Path(source)
        if not source.exists():
            raise ArchiveError(f"import source {source} does not exist", project=project,
                               subject=subject, session=session)
        params: dict[str, Any] = {"overwrite": overwrite, "project": project, "inbody": "true"}
        if to_prearchive:
            params["dest"] = f"/prearchive/projects/{project}"
        elif subject and session:
            params["dest"] = f"/archive/projects/{project}/subjects/{subject}/experiments/{session}"
        if subject:
            params["subject"] = subject
        if session:
            params["session"] = session
        if direct_archive:
            params["Direct-Archive"] = "true"
        with tempfile.TemporaryDirectory(prefix="sarcoma-xnat-import-") as tmp:
            if source.is_dir():
                body = zip_folder(source, Path(tmp) / "upload.zip")
            elif source.suffix.lower() in (".zip", ".tgz", ".gz", ".tar"):
                body = source
            else:  # one file: zipped too, so that ``dest`` is honoured
                body = Path(tmp) / "upload.zip"
                with zipfile.ZipFile(body, "w", compression=zipfile.ZIP_STORED) as zf:
                    zf.write(source, source.name)
            params["import-handler"] = "DICOM-zip"
            with open(body, "rb") as fh:
                try:
                    response = self.session.post(
                        "/data/services/import", params=params, data=fh,
                        headers={"Content-Type": "application/zip"})
                except XnatError as exc:
                    raise exc.with_context(project=project, subject=subject, session=session)
        return response.text.strip()

    def import_scan(self, scan: ObjectRef, source: str | os.PathLike[str],
                    replace: bool = True) -> ObjectRef:
        """Import a folder of one series' DICOM into an existing session as scan ``scan``.

        XNAT names the scan after the files' Series Number, so that number must be the
        scan ID. ``overwrite=append`` merges into the session; with ``replace`` the
        scan's old DICOM resource is deleted first, so the scan holds exactly these files.

        Raises
        ------
        ArchiveError
            When XNAT did not file the series as ``scan`` (Series Number differs).
        """
        if scan.kind != "scan":
            raise ConfigurationError(f"{scan.uri} is not a scan")
        if replace:
            try:
                self.session.delete(data_path(scan) + "/resources/DICOM",
                                    params={"removeFiles": "true"})
            except XnatNotFoundError:
                pass
        self.import_dicom(source, str(scan.project), scan.subject, scan.session,
                          overwrite="append")
        path = data_path(scan)
        try:
            self.session.get_json(path)
        except XnatNotFoundError:
            raise ArchiveError(f"XNAT's importer did not file the series as scan {scan.scan}: "
                               "XNAT names scans after the DICOM Series Number",
                               **scan.context()) from None
        return scan

    def prearchive(self, project: str | None = None) -> list[dict[str, Any]]:
        """List prearchive sessions (rows with ``url``, ``status``, ``subject``, ``name``...)."""
        path = "/data/prearchive/projects" + (f"/{project}" if project else "")
        return resultset_rows(self.session.get_json(path), self.session.url(path))

    def archive(
        self,
        src: str,
        project: str | None = None,
        subject: str | None = None,
        session: str | None = None,
        overwrite: str = "none",
    ) -> ObjectRef | str:
        """Archive one prearchive session (``src`` is its ``url``); return where it landed."""
        params = {"src": src.removeprefix("/data"), "overwrite": overwrite}
        params.update({k: v for k, v in (("project", project), ("subject", subject),
                                         ("session", session)) if v})
        text = self.session.post("/data/services/archive", params=params).text.strip()
        try:
            return ObjectRef.parse(text)
        except ConfigurationError:
            return text

    def delete_prearchive(self, src: str) -> None:
        """Delete one prearchive session."""
        self.session.post("/data/services/prearchive/delete",
                          params={"src": src.removeprefix("/data")})
