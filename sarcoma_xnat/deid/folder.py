"""De-identify a folder of DICOM files into another folder: the ``deid`` step.

Every file under the input is read, de-identified and written under the output with
a name that carries no PHI: its folders are kept (scrubbed of identifiers) and the
file is named by its new SOP Instance UID. A file that is not DICOM, is truncated or
is refused (burned-in annotation) is reported by name and skipped; the others go on.

XNAT mounts the archive folder itself, so the input also holds XNAT's bookkeeping:
``<label>_catalog.xml`` in every resource folder, ``SNAPSHOTS``, the AIM copy of an
RTSTRUCT (:func:`sarcoma_xnat.steps.xnat_mount.is_bookkeeping`). Those are left out
silently — not de-identified, not copied, not reported as bad files, only counted in
the audit log (``bookkeeping_left_out``); the AIM XML may carry PHI and never reaches
the output. The output ends with ``manifest.json`` (:mod:`sarcoma_xnat.steps.manifest`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sarcoma_xnat.deid.audit import AuditLog
from sarcoma_xnat.deid.collect import StudyValues
from sarcoma_xnat.deid.dicomio import dataset_bytes, read_dicom
from sarcoma_xnat.deid.engine import Deidentifier
from sarcoma_xnat.deid.keys import SiteKey
from sarcoma_xnat.deid.linkage import LinkageFile
from sarcoma_xnat.deid.profile import PROFILE_EDITION
from sarcoma_xnat.deid.scrub import Scrubber
from sarcoma_xnat.errors import DeidentificationError
from sarcoma_xnat.progress import progress
from sarcoma_xnat.steps.base import atomic_output, file_sha256, write_provenance
from sarcoma_xnat.steps.manifest import MANIFEST_FILE, fingerprint, write_manifest
from sarcoma_xnat.steps.xnat_mount import is_bookkeeping

__all__ = ["AUDIT_FILE", "FolderReport", "SkippedFile", "deidentify_folder", "run"]

log = logging.getLogger(__name__)

#: name of the audit log the step writes into its output folder
AUDIT_FILE = "deid-audit.jsonl"
_STEP = "deid"
_OWN_FILES = {"provenance.json", AUDIT_FILE, MANIFEST_FILE}


@dataclass(frozen=True)
class SkippedFile:
    """A file that was not de-identified: its de-identified name (folders, position), and why."""

    file: str
    reason: str


@dataclass
class FolderReport:
    """What :func:`deidentify_folder` did."""

    written: list[Path] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    subjects: set[str] = field(default_factory=set)
    digest: str = ""
    input_digest: str = ""
    bookkeeping: int = 0

    @property
    def ok(self) -> bool:
        """Return whether every file was de-identified."""
        return not self.skipped


#: in a Container Service session mount, the folders that hold DICOM to de-identify;
#: RESOURCES/ holds derived outputs (NIfTI, PNG, JSON) and is left out
_SESSION_DICOM_FOLDERS = ("SCANS", "ASSESSORS")


def _input_files(root: Path) -> tuple[list[Path], int]:
    """Return the files to de-identify and how many XNAT bookkeeping files were left out."""
    tops = [root / name for name in _SESSION_DICOM_FOLDERS if (root / name).is_dir()]
    if not tops:
        tops = [root]
    found = sorted(p for top in tops for p in top.rglob("*")
                   if p.is_file() and not p.name.startswith(".") and p.name not in _OWN_FILES)
    files = [p for p in found if not is_bookkeeping(p, root)]
    return files, len(found) - len(files)


def _safe_parts(parts: tuple[str, ...], scrubber: Scrubber, key: SiteKey) -> list[str]:
    """Return folder names with any that carries an identifier replaced by a keyed code."""
    return [f"D{key.code('path', part)}" if scrubber.is_dirty(part.encode("utf-8")) else part
            for part in parts]


def deidentify_folder(input_dir: str | os.PathLike[str], output_dir: str | os.PathLike[str],
                      deidentifier: Deidentifier, linkage: LinkageFile | None = None,
                      audit: AuditLog | None = None) -> FolderReport:
    """De-identify every file under ``input_dir`` into ``output_dir`` (created).

    A first pass reads every header and pools identifying values per patient and study
    (:class:`~sarcoma_xnat.deid.collect.StudyValues`); the second cleans each file with
    its pool. Files that cannot be de-identified (for any reason) are listed in the
    report's ``skipped`` by a de-identified name (folders scrubbed, ``#`` and their
    position in sorted order) and the run goes on; nothing is written for them.
    """
    src, dest = Path(input_dir), Path(output_dir)
    if not src.is_dir():
        raise DeidentificationError(f"input folder {src} does not exist or is not a folder")
    dest.mkdir(parents=True, exist_ok=True)
    report = FolderReport()
    digest = hashlib.sha256()
    seen: set[Path] = set()
    inputs = hashlib.sha256()
    files, report.bookkeeping = _input_files(src)
    if report.bookkeeping:
        log.debug("left out %d XNAT bookkeeping files (catalogs, snapshots, AIM)",
                  report.bookkeeping)
    pools = StudyValues(files)  # first pass: identifying values per study and patient
    everything = pools.everything()
    for index, path in enumerate(progress(files, desc="de-identifying"), start=1):
        rel = path.relative_to(src)
        inputs.update(rel.as_posix().encode() + b"\0" + bytes.fromhex(file_sha256(path)))
        # a failing file is named by its position and de-identified folders, never its path
        label = "/".join([*_safe_parts(rel.parent.parts, everything, deidentifier.key),
                          f"#{index}"])
        try:
            ds = read_dicom(path, label)
            patient_id = str(ds.get("PatientID", "") or "").strip()
            tokens = pools.scrubber(path)
            result = deidentifier.deidentify(ds, label, tokens)
            target = dest.joinpath(*_safe_parts(rel.parent.parts, tokens, deidentifier.key),
                                   f"{ds.SOPInstanceUID}.dcm")
            data = None if target in seen else dataset_bytes(ds)
        except DeidentificationError as exc:
            log.warning("skipped a file: %s", exc.message)  # names go to the report only
            report.skipped.append(SkippedFile(label, exc.message))
            continue
        except Exception as exc:  # noqa: BLE001 - one bad file must not abort the folder
            reason = f"cannot be de-identified ({type(exc).__name__})"  # no value from the file
            log.warning("skipped a file: %s [file %s]", reason, label)
            report.skipped.append(SkippedFile(label, reason))
            continue
        if data is None:
            report.skipped.append(SkippedFile(label, "duplicate SOP Instance UID"))
            continue
        seen.add(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        digest.update(target.relative_to(dest).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(data).digest())
        report.written.append(target)
        report.counts.update(result.counts)
        report.subjects.add(result.pseudonym)
        if linkage is not None and patient_id:
            linkage.record(result.pseudonym, patient_id)
    report.digest = digest.hexdigest()
    report.input_digest = inputs.hexdigest()
    if audit is not None:
        audit.write("deidentify-folder", files_in=len(files), files_out=len(report.written),
                    skipped=len(report.skipped), bookkeeping_left_out=report.bookkeeping,
                    skipped_reasons=Counter(_reason_kind(s.reason) for s in report.skipped),
                    actions=report.counts, subjects=report.subjects,
                    profile=f"PS3.15-{PROFILE_EDITION}",
                    options=[o.value for o in deidentifier.profile.options],
                    key_fingerprint=deidentifier.key.fingerprint(), output_sha256=report.digest)
    return report


def _reason_kind(reason: str) -> str:
    """Return the kind of a skip reason, without the details (for the audit log)."""
    for kind in ("not a DICOM file", "truncated", "incomplete", "unreadable", "refused",
                 "cannot be de-identified",
                 "duplicate", "no PatientID", "image without pixel data", "empty"):
        if kind in reason:
            return kind
    return "other"


def run(input_dir: str | os.PathLike[str], output_dir: str | os.PathLike[str],
        params: dict[str, Any]) -> FolderReport:
    """Run the ``deid`` step: de-identify ``input_dir`` into ``output_dir`` atomically.

    ``params`` needs ``key`` (a :class:`SiteKey`); optional ``options`` (profile
    options), ``linkage`` (path of the site's linkage file) and ``audit_log`` (an
    extra audit log path; the step always writes ``deid-audit.jsonl`` into its output).
    The output folder holds the de-identified files, the audit log and
    ``provenance.json``. Skipped files are in the returned report.
    """
    started = time.time()
    key: SiteKey = params["key"]
    options = params.get("options")
    deidentifier = Deidentifier(key) if options is None else Deidentifier(key, options)
    linkage = LinkageFile(params["linkage"], key) if params.get("linkage") else None
    if linkage is not None:
        linkage.check_key()  # another secret would split patients: refuse before any work
    with atomic_output(output_dir) as staging:
        audit = AuditLog(staging / AUDIT_FILE)
        report = deidentify_folder(input_dir, staging, deidentifier, linkage, audit)
        if params.get("audit_log"):
            AuditLog(params["audit_log"]).write(**{"event": "deidentify-folder",
                                                   **{k: v for k, v in audit.records[-1].items()
                                                      if k not in ("event", "time", "tool")}})
        write_provenance(
            staging, _STEP, f"PS3.15-{PROFILE_EDITION}",
            params={"options": [o.value for o in deidentifier.profile.options],
                    "pseudonym_prefix": key.prefix},
            inputs={"files": len(report.written) + len(report.skipped),
                    "skipped": len(report.skipped)},
            started=started,
            extra={"key_fingerprint": key.fingerprint(), "output_sha256": report.digest,
                   "subjects": sorted(report.subjects)})
        write_manifest(staging, _STEP, f"PS3.15-{PROFILE_EDITION}", fingerprint(
            {"inputs": report.input_digest, "key": key.fingerprint(), "prefix": key.prefix,
             "options": [o.value for o in deidentifier.profile.options]}),
            unverified=("provenance.json", AUDIT_FILE))  # both carry run times
    final = Path(output_dir).resolve()
    report.written = [final / p.relative_to(staging) for p in report.written]
    return report
