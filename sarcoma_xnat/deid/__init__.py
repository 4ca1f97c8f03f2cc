"""De-identification: the PS3.15 Annex E profile, pseudonyms, UID remap, linkage and audit.

The profile is package data (``data/ps3.15-e1-1.csv``, edition in ``data/README.md``);
:class:`Deidentifier` applies it to a dataset under a :class:`SiteKey` (HMAC-SHA512/256
of the site secret), :func:`deidentify_folder` to a folder, and :func:`run` is the
``deid`` step. Nothing here logs PHI.
"""

from sarcoma_xnat.deid.audit import AuditLog
from sarcoma_xnat.deid.burned_in import check_burned_in
from sarcoma_xnat.deid.dicomio import dataset_bytes, read_dicom
from sarcoma_xnat.deid.engine import DeidResult, Deidentifier
from sarcoma_xnat.deid.folder import FolderReport, SkippedFile, deidentify_folder, run
from sarcoma_xnat.deid.keys import SECRET_ENV, SiteKey, load_secret
from sarcoma_xnat.deid.linkage import LinkageFile
from sarcoma_xnat.deid.profile import DEFAULT_OPTIONS, PROFILE_EDITION, Option, compile_profile
from sarcoma_xnat.deid.verify import PhiHit, find_phi

__all__ = [
    "AuditLog",
    "DEFAULT_OPTIONS",
    "DeidResult",
    "Deidentifier",
    "FolderReport",
    "LinkageFile",
    "Option",
    "PROFILE_EDITION",
    "PhiHit",
    "SECRET_ENV",
    "SiteKey",
    "SkippedFile",
    "check_burned_in",
    "compile_profile",
    "dataset_bytes",
    "deidentify_folder",
    "find_phi",
    "load_secret",
    "read_dicom",
    "run",
]
