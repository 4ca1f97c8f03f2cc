"""A local archive: a folder laid out like XNAT's REST hierarchy.

Layout (each object's metadata in a small JSON file beside its children)::

    ROOT/projects/P/project.json
    ROOT/projects/P/subjects/S/subject.json
    ROOT/projects/P/subjects/S/experiments/E/experiment.json
    ROOT/projects/P/subjects/S/experiments/E/scans/3/scan.json
    ROOT/projects/P/subjects/S/experiments/E/scans/3/resources/DICOM/resource.json
    ROOT/projects/P/subjects/S/experiments/E/scans/3/resources/DICOM/files/...
    ROOT/projects/P/subjects/S/experiments/E/assessors/A/assessor.json
    ROOT/projects/P/subjects/S/experiments/E/resources/<label>/files/...

A resource is written into a hidden temporary folder beside its final place and
renamed into place, so a reader never sees half a resource and a failed write
leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: no advisory locks
    fcntl = None  # type: ignore[assignment]

from sarcoma_xnat.archive.base import DEFAULT_XSI_TYPES, ArchiveObject, ResourceInfo
from sarcoma_xnat.archive.refs import ObjectRef, validate_label
from sarcoma_xnat.errors import ArchiveError, ObjectNotFoundError

__all__ = ["LocalArchive"]

_META_NAME = {"project": "project.json", "subject": "subject.json", "session": "experiment.json",
              "scan": "scan.json", "assessor": "assessor.json"}
_COLLECTION = {"project": "projects", "subject": "subjects", "session": "experiments",
               "scan": "scans", "assessor": "assessors"}
_ID_PREFIX = {"subject": "LOCAL_S", "session": "LOCAL_E", "assessor": "LOCAL_A"}


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON next to ``path`` and rename it into place."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


class LocalArchive:
    """The embedded default :class:`~sarcoma_xnat.archive.base.Archive`: a folder on disk.

    Parameters
    ----------
    root : path-like
        The archive folder; created if missing.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        (self.root / "projects").mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"LocalArchive({str(self.root)!r})"

    # -- paths -------------------------------------------------------------------
    def path(self, ref: ObjectRef) -> Path:
        """Return the folder of an object (whether or not it exists)."""
        p = self.root / "projects" / ref.project
        if ref.subject:
            p = p / "subjects" / ref.subject
        if ref.session:
            p = p / "experiments" / ref.session
        if ref.scan:
            p = p / "scans" / ref.scan
        if ref.assessor:
            p = p / "assessors" / ref.assessor
        return p

    def resource_path(self, ref: ObjectRef, label: str) -> Path:
        """Return the ``files`` folder of a resource (whether or not it exists)."""
        return self.path(ref) / "resources" / validate_label(label, "resource") / "files"

    def _meta_path(self, ref: ObjectRef) -> Path:
        return self.path(ref) / _META_NAME[ref.kind]

    # -- objects -----------------------------------------------------------------
    def exists(self, ref: ObjectRef) -> bool:
        """Return whether the object exists."""
        return self._meta_path(ref).is_file()

    def get(self, ref: ObjectRef) -> ArchiveObject:
        """Return the object's metadata or raise ``ObjectNotFoundError``."""
        meta = self._meta_path(ref)
        try:
            data = json.loads(meta.read_text())
        except FileNotFoundError:
            raise ObjectNotFoundError(f"no {ref.kind} at {ref.uri}", **ref.context()) from None
        except json.JSONDecodeError as exc:
            raise ArchiveError(f"corrupt metadata file {meta}: {exc}", **ref.context()) from exc
        return ArchiveObject(ref=ref, xsi_type=data["xsiType"], id=data["ID"], label=data["label"],
                             attrs=data.get("attrs", {}), fields=data.get("fields", {}))

    def children(self, ref: ObjectRef | None, kind: str) -> list[ArchiveObject]:
        """List child objects of ``kind``, sorted by label (scans in numeric order)."""
        if kind not in _COLLECTION:
            raise ArchiveError(f"unknown object kind {kind!r}")
        if ref is None:
            if kind != "project":
                raise ArchiveError(f"listing {kind}s needs a parent reference")
            folder = self.root / "projects"
        else:
            folder = self.path(ref) / _COLLECTION[kind]
        if not folder.is_dir():
            if ref is not None and not self.exists(ref):
                raise ObjectNotFoundError(f"no {ref.kind} at {ref.uri}", **ref.context())
            return []
        out = []
        for entry in folder.iterdir():
            if entry.name.startswith(".") or not (entry / _META_NAME[kind]).is_file():
                continue
            child = ObjectRef(entry.name) if ref is None else ref.child(**{kind: entry.name})
            out.append(self.get(child))
        key = (lambda o: (0, int(o.label), o.label) if o.label.isdigit() else (1, 0, o.label))
        return sorted(out, key=key)

    def create(
        self,
        ref: ObjectRef,
        xsi_type: str | None = None,
        attrs: dict[str, Any] | None = None,
        fields: dict[str, Any] | None = None,
    ) -> ArchiveObject:
        """Create the object, or update attrs/fields of an existing one; parents must exist."""
        if ref.kind != "project" and not self.exists(ref.parent):
            raise ObjectNotFoundError(
                f"cannot create {ref.kind} {ref.uri}: parent {ref.parent.kind} does not exist",
                **ref.context(),
            )
        meta = self._meta_path(ref)
        if meta.is_file():
            data = json.loads(meta.read_text())
            if xsi_type and xsi_type != data["xsiType"]:
                raise ArchiveError(
                    f"{ref.uri} exists as {data['xsiType']}, cannot change it to {xsi_type}",
                    **ref.context(),
                )
        else:
            label = getattr(ref, ref.kind)
            data = {"xsiType": xsi_type or DEFAULT_XSI_TYPES[ref.kind], "label": label,
                    "ID": self._make_id(ref), "attrs": {}, "fields": {}}
            meta.parent.mkdir(parents=True, exist_ok=True)
        data["attrs"].update(attrs or {})
        data["fields"].update({k: str(v) for k, v in (fields or {}).items()})
        _write_json_atomic(meta, data)
        return self.get(ref)

    @staticmethod
    def _make_id(ref: ObjectRef) -> str:
        if ref.kind in ("project", "scan"):
            return str(getattr(ref, ref.kind))
        digest = hashlib.sha1(ref.uri.encode()).hexdigest()[:10].upper()
        return f"{_ID_PREFIX[ref.kind]}{digest}"

    def find_id(self, kind: str, xnat_id: str) -> ObjectRef:
        """Return the project, subject, session or assessor whose XNAT ID is ``xnat_id``."""
        if kind not in ("project", "subject", "session", "assessor"):
            raise ArchiveError(f"a {kind} has no site-wide ID to look up")
        path = {"project": "*/project.json", "subject": "*/subjects/*/subject.json",
                "session": "*/subjects/*/experiments/*/experiment.json",
                "assessor": "*/subjects/*/experiments/*/assessors/*/assessor.json"}[kind]
        for meta in sorted((self.root / "projects").glob(path)):
            parts = meta.relative_to(self.root / "projects").parts[:-1]
            if any(p.startswith(".") for p in parts):
                continue
            try:
                if json.loads(meta.read_text()).get("ID") != xnat_id:
                    continue
            except (OSError, json.JSONDecodeError):
                continue
            ref = ObjectRef(parts[0], *parts[2::2][:2])
            return ref.child(assessor=parts[6]) if kind == "assessor" else ref
        raise ObjectNotFoundError(f"no {kind} with XNAT ID {xnat_id!r}")

    def set_fields(self, ref: ObjectRef, fields: dict[str, Any]) -> None:
        """Set custom fields on an existing object (values are stored as strings)."""
        if not self.exists(ref):
            raise ObjectNotFoundError(f"no {ref.kind} at {ref.uri}", **ref.context())
        self.create(ref, fields=fields)

    def delete(self, ref: ObjectRef) -> None:
        """Delete an object with all its children and resources."""
        if not self.exists(ref):
            raise ObjectNotFoundError(f"no {ref.kind} at {ref.uri}", **ref.context())
        target = self.path(ref)
        trash = target.with_name(f".deleted-{target.name}-{uuid.uuid4().hex}")
        os.replace(target, trash)
        shutil.rmtree(trash)

    # -- resources ---------------------------------------------------------------
    def resources(self, ref: ObjectRef) -> list[ResourceInfo]:
        """List the file resources of an object, sorted by label."""
        if not self.exists(ref):
            raise ObjectNotFoundError(f"no {ref.kind} at {ref.uri}", **ref.context())
        folder = self.path(ref) / "resources"
        if not folder.is_dir():
            return []
        out = []
        with _locked(folder, exclusive=False):  # no replacement half done (see _swap_into_place)
            for entry in sorted(folder.iterdir()):
                if entry.name.startswith(".") or not (entry / "resource.json").is_file():
                    continue
                info = json.loads((entry / "resource.json").read_text())
                files = tuple(sorted(p.relative_to(entry / "files").as_posix()
                                     for p in (entry / "files").rglob("*") if p.is_file()))
                out.append(ResourceInfo(entry.name, info.get("format"), info.get("content"),
                                        files))
        return out

    def resource(self, ref: ObjectRef, label: str) -> ResourceInfo:
        """Return one resource or raise ``ObjectNotFoundError``."""
        for info in self.resources(ref):
            if info.label == label:
                return info
        raise ObjectNotFoundError(f"no resource {label!r} on {ref.uri}", resource=label,
                                  **ref.context())

    def fetch_resource(self, ref: ObjectRef, label: str, dest: Path) -> list[Path]:
        """Copy the files of resource ``label`` into folder ``dest``; return their paths."""
        info = self.resource(ref, label)
        src = self.resource_path(ref, label)
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        out = []
        for rel in info.files:
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / rel, target)
            out.append(target)
        return out

    def store_resource(
        self,
        ref: ObjectRef,
        label: str,
        source: Path,
        format: str | None = None,
        content: str | None = None,
        merge: bool = False,
    ) -> ResourceInfo:
        """Store folder ``source`` as resource ``label``, atomically replacing any old one.

        With ``merge`` the new files are added to the existing resource (same-named
        ones overwritten, the others kept, format/content of the existing resource
        kept), as XNAT's ``DefaultCatalogService.insertResources`` does
        (``NrgXnat/xnat-web:src/main/java/org/nrg/xnat/services/archive/impl/legacy/DefaultCatalogService.java``);
        the swap is still atomic.
        """
        if not self.exists(ref):
            raise ObjectNotFoundError(f"cannot store resource {label!r}: no {ref.kind} at {ref.uri}",
                                      resource=label, **ref.context())
        source = Path(source)
        if not source.is_dir():
            raise ArchiveError(f"resource source {source} is not a folder", resource=label,
                               **ref.context())
        final = self.resource_path(ref, label).parent
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".staging-{label}-", dir=final.parent))
        try:
            old = final / "resource.json"
            if merge and old.is_file():
                shutil.copytree(final / "files", staging / "files", symlinks=False)
                shutil.copytree(source, staging / "files", symlinks=False, dirs_exist_ok=True)
                meta = json.loads(old.read_text())
                format, content = meta.get("format"), meta.get("content")
            else:
                shutil.copytree(source, staging / "files", symlinks=False)
            _write_json_atomic(staging / "resource.json",
                               {"label": label, "format": format, "content": content})
            self._swap_into_place(staging, final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return self.resource(ref, label)

    @staticmethod
    def _swap_into_place(staging: Path, final: Path) -> None:
        """Rename ``staging`` to ``final``; an old ``final`` is moved aside first, then removed.

        Between the two renames the resource is missing: both happen under an exclusive
        lock of the resources folder, which a listing takes shared, so a reader racing
        the swap sees the old resource or the new one.
        """
        old = None
        with _locked(final.parent, exclusive=True):
            if final.exists():
                old = final.with_name(f".replaced-{final.name}-{uuid.uuid4().hex}")
                os.replace(final, old)
            try:
                os.replace(staging, final)
            except BaseException:
                if old is not None:
                    os.replace(old, final)
                raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def delete_resource(self, ref: ObjectRef, label: str) -> None:
        """Delete resource ``label`` of an object; missing resources are not an error."""
        folder = self.resource_path(ref, label).parent
        if folder.exists():
            trash = folder.with_name(f".deleted-{label}-{uuid.uuid4().hex}")
            os.replace(folder, trash)
            shutil.rmtree(trash)


@contextlib.contextmanager
def _locked(folder: Path, exclusive: bool) -> Iterator[None]:
    """Hold an advisory lock on ``folder`` (shared or exclusive) while the block runs.

    ``flock`` on the folder itself: no lock file appears in it. Where ``fcntl`` does not
    exist (Windows) nothing is locked.
    """
    if fcntl is None:
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # closing releases the lock
