"""Group de-identified instances into studies and series, and name them as XNAT would.

A study becomes one session (label: subject pseudonym, modality, keyed study code);
an image series becomes a scan whose ID is its Series Number; a SEG or RTSTRUCT
series becomes an ROI collection assessor (``icr:roiCollectionData``), as the OHIF
viewer plugin stores annotations.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pydicom.dataset import Dataset

__all__ = ["ROI_MODALITIES", "SeriesGroup", "StudyGroup", "scan_xsi_type", "session_xsi_type"]

#: modalities stored as ROI collections rather than scans
ROI_MODALITIES = frozenset({"SEG", "RTSTRUCT"})
_SESSION_TYPES = {"MR": "xnat:mrSessionData", "CT": "xnat:ctSessionData",
                  "PT": "xnat:petSessionData", "US": "xnat:usSessionData"}
_SCAN_TYPES = {"MR": "xnat:mrScanData", "CT": "xnat:ctScanData", "PT": "xnat:petScanData",
               "US": "xnat:usScanData", "SR": "xnat:srScanData"}


def session_xsi_type(modality: str) -> str:
    """Return the XNAT session type for a study's main modality."""
    return _SESSION_TYPES.get(modality, "xnat:otherDicomSessionData")


def scan_xsi_type(modality: str) -> str:
    """Return the XNAT scan type for a series' modality."""
    return _SCAN_TYPES.get(modality, "xnat:otherDicomScanData")


@dataclass
class SeriesGroup:
    """One de-identified series: where its files are and what XNAT needs to know of it."""

    uid: str
    number: int | None
    modality: str
    description: str
    folder: Path
    files: list[Path] = field(default_factory=list)
    references: set[str] = field(default_factory=set)
    roi_name: str = ""
    sop_uid: str = ""

    @property
    def is_roi(self) -> bool:
        """Return whether this series is an annotation (SEG/RTSTRUCT)."""
        return self.modality in ROI_MODALITIES


@dataclass
class StudyGroup:
    """One de-identified study, the session it becomes, and why it failed if it did."""

    uid: str
    subject: str
    session: str
    date: str
    series: dict[str, SeriesGroup] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    @property
    def modality(self) -> str:
        """Return the most common image modality of the study (``OT`` if none)."""
        counts = Counter(s.modality for s in self.series.values() if not s.is_roi)
        return counts.most_common(1)[0][0] if counts else "OT"

    def add(self, ds: Dataset, path: Path, folder: Path) -> None:
        """Record one de-identified instance written at ``path``."""
        uid = str(ds.SeriesInstanceUID)
        group = self.series.get(uid)
        if group is None:
            number = ds.get("SeriesNumber")
            group = self.series[uid] = SeriesGroup(
                uid=uid, number=int(number) if number not in (None, "") else None,
                modality=str(ds.get("Modality", "OT") or "OT").upper(),
                description=str(ds.get("SeriesDescription", "") or ""), folder=folder)
        group.files.append(path)
        if group.is_roi:
            group.sop_uid = str(ds.SOPInstanceUID)
            group.references |= _referenced_series(ds)
            group.roi_name = group.roi_name or _roi_name(ds)

    def scan_ids(self) -> dict[str, str]:
        """Return series UID -> scan ID: the Series Number, made unique when numbers clash."""
        out: dict[str, str] = {}
        used: set[str] = set()
        images = sorted((s for s in self.series.values() if not s.is_roi),
                        key=lambda s: (s.number is None, s.number or 0, s.uid))
        for index, series in enumerate(images, 1):
            base = str(series.number) if series.number is not None else f"{1000 + index}"
            scan_id, k = base, 1
            while scan_id in used:
                k += 1
                scan_id = f"{base}-{k}"
            used.add(scan_id)
            out[series.uid] = scan_id
        return out

    def assessor_labels(self) -> dict[str, str]:
        """Return series UID -> ROI collection label, ``<session>_<SEG|RTSTRUCT>[_n]``."""
        rois = sorted((s for s in self.series.values() if s.is_roi),
                      key=lambda s: (s.modality, s.number or 0, s.uid))
        kinds = Counter(s.modality for s in rois)
        out, seen = {}, Counter[str]()
        for series in rois:
            seen[series.modality] += 1
            suffix = f"_{seen[series.modality]}" if kinds[series.modality] > 1 else ""
            out[series.uid] = f"{self.session}_{series.modality}{suffix}"
        return out


def _referenced_series(ds: Dataset) -> set[str]:
    """Return the Series Instance UIDs a SEG or RTSTRUCT refers to."""
    out = {str(item.SeriesInstanceUID) for item in ds.get("ReferencedSeriesSequence", [])
           if "SeriesInstanceUID" in item}
    for frame in ds.get("ReferencedFrameOfReferenceSequence", []):
        for study in frame.get("RTReferencedStudySequence", []):
            for series in study.get("RTReferencedSeriesSequence", []):
                if "SeriesInstanceUID" in series:
                    out.add(str(series.SeriesInstanceUID))
    return out


def _roi_name(ds: Dataset) -> str:
    """Return the first segment label or ROI name (the annotation's name)."""
    for item in ds.get("SegmentSequence", []):
        if item.get("SegmentLabel"):
            return str(item.SegmentLabel)
    for item in ds.get("StructureSetROISequence", []):
        if item.get("ROIName"):
            return str(item.ROIName)
    return str(ds.get("SeriesDescription", "") or "")
