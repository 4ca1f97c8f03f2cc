"""Find scans and ROI collections in a session folder laid out like a Container Service mount.

The layout is ``SCANS/<scan id>/<resource label>/...`` and
``ASSESSORS/<assessor label>/<resource label>/...`` (see :mod:`sarcoma_xnat.steps.base`).
Scan types are not in the mount; a caller that knows them (the archive) passes them in.
XNAT's bookkeeping files in the mount (catalogs, ``SNAPSHOTS``, the AIM copy of an
RTSTRUCT; see :mod:`sarcoma_xnat.steps.xnat_mount`) are left out.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydicom import dcmread
from pydicom.errors import InvalidDicomError

from sarcoma_xnat.errors import AnnotationError, ConfigurationError, InputDataError
from sarcoma_xnat.imaging.dicom_slices import list_dicom_files
from sarcoma_xnat.imaging.roi import ROI_KINDS, annotation_kind
from sarcoma_xnat.imaging.selection import ScanCandidate
from sarcoma_xnat.steps.xnat_mount import is_bookkeeping

__all__ = ["RoiFile", "ScanFolder", "choose_roi", "data_files", "find_roi_files", "scan_catalog"]

#: resource labels that hold a scan's DICOM, in order of preference
DICOM_RESOURCES = ("DICOM", "secondary")


@dataclass(frozen=True)
class ScanFolder:
    """One scan of the session: where its DICOM files are and what selection sees."""

    folder: Path
    candidate: ScanCandidate

    @property
    def scan_id(self) -> str:
        """Return the scan ID."""
        return self.candidate.scan_id


@dataclass(frozen=True)
class RoiFile:
    """An annotation file (SEG or RTSTRUCT) of an ROI collection assessor."""

    assessor: str
    kind: str
    path: Path

    def named(self, label: str) -> bool:
        """Return whether this file belongs to ROI collection ``label``.

        XNAT names the folder after the assessor's archive directory and the ROI
        plugin names the file ``<collection label>.dcm`` (events-and-roi.md §4.1),
        so either may carry the label.
        """
        return label in (self.assessor, self.path.stem)


def data_files(folder: str | os.PathLike[str]) -> list[Path]:
    """List the candidate DICOM files below ``folder``, XNAT's bookkeeping files left out."""
    return [p for p in list_dicom_files(folder) if not is_bookkeeping(p, folder)]


def _header(files: list[Path]) -> tuple[str, str, float | None]:
    """Return SeriesDescription, SeriesInstanceUID and SliceThickness (mm) of a series."""
    for path in files:
        try:
            ds = dcmread(path, stop_before_pixels=True,
                         specific_tags=["SeriesDescription", "SeriesInstanceUID", "SliceThickness"])
        except (InvalidDicomError, OSError, ValueError, EOFError):
            continue
        try:
            thickness = float(ds.get("SliceThickness")) or None
        except (TypeError, ValueError):
            thickness = None
        return (str(ds.get("SeriesDescription", "") or ""),
                str(ds.get("SeriesInstanceUID", "") or ""), thickness)
    return "", "", None


def scan_catalog(input_dir: str | os.PathLike[str],
                 scan_types: Mapping[str, str] | None = None) -> list[ScanFolder]:
    """List the session's scans that have DICOM files, in scan-ID order."""
    scans_dir = Path(input_dir) / "SCANS"
    if not scans_dir.is_dir():
        raise InputDataError(f"no SCANS folder in the input folder {Path(input_dir).name}")
    out = []
    for scan in sorted((p for p in scans_dir.iterdir() if p.is_dir() and not p.name.startswith(".")),
                       key=lambda p: (0, int(p.name), p.name) if p.name.isdigit() else (1, 0, p.name)):
        folder = next((scan / label for label in DICOM_RESOURCES if (scan / label).is_dir()), None)
        if folder is None:
            continue
        files = data_files(folder)
        if not files:
            continue
        description, uid, thickness = _header(files)
        scan_type = (scan_types or {}).get(scan.name, "")
        out.append(ScanFolder(folder, ScanCandidate(scan.name, scan_type, description, uid,
                                                    thickness)))
    return out


def find_roi_files(input_dir: str | os.PathLike[str]) -> list[RoiFile]:
    """List the SEG and RTSTRUCT files under ``ASSESSORS/``, sorted by assessor and path."""
    root = Path(input_dir) / "ASSESSORS"
    if not root.is_dir():
        return []
    out = []
    for assessor in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for path in data_files(assessor):
            kind = annotation_kind(path)
            if kind is not None:
                out.append(RoiFile(assessor.name, kind, path))
    return out


def _ai_draft(path: Path) -> bool:
    """Return whether an annotation file says it was made automatically (an AI draft)."""
    from sarcoma_xnat.segmentation.dicomseg import is_ai_draft

    try:
        return is_ai_draft(dcmread(path, stop_before_pixels=True))
    except (InvalidDicomError, OSError, ValueError, EOFError):
        return False


def choose_roi(rois: list[RoiFile], prefer: str = "SEG", assessor: str | None = None,
               context: Mapping[str, Any] | None = None) -> RoiFile | None:
    """Pick the annotation to use: the preferred kind first, then the other; ``None`` if none.

    With ``assessor`` only that ROI collection (see :meth:`RoiFile.named`) is considered,
    and it must exist. Otherwise AI drafts (SEG/RTSTRUCT made ``AUTOMATIC``) are left
    out when the session has a reviewed (human) annotation.
    Two collections of the chosen kind are ambiguous (name one with ``assessor``).
    """
    ctx = dict(context or {})
    prefer = prefer.upper()
    if prefer not in ROI_KINDS:
        raise ConfigurationError(f"ROI collection type must be one of {ROI_KINDS}, got {prefer!r}")
    if assessor is not None:
        rois = [r for r in rois if r.named(assessor)]
        if not rois:
            raise AnnotationError(f"ROI collection {assessor!r} not found or holds no SEG/RTSTRUCT",
                                  assessor=assessor, **ctx)
    reviewed = [r for r in rois if not _ai_draft(r.path)]
    if reviewed and assessor is None:
        rois = reviewed  # a reviewed annotation wins over an AI draft (segment step)
    order = [prefer] + [k for k in ROI_KINDS if k != prefer]
    for kind in order:
        hits = [r for r in rois if r.kind == kind]
        if len(hits) > 1:
            listing = ", ".join(f"{r.assessor}/{r.path.name}" for r in hits)
            raise AnnotationError(f"{len(hits)} {kind} annotations in the session ({listing}); "
                                  "choose one with the ROI collection parameter", **ctx)
        if hits:
            return hits[0]
    return None
