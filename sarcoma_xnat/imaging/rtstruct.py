"""RTSTRUCT → mask: closed planar contours rasterized in patient space.

Each contour (patient mm, LPS) is mapped into the voxel indices of the series
the structure set references; it must lie on one of its slices. Pixels whose
centres are inside a polygon are set, with the even-odd rule across the
contours of one slice (so a contour inside another is a hole). The mask is
then taken onto the reference grid by nearest neighbour.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk
from pydicom import dcmread
from pydicom.dataset import Dataset

from sarcoma_xnat.errors import AnnotationError
from sarcoma_xnat.imaging.dicom_series import SeriesVolume
from sarcoma_xnat.imaging.resample import physical_to_index
from sarcoma_xnat.imaging.roi import (RoiMask, check_references, lesion_segments, primary_lesion,
                                      to_reference_grid)

__all__ = ["fill_polygon", "rtstruct_mask", "rtstruct_masks"]

#: a contour may sit this far (in slices) from a slice centre and still belong to it
PLANE_TOL = 0.25


def fill_polygon(xy: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Return a (rows, cols) bool array of pixel centres inside polygon ``xy`` (even-odd rule).

    ``xy`` holds (column, row) vertex coordinates in continuous pixel indices.
    """
    out = np.zeros(shape, dtype=bool)
    x0, y0 = xy[:, 0], xy[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    r_lo, r_hi = max(0, math.ceil(y0.min())), min(shape[0] - 1, math.floor(y0.max()))
    c_lo, c_hi = max(0, math.ceil(x0.min())), min(shape[1] - 1, math.floor(x0.max()))
    if r_lo > r_hi or c_lo > c_hi:
        return out
    rows = np.arange(r_lo, r_hi + 1, dtype=float)
    cols = np.arange(c_lo, c_hi + 1, dtype=float)
    inside = np.zeros((rows.size, cols.size), dtype=bool)
    for ax, ay, bx, by in zip(x0, y0, x1, y1):
        if ay == by:
            continue
        crosses = (np.minimum(ay, by) <= rows) & (rows < np.maximum(ay, by))
        if not crosses.any():
            continue
        xi = ax + (rows[crosses] - ay) * (bx - ax) / (by - ay)
        inside[crosses] ^= cols[None, :] < xi[:, None]
    out[r_lo:r_hi + 1, c_lo:c_hi + 1] = inside
    return out


def _roi_names(ds: Dataset) -> dict[int, str]:
    return {int(item.ROINumber): str(item.get("ROIName", ""))
            for item in ds.get("StructureSetROISequence", [])}


def _referenced_series(ds: Dataset) -> tuple[set[str], str]:
    series: set[str] = set()
    frames = set()
    for frame in ds.get("ReferencedFrameOfReferenceSequence", []):
        if frame.get("FrameOfReferenceUID"):
            frames.add(str(frame.FrameOfReferenceUID))
        for study in frame.get("RTReferencedStudySequence", []):
            for item in study.get("RTReferencedSeriesSequence", []):
                series.add(str(item.SeriesInstanceUID))
    return series, ",".join(sorted(frames))


def rtstruct_mask(path: Path, name: str, reference: SeriesVolume,
                  volumes: Mapping[str, SeriesVolume], roi_name: str | None,
                  context: Mapping[str, Any]) -> RoiMask:
    """Rasterize ROI ``roi_name`` (default: the primary tumour) of an RTSTRUCT into a mask."""
    lesions = rtstruct_masks(path, name, reference, volumes, roi_name, context)
    return lesions[primary_lesion(lesions)]


def rtstruct_masks(path: Path, name: str, reference: SeriesVolume,
                   volumes: Mapping[str, SeriesVolume], roi_name: str | None,
                   context: Mapping[str, Any]) -> list[RoiMask]:
    """Rasterize each lesion ROI of an RTSTRUCT file (or only ``roi_name``) into a mask each."""
    try:
        ds = dcmread(path)
    except (ValueError, OSError, EOFError) as exc:
        raise AnnotationError(f"RTSTRUCT cannot be read ({type(exc).__name__})", **context) from exc
    rois = lesion_segments(_roi_names(ds), roi_name, "RTSTRUCT", context)
    referenced, frame = _referenced_series(ds)
    if "," in frame:
        raise AnnotationError(f"the RTSTRUCT references several frames of reference ({frame})",
                              **context)
    series = check_references(referenced, volumes, "RTSTRUCT", context, reference, frame or None)
    return [RoiMask(mask=_rasterize(ds, number, label, series, reference, context), kind="RTSTRUCT",
                    segment_number=number, segment_label=label,
                    referenced_series=tuple(sorted(referenced)), file=name)
            for number, label in rois]


def _rasterize(ds: Dataset, number: int, label: str, series: SeriesVolume,
               reference: SeriesVolume, context: Mapping[str, Any]) -> sitk.Image:
    """Fill the contours of ROI ``number`` on ``series`` and take them onto ``reference``'s grid."""
    contours = [c for item in ds.get("ROIContourSequence", [])
                if int(item.ReferencedROINumber) == number for c in item.get("ContourSequence", [])]
    grid = series.image
    cols, rows, slices = grid.GetSize()
    array = np.zeros((slices, rows, cols), dtype=bool)
    for index, contour in enumerate(contours, 1):
        kind = str(contour.get("ContourGeometricType", "CLOSED_PLANAR"))
        if kind != "CLOSED_PLANAR":
            raise AnnotationError(f"ROI {label!r} contour {index} is {kind}; only CLOSED_PLANAR "
                                  "contours enclose a volume", **context)
        points = np.asarray([float(v) for v in contour.ContourData], dtype=float).reshape(-1, 3)
        if len(points) < 3:
            continue
        ijk = physical_to_index(grid, points)
        k = float(np.mean(ijk[:, 2]))
        if np.ptp(ijk[:, 2]) > 2 * PLANE_TOL or abs(k - round(k)) > PLANE_TOL:
            raise AnnotationError(f"ROI {label!r} contour {index} does not lie on a slice of the "
                                  f"referenced series (slice index {k:.2f})", **context)
        if not 0 <= round(k) < slices:
            raise AnnotationError(f"ROI {label!r} contour {index} lies outside the referenced "
                                  f"series (slice index {k:.2f} of {slices})", **context)
        array[int(round(k))] ^= fill_polygon(ijk[:, :2], (rows, cols))
    if not array.any():
        raise AnnotationError(f"RTSTRUCT ROI {number} ({label!r}) is empty", **context)
    image = sitk.GetImageFromArray(array.astype(np.uint8))
    image.CopyInformation(grid)
    return to_reference_grid(image, reference, "RTSTRUCT", context)
