"""ROI collection (DICOM SEG or RTSTRUCT) → voxel mask on the reference (T1) series grid.

:func:`roi_mask` reads an annotation file, picks the tumour segment (by label
when there are several), checks that every series it references is one of the
session's series and shares the reference's frame of reference, and returns a
uint8 0/1 mask on the reference grid. An empty mask is an error.

:func:`roi_lesions` reads every segment (ROI) of the file as one lesion (at most
:data:`MAX_LESIONS`, the number EuCanImage's annotation protocol allows), in
segment-number order; :func:`primary_lesion` picks the primary tumour by
:data:`PRIMARY_RULE`. :func:`roi_mask` returns that primary (or the named segment).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk
from pydicom import dcmread
from pydicom.errors import InvalidDicomError

from sarcoma_xnat.errors import AnnotationError
from sarcoma_xnat.imaging.dicom_series import SeriesVolume

__all__ = ["MAX_LESIONS", "PRIMARY_RULE", "ROI_KINDS", "RoiMask", "annotation_kind",
           "check_references", "lesion_segments", "pick_segment", "primary_lesion",
           "referenced_series_uids", "roi_lesions", "roi_mask", "to_reference_grid"]

#: annotation kinds understood here, by DICOM Modality
ROI_KINDS = ("SEG", "RTSTRUCT")
_TUMOUR_NAMES = ("tumour", "tumor")
#: most lesions (segments) one annotation may hold (EuCanImage: up to three per study)
MAX_LESIONS = 3
#: how the primary tumour is chosen among several lesions (recorded in measurements.json)
PRIMARY_RULE = ("the one segment labelled Primary, Tumour or Tumor (or starting with 'primary'); "
                "otherwise the largest volume among those so labelled, or among all segments "
                "when none is; a tie goes to the lowest segment number")


@dataclass(frozen=True)
class RoiMask:
    """A mask read from an annotation, on the reference series' grid."""

    mask: sitk.Image
    kind: str
    segment_number: int
    segment_label: str
    referenced_series: tuple[str, ...]
    file: str


def annotation_kind(path: str | os.PathLike[str]) -> str | None:
    """Return ``"SEG"`` or ``"RTSTRUCT"`` for an annotation file, ``None`` for anything else."""
    try:
        ds = dcmread(path, stop_before_pixels=True, specific_tags=["Modality"])
    except (InvalidDicomError, OSError, ValueError, EOFError):
        return None
    kind = str(ds.get("Modality", ""))
    return kind if kind in ROI_KINDS else None


def referenced_series_uids(path: str | os.PathLike[str]) -> set[str]:
    """Return the SeriesInstanceUIDs an annotation file references (header only)."""
    try:
        ds = dcmread(path, stop_before_pixels=True)
    except (InvalidDicomError, OSError, ValueError, EOFError):
        return set()
    out = {str(item.SeriesInstanceUID) for item in ds.get("ReferencedSeriesSequence", [])
           if "SeriesInstanceUID" in item}
    for frame in ds.get("ReferencedFrameOfReferenceSequence", []):
        for study in frame.get("RTReferencedStudySequence", []):
            out.update(str(item.SeriesInstanceUID)
                       for item in study.get("RTReferencedSeriesSequence", []))
    return out


def pick_segment(available: Mapping[int, str], wanted: str | None, kind: str,
                 context: Mapping[str, Any]) -> tuple[int, str]:
    """Return ``(number, label)`` of the segment to use.

    With ``wanted``, the label must match one segment (case-insensitive). Without it,
    a single segment is used as is, and among several the one named Tumour/Tumor.
    """
    listing = ", ".join(f"{n}: {label!r}" for n, label in sorted(available.items())) or "none"
    if not available:
        raise AnnotationError(f"the {kind} holds no segments", **context)
    if wanted is None:
        if len(available) == 1:
            number = next(iter(available))
            return number, available[number]
        names: tuple[str, ...] = _TUMOUR_NAMES
    else:
        names = (wanted.casefold(),)
    matches = [n for n, label in available.items() if label.strip().casefold() in names]
    if len(matches) != 1:
        what = f"segment {wanted!r}" if wanted else "a tumour segment"
        found = "no" if not matches else f"{len(matches)} (ambiguous)"
        raise AnnotationError(f"{kind}: expected {what}, found {found} among segments {listing}; "
                              "choose one with the segment label parameter", **context)
    return matches[0], available[matches[0]]


def lesion_segments(available: Mapping[int, str], wanted: str | None, kind: str,
                    context: Mapping[str, Any]) -> list[tuple[int, str]]:
    """Return ``(number, label)`` of every lesion segment, in segment-number order.

    With ``wanted`` only that segment (see :func:`pick_segment`); otherwise all of
    them, at most :data:`MAX_LESIONS`.
    """
    if wanted is not None or len(available) <= 1:
        return [pick_segment(available, wanted, kind, context)]
    if len(available) > MAX_LESIONS:
        listing = ", ".join(f"{n}: {label!r}" for n, label in sorted(available.items()))
        raise AnnotationError(f"the {kind} holds {len(available)} segments ({listing}); at most "
                              f"{MAX_LESIONS} lesions per study are allowed; choose one with the "
                              "segment label parameter", **context)
    return sorted(available.items())


def _primary_named(label: str) -> bool:
    name = label.strip().casefold()
    return name in ("primary", *_TUMOUR_NAMES) or name.startswith("primary")


def primary_lesion(lesions: Sequence[RoiMask]) -> int:
    """Return the index in ``lesions`` of the primary tumour, by :data:`PRIMARY_RULE`."""
    if not lesions:
        raise AnnotationError("no lesions to choose the primary tumour from")
    named = [i for i, m in enumerate(lesions) if _primary_named(m.segment_label)]
    pool = named or list(range(len(lesions)))
    voxels = {i: float(sitk.GetArrayViewFromImage(lesions[i].mask).sum()) for i in pool}
    return min(pool, key=lambda i: (-voxels[i], lesions[i].segment_number))


def check_references(referenced: set[str], volumes: Mapping[str, SeriesVolume], kind: str,
                     context: Mapping[str, Any], reference: SeriesVolume,
                     frame_uid: str | None = None) -> SeriesVolume:
    """Return the one session series the annotation references; refuse dangling references.

    The referenced series must be in ``volumes``, and the annotation, that series and
    the ``reference`` series must share one frame of reference (when stated).
    """
    if not referenced:
        raise AnnotationError(f"the {kind} references no image series", **context)
    missing = sorted(referenced - set(volumes))
    if missing:
        raise AnnotationError(f"the {kind} references series that are not in the session: "
                              f"{', '.join(missing)} (dangling reference)", **context)
    if len(referenced) > 1:
        raise AnnotationError(f"the {kind} references {len(referenced)} series "
                              f"({', '.join(sorted(referenced))}); expected one", **context)
    series = volumes[next(iter(referenced))]
    frames = {uid for uid in (frame_uid, series.frame_of_reference_uid,
                              reference.frame_of_reference_uid) if uid}
    if len(frames) > 1:
        raise AnnotationError(f"the {kind}, its series and the reference series are in different "
                              f"frames of reference ({', '.join(sorted(frames))})", **context)
    return series


def to_reference_grid(mask: sitk.Image, reference: SeriesVolume, kind: str,
                      context: Mapping[str, Any]) -> sitk.Image:
    """Resample a 0/1 mask onto the reference grid (nearest neighbour); refuse an empty result."""
    ref = reference.image
    same = (mask.GetSize() == ref.GetSize()
            and np.allclose(mask.GetSpacing(), ref.GetSpacing(), atol=1e-4)
            and np.allclose(mask.GetOrigin(), ref.GetOrigin(), atol=1e-3)
            and np.allclose(mask.GetDirection(), ref.GetDirection(), atol=1e-5))
    out = sitk.Cast(mask > 0, sitk.sitkUInt8)
    if same:
        out.CopyInformation(ref)
    else:
        out = sitk.Resample(out, ref, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
    if not sitk.GetArrayViewFromImage(out).any():
        raise AnnotationError(f"the {kind} mask is empty on the reference series grid", **context)
    return out


def roi_lesions(
    path: str | os.PathLike[str],
    reference: SeriesVolume,
    volumes: Mapping[str, SeriesVolume],
    segment_label: str | None = None,
    context: Mapping[str, Any] | None = None,
    root: str | os.PathLike[str] | None = None,
) -> list[RoiMask]:
    """Read every lesion segment of a SEG or RTSTRUCT file into masks on ``reference``'s grid.

    Parameters are those of :func:`roi_mask`; with ``segment_label`` the list holds
    that one segment. Order: segment (ROI) number.
    """
    p = Path(path)
    name = p.relative_to(root).as_posix() if root is not None else p.name
    ctx = {**dict(context or {}), "file": name}
    kind = annotation_kind(p)
    if kind is None:
        raise AnnotationError("not a DICOM SEG or RTSTRUCT file", **ctx)
    if kind == "SEG":
        from sarcoma_xnat.imaging.seg import seg_masks

        return seg_masks(p, name, reference, volumes, segment_label, ctx)
    from sarcoma_xnat.imaging.rtstruct import rtstruct_masks

    return rtstruct_masks(p, name, reference, volumes, segment_label, ctx)


def roi_mask(
    path: str | os.PathLike[str],
    reference: SeriesVolume,
    volumes: Mapping[str, SeriesVolume],
    segment_label: str | None = None,
    context: Mapping[str, Any] | None = None,
    root: str | os.PathLike[str] | None = None,
) -> RoiMask:
    """Read a SEG or RTSTRUCT file into the primary tumour's mask on ``reference``'s grid.

    Parameters
    ----------
    path : path-like
        The annotation file.
    reference : SeriesVolume
        The series whose grid the mask is returned on (the T1).
    volumes : mapping
        Every session series the annotation may reference, by SeriesInstanceUID.
    segment_label : str, optional
        Segment (SEG) or ROI (RTSTRUCT) name to use; default: the primary tumour by
        :data:`PRIMARY_RULE` (see :func:`pick_segment` for a name).
    context : mapping, optional
        Error context (subject, session, assessor).
    root : path-like, optional
        Folder the file name in errors is relative to (default: the file's name only).
    """
    lesions = roi_lesions(path, reference, volumes, segment_label, context, root)
    return lesions[primary_lesion(lesions)]
