"""Ingest a folder of DICOM files: de-identify, group into studies, store through an archive.

Stage, then store: every file is de-identified into a temporary folder first. A study
with a file that could not be read or was refused is not stored at all (a missing
slice is a broken series); the other studies go on. Files whose study cannot even be
told are reported as skipped.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
from pydicom.errors import InvalidDicomError

from sarcoma_xnat.archive.base import Archive
from sarcoma_xnat.archive.refs import ObjectRef
from sarcoma_xnat.deid.audit import AuditLog
from sarcoma_xnat.deid.dicomio import dataset_bytes, read_dicom
from sarcoma_xnat.deid.engine import Deidentifier
from sarcoma_xnat.deid.folder import SkippedFile
from sarcoma_xnat.deid.linkage import LinkageFile
from sarcoma_xnat.deid.profile import PROFILE_EDITION
from sarcoma_xnat.errors import ArchiveError, DeidentificationError
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


def ingest_folder(source: str | os.PathLike[str], archive: Archive, project: str,
                  deidentifier: Deidentifier, linkage: LinkageFile | None = None,
                  audit: AuditLog | None = None) -> IngestReport:
    """De-identify every DICOM file under ``source`` and store each study in ``project``.

    Subject labels are the patients' pseudonyms and session labels are keyed study
    codes (see :meth:`SiteKey.session_label`); scans are keyed by Series Number with
    resource ``DICOM``; SEG and RTSTRUCT series become ROI collections.
    """
    src = Path(source)
    if not src.is_dir():
        raise ArchiveError(f"ingest source {src} does not exist or is not a folder")
    key = deidentifier.key
    report = IngestReport()
    studies: dict[str, StudyGroup] = {}
    counts: Counter[str] = Counter()
    from sarcoma_xnat.steps.xnat_mount import is_bookkeeping

    # an XNAT session mount also holds catalogs, snapshots and AIM copies: not studies
    files = sorted(p for p in src.rglob("*") if p.is_file() and not p.name.startswith(".")
                   and not is_bookkeeping(p, src))
    with tempfile.TemporaryDirectory(prefix="sarcoma-ingest-") as tmp:
        staging = Path(tmp)
        pending: dict[str, list[str]] = {}  # new study UID -> failures seen before its first file
        for index, path in enumerate(progress(files, desc="de-identifying"), 1):
            # named by its position among the sorted input files: export folders and file
            # names may carry the patient's name, so the input path never reaches a message
            rel = f"#{index}"
            try:
                ds = read_dicom(path, rel)
                for keyword in ("StudyInstanceUID", "SeriesInstanceUID"):
                    if not ds.get(keyword):
                        raise DeidentificationError(f"no {keyword}: cannot tell its study",
                                                    file=rel)
                study_uid = key.uid(str(ds.StudyInstanceUID))
                patient_id = str(ds.get("PatientID", "") or "").strip()
                result = deidentifier.deidentify(ds, rel)
            except DeidentificationError as exc:
                hint = _study_hint(path)
                if hint is None:
                    report.skipped.append(SkippedFile(rel, exc.message))
                    log.warning("skipped a file: %s", exc.message)  # names: report only
                else:
                    pending.setdefault(key.uid(hint), []).append(f"{rel}: {exc.message}")
                continue
            study = studies.get(study_uid)
            if study is None:
                subject = result.pseudonym
                study = studies[study_uid] = StudyGroup(
                    uid=study_uid, subject=subject, session="",
                    date=str(ds.get("StudyDate", "") or ""))
            folder = staging / key.code("study", study_uid) / key.code("series",
                                                                       str(ds.SeriesInstanceUID))
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / f"{ds.SOPInstanceUID}.dcm"
            target.write_bytes(dataset_bytes(ds))
            study.add(ds, target, folder)
            counts.update(result.counts)
            if linkage is not None:
                linkage.record(result.pseudonym, patient_id)
        for uid, reasons in pending.items():
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
                    skipped=len(report.skipped), actions=counts,
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
