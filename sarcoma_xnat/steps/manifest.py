"""Self-describing step outputs: ``manifest.json`` lists the files of one result, with checksums.

XNAT's Container Service stores an output into an existing resource of the same
label by *adding* files: files of earlier runs stay, same-named ones are overwritten
(``NrgXnat/container-service:src/main/java/org/nrg/containers/services/impl/ContainerFinalizeServiceImpl.java``
``uploadOutput`` → ``NrgXnat/xnat-web:src/main/java/org/nrg/xnat/services/archive/impl/legacy/DefaultCatalogService.java``
``insertResources``/``createAndInsertResourceCatalog``, which returns the existing catalog).
So after a re-run a resource may hold files that are not part of the latest result,
and two concurrent uploads may interleave. Every step therefore writes, last inside
:func:`~sarcoma_xnat.steps.base.atomic_output`, a manifest::

    {"manifest": 1, "step": "preprocess", "version": "0.1.0",
     "fingerprint": "<sha256 of the inputs and parameters>",
     "run_id": "<sha256 of fingerprint and files>",
     "files": {"t1.nii.gz": {"sha256": "...", "size": 123}, ...},
     "unverified": ["provenance.json"]}

and readers use only the files it lists, after checking their checksums
(:func:`verified_files`). The manifest has no timestamp: equal inputs give an equal
manifest, so two runs of one save upload the same bytes and any interleaving of
their uploads is one consistent result. ``provenance.json`` (run timing) is named in
``unverified``: it is kept but not checked, because its timing differs between runs.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sarcoma_xnat.errors import InputDataError
from sarcoma_xnat.steps.base import file_sha256

__all__ = ["MANIFEST_FILE", "UNVERIFIED_FILES", "consistent", "fingerprint", "read_manifest",
           "verified_files", "write_manifest"]

MANIFEST_FILE = "manifest.json"
#: files a step writes that differ between otherwise identical runs (timing): not checksummed
UNVERIFIED_FILES = ("provenance.json",)
_FORMAT = 1


def fingerprint(record: Mapping[str, Any]) -> str:
    """Return the SHA-256 of a JSON-ready record (keys sorted): the identity of a run's inputs."""
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_manifest(folder: str | os.PathLike[str], step: str, version: str,
                   input_fingerprint: str, unverified: Iterable[str] = UNVERIFIED_FILES) -> Path:
    """Write ``manifest.json`` listing every file under ``folder``; call it last.

    Files named in ``unverified`` (records with run timing) are listed by name only.
    """
    per_run = set(unverified)
    root = Path(folder)
    files: dict[str, dict[str, Any]] = {}
    names = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel == MANIFEST_FILE:
            continue
        if rel in per_run:
            names.append(rel)
            continue
        files[rel] = {"sha256": file_sha256(path), "size": path.stat().st_size}
    run_id = fingerprint({"fingerprint": input_fingerprint, "files": files})
    record = {"manifest": _FORMAT, "step": step, "version": version,
              "fingerprint": input_fingerprint, "run_id": run_id, "files": files,
              "unverified": names}
    target = root / MANIFEST_FILE
    target.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return target


def read_manifest(folder: str | os.PathLike[str], step: str | None = None,
                  context: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Read a result's manifest; refuse a folder without one or one of another step."""
    ctx = dict(context or {})
    path = Path(folder) / MANIFEST_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputDataError(f"the {step or 'step'} result has no {MANIFEST_FILE} (written by an "
                             "older version, or still being uploaded); run the step again",
                             **ctx) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise InputDataError(f"cannot read {MANIFEST_FILE}: {exc}", **ctx) from exc
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        raise InputDataError(f"{MANIFEST_FILE} lists no files", **ctx)
    if step is not None and data.get("step") != step:
        raise InputDataError(f"{MANIFEST_FILE} is from step {data.get('step')!r}, not {step!r}",
                             **ctx)
    return data


def consistent(folder: str | os.PathLike[str], manifest: Mapping[str, Any]) -> list[str]:
    """Return the problems of a result folder against its manifest (empty when consistent)."""
    root = Path(folder)
    problems = []
    for rel, entry in sorted(manifest["files"].items()):
        path = root / rel
        if not path.is_file():
            problems.append(f"{rel} is missing")
        elif path.stat().st_size != entry.get("size") or file_sha256(path) != entry.get("sha256"):
            problems.append(f"{rel} does not match its checksum")
    return problems


def verified_files(folder: str | os.PathLike[str], names: Iterable[str], step: str,
                   context: Mapping[str, Any] | None = None) -> dict[str, Path]:
    """Return the paths of ``names`` in a result folder, each listed in its manifest and intact.

    A file on disk that the manifest does not list is a leftover of an earlier run
    (XNAT merges re-runs into one resource) and is refused as missing; a checksum
    that differs means an interrupted or interleaved upload.
    """
    ctx = dict(context or {})
    root = Path(folder)
    manifest = read_manifest(root, step, ctx)
    out = {}
    for name in names:
        entry = manifest["files"].get(name)
        if entry is None:
            stale = " (the file there is left from an earlier run)" if (root / name).exists() else ""
            raise InputDataError(f"{step} output {name} is missing: the latest result "
                                 f"(run {str(manifest.get('run_id', ''))[:12]}) does not list it"
                                 f"{stale}", file=name, **ctx)
        path = root / name
        if not path.is_file():
            raise InputDataError(f"the {step} result is inconsistent: {name} is listed in "
                                 f"{MANIFEST_FILE} but absent; run {step} again", file=name, **ctx)
        if path.stat().st_size != entry.get("size") or file_sha256(path) != entry.get("sha256"):
            raise InputDataError(f"the {step} result is inconsistent: {name} does not match the "
                                 f"checksum in {MANIFEST_FILE} (an interrupted or interleaved "
                                 f"upload?); run {step} again", file=name, **ctx)
        out[name] = path
    return out
