"""Resources and files: streamed, checksum-verified downloads and idempotent uploads.

Downloads go block by block into a hidden ``.partial`` file next to the target,
hashed on the way, and are renamed into place only when size and MD5 match what
XNAT's catalog says; an interrupted or corrupt download leaves nothing behind.
Uploads stream from disk, overwrite files of the same name (``overwrite=true``:
without it XNAT keeps the old file) and prune files that are no longer in the
folder, so a re-run never leaves a second copy.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

import requests

from sarcoma_xnat.archive.refs import ObjectRef
from sarcoma_xnat.errors import ArchiveError, ObjectNotFoundError, XnatError, XnatNotFoundError
from sarcoma_xnat.xnat.refs import ResourceRef, data_path, resultset_rows
from sarcoma_xnat.xnat.session import XnatSession

__all__ = ["BLOCK", "FilesApi", "relative_path"]

log = logging.getLogger("sarcoma_xnat.xnat")

#: bytes read or written at a time; memory use does not grow with file size
BLOCK = 1 << 20


def relative_path(row: dict[str, Any]) -> str:
    """Return a file row's path inside its resource (the part of ``URI`` after ``/files/``)."""
    uri = str(row.get("URI", ""))
    if "/files/" in uri:
        return uri.split("/files/", 1)[1]
    return str(row.get("Name"))


def _safe_target(dest: Path, rel: str) -> Path:
    """Join ``rel`` under ``dest``, refusing absolute paths and ``..`` escapes."""
    parts = PurePosixPath(rel).parts
    if not parts or PurePosixPath(rel).is_absolute() or ".." in parts:
        raise ArchiveError(f"refusing unsafe file path {rel!r} from XNAT", file=rel)
    return dest.joinpath(*parts)


class FilesApi:
    """File resources over REST; reached as ``client.files``."""

    def __init__(self, session: XnatSession, download_retries: int = 2) -> None:
        self.session = session
        self.download_retries = download_retries

    # -- listing -----------------------------------------------------------------
    def resources(self, owner: ObjectRef) -> list[dict[str, Any]]:
        """List the resources of an object (rows with ``label``, ``format``, ``file_count``...)."""
        middle = "/out/resources" if owner.kind == "assessor" else "/resources"
        path = data_path(owner) + middle
        try:
            return resultset_rows(self.session.get_json(path), self.session.url(path))
        except XnatNotFoundError as exc:
            raise ObjectNotFoundError(f"no {owner.kind} at {owner.uri} ({exc.url} -> 404)",
                                      **owner.context()) from None

    def files(self, resource: ResourceRef) -> list[dict[str, Any]]:
        """List the files of a resource (rows with ``Name``, ``URI``, ``Size``, ``digest``)."""
        try:
            payload = self.session.get_json(resource.files_path)
        except XnatNotFoundError as exc:
            raise ObjectNotFoundError(f"no resource {resource.label!r} on {resource.owner.uri} "
                                      f"({exc.url} -> 404)", **resource.context()) from None
        return resultset_rows(payload, self.session.url(resource.files_path))

    def exists(self, resource: ResourceRef) -> bool:
        """Return whether the resource exists."""
        return any(r.get("label") == resource.label for r in self.resources(resource.owner))

    # -- download ----------------------------------------------------------------
    def download_file(self, url: str, target: Path, size: int | None = None,
                      md5: str | None = None) -> Path:
        """Stream one file to ``target``; verify size and MD5; retry a broken transfer."""
        target = Path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, self.download_retries + 2):
            try:
                self._stream_once(url, target, size, md5)
                return target
            except (requests.RequestException, _Mismatch) as exc:
                if attempt > self.download_retries:
                    if isinstance(exc, _Mismatch):
                        raise ArchiveError(f"download of {url} failed verification: {exc}",
                                           file=target.name) from None
                    raise XnatError(f"download interrupted ({type(exc).__name__})", method="GET",
                                    url=self.session.url(url), file=target.name) from None
                log.warning("download of %s failed (%s); retrying", url, type(exc).__name__)
        raise AssertionError("unreachable")  # pragma: no cover

    def _stream_once(self, url: str, target: Path, size: int | None, md5: str | None) -> None:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial",
                                        dir=target.parent)
        tmp = Path(tmp_name)
        try:
            digest, written = hashlib.md5(usedforsecurity=False), 0
            with os.fdopen(fd, "wb") as out:
                response = self.session.get(url, stream=True)
                with response:
                    for block in response.iter_content(BLOCK):
                        out.write(block)
                        digest.update(block)
                        written += len(block)
            if size is not None and written != size:
                raise _Mismatch(f"expected {size} bytes, got {written}")
            if md5 and digest.hexdigest() != md5.lower():
                raise _Mismatch(f"MD5 {digest.hexdigest()} differs from XNAT's {md5}")
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def download_resource(self, resource: ResourceRef, dest: str | os.PathLike[str]) -> list[Path]:
        """Download every file of a resource into folder ``dest``; return the local paths."""
        dest = Path(dest)
        out = []
        for row in self.files(resource):
            rel = relative_path(row)
            target = _safe_target(dest, rel)
            size = int(row["Size"]) if str(row.get("Size", "")).isdigit() else None
            try:
                out.append(self.download_file(str(row["URI"]), target, size, row.get("digest") or None))
            except (XnatError, ArchiveError) as exc:
                raise exc.with_context(**resource.context(), file=rel)
        return sorted(out)

    def download_scan(self, scan: ObjectRef, dest: str | os.PathLike[str],
                      labels: list[str] | None = None) -> dict[str, list[Path]]:
        """Download a scan's resources (all, or ``labels``) into ``dest/<label>/``."""
        out = {}
        for row in self.resources(scan):
            label = str(row.get("label"))
            if labels is None or label in labels:
                out[label] = self.download_resource(ResourceRef(scan, label), Path(dest) / label)
        return out

    def download_zip(self, path: str, dest: str | os.PathLike[str]) -> list[Path]:
        """Stream a ``?format=zip`` download (e.g. ``.../scans/ALL/files``) and extract it."""
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".zip-", dir=dest) as tmpdir:
            archive = Path(tmpdir) / "download.zip"
            with self.session.get(path, params={"format": "zip"}, stream=True) as response, \
                    open(archive, "wb") as fh:
                for block in response.iter_content(BLOCK):
                    fh.write(block)
            try:
                with zipfile.ZipFile(archive) as zf:
                    bad = zf.testzip()
                    if bad is not None:
                        raise ArchiveError(f"corrupt entry {bad!r} in zip from {path}", file=bad)
                    names = [n for n in zf.namelist() if not n.endswith("/")]
                    for name in names:
                        _safe_target(dest, name)
                    zf.extractall(dest)
            except zipfile.BadZipFile:
                raise ArchiveError(f"XNAT sent a damaged zip for {path}") from None
        return sorted(dest / n for n in names)

    # -- upload ------------------------------------------------------------------
    def create_resource(self, resource: ResourceRef, format: str | None = None,
                        content: str | None = None) -> None:
        """Create an empty resource (nothing happens if it exists)."""
        params = {k: v for k, v in (("format", format), ("content", content)) if v}
        self.session.put(resource.path, params=params, ok=(200, 201, 409))

    def upload_file(self, resource: ResourceRef, source: str | os.PathLike[str],
                    remote_path: str | None = None, overwrite: bool = True) -> None:
        """Stream one local file into a resource as ``remote_path`` (default: its name).

        With ``overwrite=True`` (the default) a file of that name is replaced. Without
        it XNAT keeps the old file and still answers 200, listing it under
        ``duplicates`` (xnat-web
        ``NrgXnat/xnat-web:src/main/java/org/nrg/xnat/restlet/resources/files/FileList.java``,
        ``handlePost``); that is raised here as ``ArchiveError`` instead of passing silently.
        """
        source = Path(source)
        remote = remote_path or source.name
        params = {"inbody": "true", "overwrite": "true" if overwrite else "false"}
        with open(source, "rb") as fh:
            try:
                response = self.session.put(f"{resource.files_path}/{remote}", params=params,
                                            data=fh,
                                            headers={"Content-Type": "application/octet-stream"})
            except XnatError as exc:
                raise exc.with_context(**resource.context(), file=remote)
        if not overwrite and '"duplicates"' in response.text:
            raise ArchiveError(f"{remote} already exists in resource {resource.label!r}; XNAT "
                               "kept the old file (pass overwrite=True to replace it)",
                               **resource.context(), file=remote)

    def upload_folder(self, resource: ResourceRef, folder: str | os.PathLike[str],
                      format: str | None = None, content: str | None = None) -> list[str]:
        """Make resource ``label`` hold exactly the files of ``folder``; return their paths.

        Files are overwritten in place and files no longer in ``folder`` are deleted,
        so a re-run replaces the resource and never creates a second copy.
        """
        folder = Path(folder)
        if not folder.is_dir():
            raise ArchiveError(f"upload source {folder} is not a folder", **resource.context())
        local = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        existing = ({relative_path(r) for r in self.files(resource)}
                    if self.exists(resource) else None)
        if existing is None:
            self.create_resource(resource, format, content)
        for rel in local:
            self.upload_file(resource, folder / rel, rel)
        for stale in sorted((existing or set()) - set(local)):
            self.session.delete(f"{resource.files_path}/{stale}")
        remote = {relative_path(r): r for r in self.files(resource)}
        for rel in local:
            size = (folder / rel).stat().st_size
            row = remote.get(rel)
            if row is None or (str(row.get("Size", "")).isdigit() and int(row["Size"]) != size):
                raise ArchiveError(f"upload of {rel} did not arrive intact", file=rel,
                                   **resource.context())
        return local

    def delete_resource(self, resource: ResourceRef) -> None:
        """Delete a resource and its files; a missing resource is not an error."""
        try:
            self.session.delete(resource.path, params={"removeFiles": "true"})
        except XnatNotFoundError:
            pass


class _Mismatch(Exception):
    """A downloaded file whose size or checksum differs from the catalog."""
