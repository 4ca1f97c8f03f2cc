"""Pull studies from a PACS over DICOM: C-FIND to query, C-MOVE to retrieve (pynetdicom).

For C-MOVE the PACS sends the instances to a Storage SCP; this module runs one for
the duration of the retrieval, on ``listen_port``, under the calling AE title. The
PACS must know that AE title with this host and port (e.g. Orthanc's
``DicomModalities``). Queries and logs never carry patient names; PatientIDs go to
the PACS only, never into a log line.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset
from pynetdicom import AE, AllStoragePresentationContexts, evt
from pynetdicom.sop_class import (StudyRootQueryRetrieveInformationModelFind,
                                  StudyRootQueryRetrieveInformationModelMove)

from sarcoma_xnat.archive.base import Archive
from sarcoma_xnat.deid.audit import AuditLog
from sarcoma_xnat.deid.engine import Deidentifier
from sarcoma_xnat.deid.linkage import LinkageFile
from sarcoma_xnat.errors import PacsError
from sarcoma_xnat.ingest.folder import IngestReport, ingest_folder

__all__ = ["PacsNode", "StudyQuery", "find_studies", "ingest_pacs", "move_studies"]

log = logging.getLogger(__name__)
_OK, _PENDING = 0x0000, (0xFF00, 0xFF01)


@dataclass(frozen=True)
class PacsNode:
    """A DICOM peer: host, port and AE title."""

    host: str
    port: int
    ae_title: str


@dataclass(frozen=True)
class StudyQuery:
    """What to look for: any of PatientID, StudyInstanceUID, a StudyDate (range), a modality."""

    patient_id: str = ""
    study_uid: str = ""
    study_date: str = ""
    modality: str = ""


def _associate(node: PacsNode, calling_ae: str, context: str, timeout: float) -> object:
    ae = AE(ae_title=calling_ae)
    ae.add_requested_context(context)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
    assoc = ae.associate(node.host, node.port, ae_title=node.ae_title)
    if not assoc.is_established:
        raise PacsError(f"cannot associate with {node.ae_title} at {node.host}:{node.port} "
                        f"(calling AE {calling_ae})")
    return assoc


def find_studies(node: PacsNode, query: StudyQuery, calling_ae: str = "SARCOMAXNAT",
                 timeout: float = 30) -> list[Dataset]:
    """Return the study-level C-FIND matches (StudyInstanceUID, StudyDate, modalities, count)."""
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.PatientID = query.patient_id
    identifier.StudyInstanceUID = query.study_uid
    identifier.StudyDate = query.study_date
    identifier.ModalitiesInStudy = query.modality
    identifier.NumberOfStudyRelatedInstances = ""
    assoc = _associate(node, calling_ae, StudyRootQueryRetrieveInformationModelFind, timeout)
    matches = []
    try:
        for status, found in assoc.send_c_find(identifier,
                                               StudyRootQueryRetrieveInformationModelFind):
            code = getattr(status, "Status", None)
            if code is None:
                raise PacsError(f"C-FIND to {node.ae_title}: no response (timeout, or the PACS "
                                f"aborted; does it know calling AE {calling_ae}?)")
            if code in _PENDING and found is not None:
                matches.append(found)
            elif code != _OK:
                raise PacsError(f"C-FIND to {node.ae_title} failed with status 0x{code:04X}")
    finally:
        assoc.release()
    log.info("C-FIND on %s: %d matching studies", node.ae_title, len(matches))
    return matches


def move_studies(node: PacsNode, study_uids: list[str], dest: str | os.PathLike[str],
                 calling_ae: str = "SARCOMAXNAT", listen_port: int = 11113,
                 listen_host: str = "0.0.0.0", timeout: float = 120) -> int:
    """Retrieve studies with C-MOVE into folder ``dest`` (one sub-folder a study); return files.

    Raises
    ------
    PacsError
        When the PACS refuses, a sub-operation fails, or fewer files arrive than it
        reported as completed.
    """
    root = Path(dest)
    root.mkdir(parents=True, exist_ok=True)
    lock = threading.Lock()
    received = {"n": 0}
    current = {"dir": root}

    def on_store(event: evt.Event) -> int:
        ds = event.dataset
        ds.file_meta = event.file_meta
        with lock:
            received["n"] += 1
            path = current["dir"] / f"{received['n']:06d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        return _OK

    scp = AE(ae_title=calling_ae)
    scp.supported_contexts = AllStoragePresentationContexts
    scp.network_timeout = timeout
    try:
        server = scp.start_server((listen_host, listen_port), block=False,
                                  evt_handlers=[(evt.EVT_C_STORE, on_store)])
    except OSError as exc:
        raise PacsError(f"cannot listen for C-MOVE on port {listen_port}: {exc.strerror}") from None
    try:
        assoc = _associate(node, calling_ae, StudyRootQueryRetrieveInformationModelMove, timeout)
        try:
            for index, uid in enumerate(study_uids, 1):
                current["dir"] = root / f"study{index:04d}"
                current["dir"].mkdir(exist_ok=True)
                _move_one(assoc, node, uid, calling_ae, index)
        finally:
            assoc.release()
    finally:
        server.shutdown()
    return received["n"]


def _move_one(assoc: object, node: PacsNode, study_uid: str, calling_ae: str, index: int) -> None:
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.StudyInstanceUID = study_uid
    last = None
    for status, _ in assoc.send_c_move(identifier, calling_ae,  # type: ignore[attr-defined]
                                       StudyRootQueryRetrieveInformationModelMove):
        if status is None or "Status" not in status:
            raise PacsError(f"C-MOVE of study #{index} from {node.ae_title}: no response")
        last = status
    code = int(last.Status) if last is not None else -1
    failed = int(last.get("NumberOfFailedSuboperations", 0) or 0) if last is not None else 0
    if code != _OK or failed:
        raise PacsError(f"C-MOVE of study #{index} from {node.ae_title} to {calling_ae} failed: "
                        f"status 0x{code & 0xFFFF:04X}, {failed} failed sub-operations (does the "
                        f"PACS know AE {calling_ae} with this host and port?)")


def ingest_pacs(node: PacsNode, query: StudyQuery, archive: Archive, project: str,
                deidentifier: Deidentifier, calling_ae: str = "SARCOMAXNAT",
                listen_port: int = 11113, work_dir: str | os.PathLike[str] | None = None,
                linkage: LinkageFile | None = None, audit: AuditLog | None = None,
                timeout: float = 120, jobs: int | None = None) -> IngestReport:
    """Find studies with C-FIND, retrieve them with C-MOVE, then ingest them de-identified.

    ``jobs`` is the number of de-identification worker processes (default: every core).
    """
    import tempfile

    matches = find_studies(node, query, calling_ae, timeout)
    uids = sorted({str(m.StudyInstanceUID) for m in matches if m.get("StudyInstanceUID")})
    if not uids:  # an error, not "0 studies": the query was wrong or the PACS lacks the data
        asked = ", ".join(k for k, v in vars(query).items() if v) or "no criteria"
        raise PacsError(f"C-FIND to {node.ae_title} at {node.host}:{node.port} found no study "
                        f"matching the query ({asked}); nothing was retrieved or stored")
    with tempfile.TemporaryDirectory(prefix="sarcoma-pacs-", dir=work_dir) as tmp:
        move_studies(node, uids, tmp, calling_ae, listen_port, timeout=timeout)
        report = ingest_folder(tmp, archive, project, deidentifier, linkage, audit, jobs)
    return report
