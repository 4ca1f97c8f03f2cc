"""Ingest a folder of DICOM files: de-identify, group into studies, store through an archive.

Stage, then store: the whole folder is de-identified into a temporary folder first by
:func:`~sarcoma_xnat.deid.folder.deidentify_folder`, which pools the identifying
values of every study and patient before cleaning any file (a referring physician
named in one series is scrubbed from another series' description) and uses ``jobs``
worker processes. A study with a file that could not be read or was refused is not
stored at all (a missing slice is a broken series); the other studies go on. Files
whose study cannot even be told are reported as skipped. Files are named in messages
by their position among the sorted input files (``#3``), never by their path.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
from pydicom.errors import InvalidDicomError

from sarcoma_xnat.archive.base import Archive
from sarcoma_xnat.archive.refs import ObjectRef
from sarcoma_xnat.deid.audit import AuditLog
from sarcoma_xnat.deid.engine import Deidentifier
from sarcoma_xnat.deid.folder import SkippedFile, deidentify_folder
from sarcoma_xnat.deid.linkage import LinkageFile
from sarcoma_xnat.deid.profile import PROFILE_EDITION
from sarcoma_xnat.errors import ArchiveError
from sarcoma_xnat.ingest.studies import StudyGroup
from sarcoma_xnat.ingest.store import store_study
from sarcoma_xnat.progress import progress

__all__ = ["FailedStudy", "IngestReport", "ingest_folder"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FailedStudy:
    """A study that was not stored: its session label (a pseudonym) and the reasons."""

    session: str
    reasons: tuple[str, ...]


@dataclass
class IngestReport:
    """What an ingestion did: sessions stored, studies failed, files skipped, counts."""

    stored: list[ObjectRef] = field(default_factory=list)
    failed: list[FailedStudy] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    series: int = 0
    files: int = 0

    @property
    def ok(self) -> bool:
        """Return whether everything found was stored."""
        return not self.failed and not self.skipped

    def summary(self) -> str:
        """Return a one-line summary (no PHI: labels are pseudonyms)."""
        return (f"stored {len(self.stored)} studies ({self.series} series, {self.files} files); "
                f"failed {len(self.failed)} studies; skipped {len(self.skipped)} files")


def _study_hint(path: Path) -> str | None:
    """Return the StudyInstanceUID of an unreadable file if its header gives it, else None."""
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, force=True,
                             specific_tags=["StudyInstanceUID", "PatientID"])
        uid = str(ds.get("StudyInstanceUID", "") or "").strip()
        return uid if uid and ds.get("PatientID") else None
    except (InvalidDicomError, EOFError, OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _link(files: list[Path], inbox: Path) -> None:
    """Put every input file in ``inbox`` under its position (``0000001``), without copying."""
    inbox.mkdir()
    for index, path in enumerate(files, 1):
        name = inbox / f"{index:07d}"
        try:
            os.link(path, name)  # same file system: a second name of the same file
        except OSError:
            os.symlink(path.resolve(), name)


def _position(label: str) -> int | None:
    """Return the input position a skipped file's label ends with (``#12`` -> 12)."""
    match = re.search(r"#(\d+)$", label)
    return int(match.group(1)) if match else None


def ingest_folder(source: str | os.PathLike[str], archive: Archive, project: str,
                  deidentifier: Deidentifier, linkage: LinkageFile | None = None,
                  audit: AuditLog | None = None, jobs: int | None = None) -> IngestReport:
    """De-identify every DICOM file under ``source`` and store each study in ``project``.

    Subject labels are the patients' pseudonyms and session labels are keyed study
    codes (see :meth:`SiteKey.session_label`); scans are keyed by Series Number with
    resource ``DICOM``; SEG and RTSTRUCT series become ROI collections. De-identification
    runs in ``jobs`` worker processes (default: every core) with the values pooled per
    study and patient; the stored files are the same whatever ``jobs`` is.
    """
    src = Path(source)
    if not src.is_dir():
        raise ArchiveError(f"ingest source {src} does not exist or is not a folder")
    key = deidentifier.key
    report = IngestReport()
    studies: dict[str, StudyGroup] = {}
    from sarcoma_xnat.steps.xnat_mount import is_bookkeeping

    # an XNAT session mount also holds catalogs, snapshots and AIM copies: not studies
    files = sorted(p for p in src.rglob("*") if p.is_file() and not p.name.startswith(".")
                   and not is_bookkeeping(p, src))
    with tempfile.TemporaryDirectory(prefix="sarcoma-ingest-") as tmp:
        inbox, cleaned, staging = Path(tmp, "in"), Path(tmp, "deid"), Path(tmp, "staged")
        _link(files, inbox)  # flat and named by position: a skipped file's label is "#N"
        done = deidentify_folder(inbox, cleaned, deidentifier, linkage, audit, jobs)
        pending: dict[str, list[str]] = {}  # original study UID -> failures of its files
        gone = {_position(s.file) for s in done.skipped}
        # written in input order: the n-th output is the n-th input that was not skipped
        kept = [f"#{i}" for i in range(1, len(files) + 1) if i not in gone]
        names = kept if len(kept) == len(done.written) else ["a file"] * len(done.written)
        for skipped in done.skipped:
            index = _position(skipped.file)
            hint = _study_hint(files[index - 1]) if index and index <= len(files) else None
            name = f"#{index}" if index else skipped.file
            if hint is None:
                report.skipped.append(SkippedFile(name, skipped.reason))
                log.warning("skipped a file: %s", skipped.reason)  # names: report only
            else:
                pending.setdefault(hint, []).append(f"{name}: {skipped.reason}")
        for name, path in zip(names, progress(done.written, desc="staging")):
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            missing = [k for k in ("StudyInstanceUID", "SeriesInstanceUID") if not ds.get(k)]
            if missing:
                report.skipped.append(SkippedFile(name, f"no {missing[0]}: cannot tell its study"))
                continue
            study_uid = str(ds.StudyInstanceUID)
            study = studies.get(study_uid)
            if study is None:
                study = studies[study_uid] = StudyGroup(
                    uid=study_uid, subject=str(ds.PatientID), session="",
                    date=str(ds.get("StudyDate", "") or ""))
            folder = staging / key.code("study", study_uid) / key.code(
                "series", str(ds.SeriesInstanceUID))
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / path.name
            os.replace(path, target)
            study.add(ds, target, folder)
        for hint, reasons in pending.items():
            # the output's Study Instance UID: keyed (the default) or kept (Retain UIDs)
            uid = next((u for u in (key.uid(hint), hint) if u in studies), key.uid(hint))
            if uid in studies:
                studies[uid].failures.extend(reasons)
            else:
                report.failed.append(FailedStudy(f"(study {key.code('study', uid)})",
                                                 tuple(reasons)))
        for study in studies.values():  # labelled by the study's main image modality
            study.session = key.session_label(study.subject, study.uid, study.modality)
        for study in progress(list(studies.values()), desc="storing studies"):
            _store(archive, project, study, report)
    if audit is not None:
        audit.write("ingest", project=project, studies_stored=len(report.stored),
                    studies_failed=len(report.failed), series=report.series, files=report.files,
                    skipped=len(report.skipped), actions=done.counts,
                    sessions=[ref.session for ref in report.stored],
                    profile=f"PS3.15-{PROFILE_EDITION}",
                    options=[o.value for o in deidentifier.profile.options],
                    key_fingerprint=key.fingerprint())
    return report


def _store(archive: Archive, project: str, study: StudyGroup, report: IngestReport) -> None:
    """Store one staged study unless it failed; record the outcome in ``report``."""
    if study.failures:
        log.warning("study %s not stored: %d file(s) failed", study.session, len(study.failures))
        report.failed.append(FailedStudy(study.session, tuple(study.failures)))
        return
    try:
        ref = store_study(archive, project, study)
    except (ArchiveError, OSError) as exc:
        log.warning("study %s not stored: %s", study.session, exc)
        report.failed.append(FailedStudy(study.session, (f"storing failed: {exc}",)))
        return
    report.stored.append(ref)
    report.series += len(study.series)
    report.files += sum(len(s.files) for s in study.series.values())
