"""Store one de-identified study through the :class:`Archive`, all of it or nothing.

The files are already staged (de-identified, grouped by series) when this runs. A
failure while storing removes the session (and the subject) this call created, so
that the archive never holds half a study.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from sarcoma_xnat.archive.base import Archive
from sarcoma_xnat.archive.refs import ObjectRef
from sarcoma_xnat.ingest.studies import StudyGroup, scan_xsi_type, session_xsi_type

__all__ = ["ROI_XSI_TYPE", "store_study"]

log = logging.getLogger(__name__)

#: XNAT type of OHIF / ROI collection annotations
ROI_XSI_TYPE = "icr:roiCollectionData"


def _iso(date: str) -> str | None:
    return f"{date[:4]}-{date[4:6]}-{date[6:8]}" if len(date) >= 8 and date[:8].isdigit() else None


def store_study(archive: Archive, project: str, study: StudyGroup) -> ObjectRef:
    """Create the subject, session, scans and ROI collections of ``study``; return the session.

    Re-ingesting the same study replaces its resources (the labels are the same).
    On any error the session and subject this call created are deleted again.
    """
    project_ref = ObjectRef(project)
    if not archive.exists(project_ref):
        archive.create(project_ref, "xnat:projectData")
    subject_ref = project_ref.child(subject=study.subject)
    session_ref = subject_ref.child(session=study.session)
    new_subject = not archive.exists(subject_ref)
    new_session = not archive.exists(session_ref)
    try:
        archive.create(subject_ref, "xnat:subjectData")
        date = _iso(study.date)
        archive.create(session_ref, session_xsi_type(study.modality),
                       attrs={"UID": study.uid, "modality": study.modality,
                              **({"date": date} if date else {})})
        scan_ids = study.scan_ids()
        for uid, scan_id in scan_ids.items():
            series = study.series[uid]
            scan_ref = session_ref.child(scan=scan_id)
            archive.create(scan_ref, scan_xsi_type(series.modality), attrs={
                "type": series.description or "unknown", "series_description": series.description,
                "UID": uid, "frames": len(series.files), "modality": series.modality,
                "quality": "usable"})
            archive.store_resource(scan_ref, "DICOM", series.folder, format="DICOM",
                                   content="RAW")
        for uid, label in study.assessor_labels().items():
            _store_roi(archive, session_ref, label, study, uid)
    except BaseException:
        if new_session and archive.exists(session_ref):
            archive.delete(session_ref)
        if new_subject and archive.exists(subject_ref):
            archive.delete(subject_ref)
        raise
    return session_ref


def _store_roi(archive: Archive, session_ref: ObjectRef, label: str, study: StudyGroup,
               uid: str) -> None:
    """Store a SEG or RTSTRUCT series as an ROI collection named ``label``."""
    series = study.series[uid]
    ref = session_ref.child(assessor=label)
    date = _iso(study.date)
    archive.create(ref, ROI_XSI_TYPE, attrs={
        "collectionType": series.modality, "name": series.roi_name, "UID": series.sop_uid,
        "references": sorted(series.references), "imageSession_label": study.session,
        **({"date": date} if date else {})})
    with tempfile.TemporaryDirectory(prefix=".roi-", dir=series.folder.parent) as tmp:
        folder = Path(tmp)
        if len(series.files) == 1:  # one object: named after the collection, as XNAT does
            shutil.copyfile(series.files[0], folder / f"{label}.dcm")
        else:
            for path in series.files:
                shutil.copyfile(path, folder / path.name)
        archive.store_resource(ref, series.modality, folder, format="DICOM", content="EXTERNAL")
