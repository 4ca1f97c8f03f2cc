"""Ingest from another archive: export its sessions' DICOM, then ingest them de-identified.

This is how the demo moves the synthetic "hospital" cohort (full of planted PHI) into
the study's archive: the same path as a folder of manual exports, plus the subjects'
clinical custom fields, which carry no identifiers, copied onto the pseudonymised
subjects.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path

from sarcoma_xnat.archive.base import Archive
from sarcoma_xnat.archive.refs import ObjectRef
from sarcoma_xnat.deid.audit import AuditLog
from sarcoma_xnat.deid.engine import Deidentifier
from sarcoma_xnat.deid.linkage import LinkageFile
from sarcoma_xnat.ingest.folder import IngestReport, ingest_folder

__all__ = ["ingest_archive"]


def ingest_archive(source: Archive, source_project: str, dest: Archive, dest_project: str,
                   deidentifier: Deidentifier, fields: Iterable[str] | None = None,
                   linkage: LinkageFile | None = None,
                   audit: AuditLog | None = None) -> IngestReport:
    """De-identify every session of ``source_project`` into ``dest_project`` of ``dest``.

    Parameters
    ----------
    source, source_project : Archive, str
        Where the identified data are (e.g. a synthetic cohort).
    dest, dest_project : Archive, str
        Where the de-identified sessions go (subject label = pseudonym).
    deidentifier : Deidentifier
        Engine with the site key.
    fields : iterable of str, optional
        Subject custom fields to copy onto the pseudonymised subject (e.g. the clinical
        variables). Default: none. Only copy fields known to carry no identifiers.
    """
    wanted = tuple(fields or ())
    copied: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="sarcoma-export-") as tmp:
        export = Path(tmp)
        for subject in source.children(ObjectRef(source_project), "subject"):
            values = {k: v for k, v in subject.fields.items() if k in wanted}
            for session in source.children(subject.ref, "session"):
                for child in (source.children(session.ref, "scan")
                              + source.children(session.ref, "assessor")):
                    for resource in source.resources(child.ref):
                        if resource.format not in (None, "DICOM"):
                            continue
                        folder = export / f"{len(list(export.iterdir())):06d}"
                        source.fetch_resource(child.ref, resource.label, folder)
                        if values:
                            copied[str(folder)] = values
        report = ingest_folder(export, dest, dest_project, deidentifier, linkage, audit)
        if wanted:
            _copy_fields(export, copied, dest, dest_project, deidentifier)
    return report


def _copy_fields(export: Path, copied: dict[str, dict[str, str]], dest: Archive, project: str,
                 deidentifier: Deidentifier) -> None:
    """Set the copied fields on each pseudonymised subject (found from a file's PatientID)."""
    import pydicom

    for folder, values in copied.items():
        files = sorted(Path(folder).rglob("*.dcm"))
        if not files:
            continue
        patient_id = str(pydicom.dcmread(files[0], stop_before_pixels=True,
                                         specific_tags=["PatientID"]).get("PatientID", ""))
        if not patient_id:
            continue
        ref = ObjectRef(project, deidentifier.key.pseudonym(patient_id))
        if dest.exists(ref):
            dest.set_fields(ref, values)
