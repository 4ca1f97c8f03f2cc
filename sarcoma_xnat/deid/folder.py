"""De-identify a folder of DICOM files into another folder: the ``deid`` step.

Every file under the input is read, de-identified and written under the output with
a name that carries no PHI: its folders are kept (scrubbed of identifiers) and the
file is named by its new SOP Instance UID. A file that is not DICOM, is truncated or
is refused (burned-in annotation) is reported by name and skipped; the others go on.
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
from sarcoma_xnat.deid.dicomio import dataset_bytes, read_dicom
from sarcoma_xnat.deid.engine import Deidentifier
from sarcoma_xnat.deid.keys import SiteKey
from sarcoma_xnat.deid.linkage import LinkageFile
from sarcoma_xnat.deid.profile import PROFILE_EDITION
from sarcoma_xnat.deid.scrub import Scrubber, identifying_tokens
from sarcoma_xnat.errors import DeidentificationError
from sarcoma_xnat.progress import progress
from sarcoma_xnat.steps.base import atomic_output, write_provenance

__all__ = ["AUDIT_FILE", "FolderReport", "SkippedFile", "deidentify_folder", "run"]

log = logging.getLogger(__name__)

#: name of the audit log the step writes into its output folder
AUDIT_FILE = "deid-audit.jsonl"
_STEP = "deid"
_OWN_FILES = {"provenance.json", AUDIT_FILE}


@dataclass(frozen=True)
class SkippedFile:
    """A file that was not de-identified: its path relative to the input, and why."""

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

    @property
    def ok(self) -> bool:
        """Return whether every file was de-identified."""
        return not self.skipped


#: in a Container Service session mount, the folders that hold DICOM to de-identify;
#: RESOURCES/ holds derived outputs (NIfTI, PNG, JSON) and is left out
_SESSION_DICOM_FOLDERS = ("SCANS", "ASSESSORS")


def _input_files(root: Path) -> list[Path]:
    tops = [root / name for name in _SESSION_DICOM_FOLDERS if (root / name).is_dir()]
    if not tops:
        tops = [root]
    return sorted(p for top in tops for p in top.rglob("*")
                  if p.is_file() and not p.name.startswith(".") and p.name not in _OWN_FILES)


def _safe_parts(parts: tuple[str, ...], scrubber: Scrubber, key: SiteKey) -> list[str]:
    """Return folder names with any that carries an identifier replaced by a keyed code."""
    return [f"D{key.code('path', part)}" if scrubber.is_dirty(part.encode("utf-8")) else part
            for part in parts]


def deidentify_folder(input_dir: str | os.PathLike[str], output_dir: str | os.PathLike[str],
                      deidentifier: Deidentifier, linkage: LinkageFile | None = None,
                      audit: AuditLog | None = None) -> FolderReport:
    """De-identify every file under ``input_dir`` into ``output_dir`` (created).

    Files that cannot be de-identified are listed in the report's ``skipped`` and
    logged by their path relative to ``input_dir``; nothing is written for them.
    """
    src, dest = Path(input_dir), Path(output_dir)
    if not src.is_dir():
        raise DeidentificationError(f"input folder {src} does not exist or is not a folder")
    dest.mkdir(parents=True, exist_ok=True)
    report = FolderReport()
    digest = hashlib.sha256()
    seen: set[Path] = set()
    files = _input_files(src)
    for path in progress(files, desc="de-identifying"):
        rel = path.relative_to(src)
        try:
            ds = read_dicom(path, rel.as_posix())
            patient_id = str(ds.get("PatientID", "") or "").strip()
            tokens = Scrubber(identifying_tokens(ds))
            result = deidentifier.deidentify(ds, rel.as_posix(), tokens)
        except DeidentificationError as exc:
            log.warning("skipped a file: %s", exc.message)  # names go to the report only
            report.skipped.append(SkippedFile(rel.as_posix(), exc.message))
            continue
        target = dest.joinpath(*_safe_parts(rel.parent.parts, tokens, deidentifier.key),
                               f"{ds.SOPInstanceUID}.dcm")
        if target in seen:
            report.skipped.append(SkippedFile(rel.as_posix(), "duplicate SOP Instance UID"))
            continue
        seen.add(target)
        data = dataset_bytes(ds)
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
    if audit is not None:
        audit.write("deidentify-folder", files_in=len(files), files_out=len(report.written),
                    skipped=len(report.skipped),
                    skipped_reasons=Counter(_reason_kind(s.reason) for s in report.skipped),
                    actions=report.counts, subjects=report.subjects,
                    profile=f"PS3.15-{PROFILE_EDITION}",
                    options=[o.value for o in deidentifier.profile.options],
                    key_fingerprint=deidentifier.key.fingerprint(), output_sha256=report.digest)
    return report


def _reason_kind(reason: str) -> str:
    """Return the kind of a skip reason, without the details (for the audit log)."""
    for kind in ("not a DICOM file", "truncated", "incomplete", "unreadable", "refused",
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
    final = Path(output_dir).resolve()
    report.written = [final / p.relative_to(staging) for p in report.written]
    return report
