"""What every step shares: atomic output folders, provenance, and session staging.

A step is a plain function ``run(input_dir, output_dir, params)``. Its input folder
is laid out the way XNAT's Container Service mounts a session::

    INPUT/SCANS/<scan id>/<resource label>/<files>
    INPUT/ASSESSORS/<assessor label>/<resource label>/<files>
    INPUT/RESOURCES/<resource label>/<files>

so that the same function runs in-process on a local archive (after
:func:`stage_session`), inside its container launched by the local runner, and
inside XNAT.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import platform
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from sarcoma_xnat.archive.base import Archive
from sarcoma_xnat.archive.refs import ObjectRef
from sarcoma_xnat.errors import ArchiveError
from sarcoma_xnat.paths import refuse_foreign_folder

__all__ = [
    "PROVENANCE_FILE",
    "atomic_output",
    "file_sha256",
    "library_versions",
    "stage_session",
    "write_provenance",
]

PROVENANCE_FILE = "provenance.json"

_LIBRARIES = ("sarcoma-xnat", "numpy", "pydicom", "SimpleITK", "nibabel", "highdicom",
              "torch", "monai", "nvflare")


@contextlib.contextmanager
def atomic_output(output_dir: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary folder that becomes ``output_dir`` only if the block succeeds.

    Normally the temporary folder sits beside ``output_dir`` (same file system) and is
    renamed into place, replacing an old ``output_dir``. When ``output_dir`` is a mount
    point or its parent is not writable — a container's ``/output`` — the temporary
    folder sits inside it and its contents are moved up at the end. On error the
    temporary folder is removed and ``output_dir`` is left as it was. A non-empty
    ``output_dir`` that the suite did not write (no ``provenance.json``) is refused.
    """
    final = Path(output_dir).resolve()
    refuse_foreign_folder(final)  # never replace a folder of someone else's files
    inside = final.is_dir() and (_is_mount_point(final) or not os.access(final.parent, os.W_OK))
    if not inside:
        final.parent.mkdir(parents=True, exist_ok=True)
    parent = final if inside else final.parent
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.partial-", dir=parent))
    try:
        yield staging
        if inside:
            _replace_contents(staging, final)
            staging.rmdir()
        elif final.exists() and any(final.iterdir()):
            old = final.with_name(f".{final.name}.old-{uuid.uuid4().hex}")
            os.replace(final, old)
            os.replace(staging, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, final)  # rename(2) replaces an empty folder
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _is_mount_point(path: Path) -> bool:
    try:
        return path.is_mount()
    except OSError:
        return False


def _replace_contents(src: Path, dest: Path) -> None:
    """Replace everything in ``dest`` but ``src`` itself by the contents of ``src``."""
    for entry in dest.iterdir():
        if entry == src:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    for entry in src.iterdir():
        os.replace(entry, dest / entry.name)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Return the SHA-256 hex digest of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def library_versions(names: tuple[str, ...] = _LIBRARIES) -> dict[str, str]:
    """Return installed versions of the libraries that matter for reproducibility."""
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def write_provenance(
    output_dir: Path,
    step: str,
    version: str,
    params: Mapping[str, Any],
    inputs: Mapping[str, Any],
    started: float,
    timings: Mapping[str, float] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``provenance.json`` into ``output_dir`` and return its path.

    Parameters
    ----------
    output_dir : Path
        Folder being produced by the step.
    step, version : str
        Step name and version.
    params : mapping
        Parameters as run (JSON-serialisable).
    inputs : mapping
        Input identifiers: series UIDs, file paths relative to the input, checksums.
        Never patient names, IDs or birth dates.
    started : float
        ``time.time()`` when the step started.
    timings : mapping, optional
        Seconds per stage.
    extra : mapping, optional
        Anything else worth keeping (e.g. the image digest when in a container).
    """
    ended = time.time()
    record: dict[str, Any] = {
        "step": step,
        "version": version,
        "parameters": dict(params),
        "inputs": dict(inputs),
        "libraries": library_versions(),
        "started": _dt.datetime.fromtimestamp(started, _dt.timezone.utc).isoformat(),
        "ended": _dt.datetime.fromtimestamp(ended, _dt.timezone.utc).isoformat(),
        "seconds": round(ended - started, 3),
    }
    if timings:
        record["timings"] = {k: round(float(v), 3) for k, v in timings.items()}
    image = os.environ.get("SARCOMA_XNAT_IMAGE")
    if image:
        record["container_image"] = image
    if extra:
        record.update(extra)
    path = Path(output_dir) / PROVENANCE_FILE
    path.write_text(json.dumps(record, indent=2, sort_keys=True, default=str) + "\n")
    return path


def stage_session(
    archive: Archive,
    session: ObjectRef,
    dest: str | os.PathLike[str],
    scans: bool = True,
    assessors: bool = True,
    resources: bool = False,
) -> Path:
    """Copy a session's files into ``dest`` in the Container Service's mount layout.

    Returns ``dest``. Scan files land in ``SCANS/<id>/<label>/``, assessor files in
    ``ASSESSORS/<label>/<resource>/`` and session resources in ``RESOURCES/<label>/``.
    """
    if session.kind != "session":
        raise ArchiveError(f"expected a session reference, got a {session.kind}: {session.uri}")
    root = Path(dest)
    root.mkdir(parents=True, exist_ok=True)
    archive.get(session)  # raises ObjectNotFoundError with context when absent
    if scans:
        for scan in archive.children(session, "scan"):
            for res in archive.resources(scan.ref):
                archive.fetch_resource(scan.ref, res.label, root / "SCANS" / scan.label / res.label)
    if assessors:
        for assessor in archive.children(session, "assessor"):
            for res in archive.resources(assessor.ref):
                archive.fetch_resource(assessor.ref, res.label,
                                       root / "ASSESSORS" / assessor.label / res.label)
    if resources:
        for res in archive.resources(session):
            archive.fetch_resource(session, res.label, root / "RESOURCES" / res.label)
    return root
