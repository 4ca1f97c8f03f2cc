"""Ingestion: from a folder or a PACS (C-FIND/C-MOVE) to the archive, de-identified.

Stage, then store: a study is de-identified completely into a temporary folder before
anything of it reaches the archive, and a study that fails is not stored at all.
Subject labels are pseudonyms; session labels are keyed study codes.
"""

from sarcoma_xnat.ingest.archive import ingest_archive
from sarcoma_xnat.ingest.folder import FailedStudy, IngestReport, ingest_folder
from sarcoma_xnat.ingest.pacs import PacsNode, StudyQuery, find_studies, ingest_pacs, move_studies
from sarcoma_xnat.ingest.store import ROI_XSI_TYPE, store_study
from sarcoma_xnat.ingest.studies import SeriesGroup, StudyGroup

__all__ = [
    "FailedStudy",
    "IngestReport",
    "PacsNode",
    "ROI_XSI_TYPE",
    "SeriesGroup",
    "StudyGroup",
    "StudyQuery",
    "find_studies",
    "ingest_archive",
    "ingest_folder",
    "ingest_pacs",
    "move_studies",
    "store_study",
]
