"""Stack DICOM slices into one 3-D volume, refusing geometry that would give a wrong one.

Slices are ordered by their position along the slice normal
(ImagePositionPatient · normal), never by file name or InstanceNumber. A series
is refused, with an error naming the file or position, when orientations are
mixed, a slice is missing (non-uniform spacing), two images share a position
(more than one volume in the series), the stack is sheared, or the in-plane
size or pixel spacing changes. The result is a SimpleITK image in the DICOM
patient frame (LPS), float32, with rescale slope and intercept applied.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from sarcoma_xnat.errors import GeometryError, InputDataError
from sarcoma_xnat.imaging.dicom_slices import SliceRecord, list_dicom_files, read_slices

__all__ = ["SeriesVolume", "read_dicom_folder", "read_scan", "stack_slices"]

#: tolerances: direction cosines (absolute), spacing (relative, with an absolute floor in mm)
ORIENTATION_TOL = 1e-3
SPACING_REL_TOL = 0.02
SPACING_ABS_TOL = 0.01


@dataclass(frozen=True)
class SeriesVolume:
    """A DICOM series read into one volume.

    Attributes
    ----------
    image : SimpleITK.Image
        float32 volume in the DICOM patient frame (LPS).
    series_uid, frame_of_reference_uid, description : str
        SeriesInstanceUID, FrameOfReferenceUID and SeriesDescription.
    sop_uids : tuple of str
        SOPInstanceUID of each slice, in slice order (repeated for multi-frame files).
    files : tuple of str
        Files read, relative to the folder, sorted.
    """

    image: sitk.Image
    series_uid: str
    frame_of_reference_uid: str
    description: str
    sop_uids: tuple[str, ...]
    files: tuple[str, ...]


def read_dicom_folder(
    folder: str | os.PathLike[str], context: Mapping[str, Any] | None = None
) -> list[SeriesVolume]:
    """Read every series under ``folder`` (grouped by SeriesInstanceUID) into volumes."""
    root = Path(folder)
    files = list_dicom_files(root)
    if not files:
        raise InputDataError(f"no DICOM files in {root.name or root}", **dict(context or {}))
    records = read_slices(files, root, context)
    groups: dict[str, list[SliceRecord]] = {}
    for rec in records:
        groups.setdefault(rec.series_uid, []).append(rec)
    return [stack_slices(groups[uid], context) for uid in sorted(groups)]


def read_scan(
    folder: str | os.PathLike[str], context: Mapping[str, Any] | None = None
) -> SeriesVolume:
    """Read a scan folder that must hold exactly one series, and return its volume."""
    volumes = read_dicom_folder(folder, context)
    if len(volumes) != 1:
        uids = ", ".join(v.series_uid for v in volumes)
        raise GeometryError(f"expected one series in the scan, found {len(volumes)} "
                            f"(SeriesInstanceUIDs {uids})", **dict(context or {}))
    return volumes[0]


def stack_slices(
    records: Sequence[SliceRecord], context: Mapping[str, Any] | None = None
) -> SeriesVolume:
    """Stack the slices of one series into a volume, after checking their geometry."""
    ctx = dict(context or {})
    if len(records) < 2:
        where = records[0].where if records else None
        raise GeometryError(f"a 3-D volume needs at least 2 slices, the series has {len(records)}",
                            file=where, **ctx)
    first = records[0]
    for rec in records[1:]:
        if np.max(np.abs(rec.orientation - first.orientation)) > ORIENTATION_TOL:
            raise GeometryError(
                f"mixed slice orientations in one series: {_fmt(rec.orientation)} vs "
                f"{_fmt(first.orientation)} in {first.where}", file=rec.where, **ctx)
        if rec.pixels.shape != first.pixels.shape:
            raise GeometryError(f"image size changes within the series: {rec.pixels.shape} vs "
                                f"{first.pixels.shape} in {first.where}", file=rec.where, **ctx)
        if not np.allclose(rec.pixel_spacing, first.pixel_spacing, rtol=1e-4, atol=1e-5):
            raise GeometryError(f"pixel spacing changes within the series: {rec.pixel_spacing} vs "
                                f"{first.pixel_spacing} in {first.where}", file=rec.where, **ctx)
    row, col = first.orientation[:3], first.orientation[3:]
    if abs(np.linalg.norm(row) - 1) > 1e-2 or abs(np.linalg.norm(col) - 1) > 1e-2 \
            or abs(float(row @ col)) > 1e-2:
        raise GeometryError(f"ImageOrientationPatient {_fmt(first.orientation)} is not two "
                            "orthogonal unit vectors", file=first.where, **ctx)
    row, col = row / np.linalg.norm(row), col / np.linalg.norm(col)
    normal = np.cross(row, col)
    ordered = sorted(records, key=lambda r: float(r.position @ normal))
    z = np.array([float(r.position @ normal) for r in ordered])
    steps = np.diff(z)
    _check_duplicates(ordered, z, steps, ctx)
    _check_spacing(ordered, z, steps, ctx)
    _check_shear(ordered, row, col, min(first.pixel_spacing), ctx)
    spacing_z = float((z[-1] - z[0]) / (len(z) - 1))
    array = np.stack([r.pixels for r in ordered]).astype(np.float32, copy=False)
    image = sitk.GetImageFromArray(array)
    image.SetSpacing((first.pixel_spacing[1], first.pixel_spacing[0], spacing_z))
    image.SetOrigin(tuple(float(v) for v in ordered[0].position))
    image.SetDirection(tuple(float(v) for v in np.column_stack([row, col, normal]).ravel()))
    return SeriesVolume(
        image=image, series_uid=first.series_uid,
        frame_of_reference_uid=first.frame_of_reference_uid, description=first.description,
        sop_uids=tuple(r.sop_uid for r in ordered),
        files=tuple(sorted({r.file for r in records})),
    )


def _fmt(values: np.ndarray) -> str:
    return "[" + ", ".join(f"{v:.4g}" for v in values) + "]"


def _check_duplicates(ordered: Sequence[SliceRecord], z: np.ndarray, steps: np.ndarray,
                      ctx: Mapping[str, Any]) -> None:
    dup = np.flatnonzero(np.abs(steps) < SPACING_ABS_TOL)
    if dup.size:
        i = int(dup[0])
        positions = len(ordered) - dup.size
        raise GeometryError(
            f"series holds more than one volume: {len(ordered)} images at about {positions} "
            f"distinct slice positions ({ordered[i].where} and {ordered[i + 1].where} are both at "
            f"{z[i]:.2f} mm along the normal)", file=ordered[i + 1].where, **ctx)


def _check_spacing(ordered: Sequence[SliceRecord], z: np.ndarray, steps: np.ndarray,
                   ctx: Mapping[str, Any]) -> None:
    nominal = float(np.median(steps))
    tol = max(SPACING_REL_TOL * nominal, SPACING_ABS_TOL)
    bad = np.flatnonzero(np.abs(steps - nominal) > tol)
    if bad.size:
        i = int(bad[0])
        raise GeometryError(
            f"slice spacing jumps from {nominal:.3f} to {steps[i]:.3f} mm between slice positions "
            f"{z[i]:.2f} and {z[i + 1]:.2f} mm along the normal (missing or extra slices?); "
            "refusing to build a squished volume", file=ordered[i + 1].where, **ctx)


def _check_shear(ordered: Sequence[SliceRecord], row: np.ndarray, col: np.ndarray,
                 pixel: float, ctx: Mapping[str, Any]) -> None:
    origin = ordered[0].position
    for rec in ordered[1:]:
        offset = rec.position - origin
        in_plane = max(abs(float(offset @ row)), abs(float(offset @ col)))
        if in_plane > 0.1 * pixel + 1e-3:
            raise GeometryError(
                f"slices are not stacked along the slice normal (in-plane shift {in_plane:.2f} mm; "
                "gantry tilt or a shifted slice)", file=rec.where, **ctx)
