"""Read DICOM image files into per-slice records (classic single-frame and enhanced multi-frame).

This is the first half of series reading: every file is opened, refused with a
clear error when it is not a decodable image, and turned into one
:class:`SliceRecord` per 2-D image (one per file, or one per frame of an
enhanced multi-frame object). :mod:`sarcoma_xnat.imaging.dicom_series` stacks
the records into a volume and checks the geometry.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from sarcoma_xnat.errors import GeometryError, InputDataError

__all__ = ["NON_DICOM_SUFFIXES", "SliceRecord", "list_dicom_files", "read_slices"]

#: file name endings that are never DICOM (XNAT catalogs, sidecars); skipped, not refused
NON_DICOM_SUFFIXES = (".xml", ".json", ".txt", ".log", ".md", ".csv")

#: exceptions pydicom and its pixel handlers raise on broken files
_DECODE_ERRORS = (InvalidDicomError, ValueError, EOFError, OSError, AttributeError, KeyError,
                  TypeError, IndexError, NotImplementedError, RuntimeError)


@dataclass(frozen=True)
class SliceRecord:
    """One 2-D image of a series with the geometry needed to stack it.

    Attributes
    ----------
    file : str
        File name relative to the folder that was read (never an absolute path).
    frame : int or None
        Frame index (0-based) within an enhanced multi-frame file, else ``None``.
    series_uid, sop_uid : str
        SeriesInstanceUID and SOPInstanceUID of the file.
    position : numpy.ndarray
        ImagePositionPatient (mm, LPS) of the first pixel.
    orientation : numpy.ndarray
        ImageOrientationPatient: row direction cosines then column direction cosines.
    pixel_spacing : tuple of float
        (row spacing, column spacing) in mm, as in DICOM PixelSpacing.
    pixels : numpy.ndarray
        Real-world values (rescale slope and intercept applied), float32, (rows, cols).
    frame_of_reference_uid, description : str
        FrameOfReferenceUID and SeriesDescription ('' when absent).
    """

    file: str
    frame: int | None
    series_uid: str
    sop_uid: str
    position: np.ndarray
    orientation: np.ndarray
    pixel_spacing: tuple[float, float]
    pixels: np.ndarray
    frame_of_reference_uid: str = ""
    description: str = ""

    @property
    def where(self) -> str:
        """Return the file name, with the frame number for multi-frame files."""
        return self.file if self.frame is None else f"{self.file} frame {self.frame + 1}"


def list_dicom_files(folder: str | os.PathLike[str]) -> list[Path]:
    """List candidate DICOM files below ``folder`` (recursive, sorted, hidden files skipped)."""
    root = Path(folder)
    out = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        if path.name.lower().endswith(NON_DICOM_SUFFIXES):
            continue
        out.append(path)
    return out


def read_slices(
    files: Sequence[Path], root: str | os.PathLike[str], context: Mapping[str, Any] | None = None
) -> list[SliceRecord]:
    """Read every file into slice records; refuse files that are not decodable images.

    Parameters
    ----------
    files : sequence of Path
        DICOM files to read.
    root : path-like
        Folder the names in errors and records are relative to.
    context : mapping, optional
        Error context (subject, session, scan) added to every error.
    """
    ctx = dict(context or {})
    records: list[SliceRecord] = []
    for path in files:
        rel = Path(path).relative_to(root).as_posix() if Path(path).is_absolute() else str(path)
        try:
            ds = dcmread(path)
        except _DECODE_ERRORS as exc:
            raise InputDataError(f"not a readable DICOM file ({type(exc).__name__})",
                                 file=rel, **ctx) from exc
        if "PixelData" not in ds:
            raise InputDataError("DICOM file holds no image (no PixelData)", file=rel, **ctx)
        try:
            array = np.asarray(ds.pixel_array)
        except _DECODE_ERRORS as exc:
            raise InputDataError(f"pixel data cannot be decoded ({type(exc).__name__}: {exc})",
                                 file=rel, **ctx) from exc
        frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
        if "PerFrameFunctionalGroupsSequence" in ds:
            records.extend(_enhanced_records(ds, array, frames, rel, ctx))
        else:
            if frames != 1:
                raise GeometryError(f"multi-frame file with {frames} frames has no per-frame "
                                    "geometry (PerFrameFunctionalGroupsSequence)", file=rel, **ctx)
            records.append(_classic_record(ds, array, rel, ctx))
    return records


def _float_list(ds: Dataset, keyword: str, n: int, where: str, ctx: Mapping[str, Any]) -> np.ndarray:
    value = ds.get(keyword)
    try:
        out = np.array([float(v) for v in value], dtype=float) if value is not None else None
    except (TypeError, ValueError):
        out = None
    if out is None or out.shape != (n,) or not np.all(np.isfinite(out)):
        raise GeometryError(f"missing or malformed {keyword} (expected {n} numbers)",
                            file=where, **ctx)
    return out


def _rescale(pixels: np.ndarray, slope: Any, intercept: Any) -> np.ndarray:
    out = pixels.astype(np.float32)
    s = float(slope) if slope not in (None, "") else 1.0
    b = float(intercept) if intercept not in (None, "") else 0.0
    if s != 1.0 or b != 0.0:
        out = (out * np.float32(s) + np.float32(b)).astype(np.float32)
    return out


def _check_shape(ds: Dataset, pixels: np.ndarray, where: str, ctx: Mapping[str, Any]) -> None:
    if pixels.ndim != 2 or pixels.shape != (int(ds.Rows), int(ds.Columns)):
        raise InputDataError(f"expected a single-channel {ds.Rows}x{ds.Columns} image, "
                             f"decoded an array of shape {pixels.shape}", file=where, **ctx)


def _classic_record(ds: Dataset, array: np.ndarray, rel: str, ctx: Mapping[str, Any]) -> SliceRecord:
    _check_shape(ds, array, rel, ctx)
    spacing = _float_list(ds, "PixelSpacing", 2, rel, ctx)
    return SliceRecord(
        file=rel, frame=None, series_uid=str(ds.get("SeriesInstanceUID", "")),
        sop_uid=str(ds.get("SOPInstanceUID", "")),
        position=_float_list(ds, "ImagePositionPatient", 3, rel, ctx),
        orientation=_float_list(ds, "ImageOrientationPatient", 6, rel, ctx),
        pixel_spacing=(float(spacing[0]), float(spacing[1])),
        pixels=_rescale(array, ds.get("RescaleSlope"), ds.get("RescaleIntercept")),
        **_series_info(ds),
    )


def _series_info(ds: Dataset) -> dict[str, str]:
    return {"frame_of_reference_uid": str(ds.get("FrameOfReferenceUID", "") or ""),
            "description": str(ds.get("SeriesDescription", "") or "")}


def _group_item(ds: Dataset, frame: int, sequence: str) -> Dataset | None:
    """Return the first item of a functional group, per-frame first, then shared."""
    for holder in (ds.PerFrameFunctionalGroupsSequence[frame],
                   (ds.get("SharedFunctionalGroupsSequence") or [None])[0]):
        if holder is not None and sequence in holder and len(holder[sequence].value):
            item: Dataset = holder[sequence][0]
            return item
    return None


def _enhanced_records(ds: Dataset, array: np.ndarray, frames: int, rel: str,
                      ctx: Mapping[str, Any]) -> list[SliceRecord]:
    if len(ds.PerFrameFunctionalGroupsSequence) != frames:
        raise GeometryError(f"NumberOfFrames is {frames} but {len(ds.PerFrameFunctionalGroupsSequence)}"
                            " per-frame functional groups are present", file=rel, **ctx)
    stack = array.reshape((1, *array.shape)) if frames == 1 else array
    out = []
    for i in range(frames):
        where = f"{rel} frame {i + 1}"
        _check_shape(ds, stack[i], where, ctx)
        pos = _group_item(ds, i, "PlanePositionSequence")
        ori = _group_item(ds, i, "PlaneOrientationSequence")
        meas = _group_item(ds, i, "PixelMeasuresSequence")
        if pos is None or ori is None or meas is None:
            raise GeometryError("frame lacks plane position, orientation or pixel measures",
                                file=where, **ctx)
        spacing = _float_list(meas, "PixelSpacing", 2, where, ctx)
        pvt = _group_item(ds, i, "PixelValueTransformationSequence")
        slope = pvt.get("RescaleSlope") if pvt is not None else ds.get("RescaleSlope")
        intercept = pvt.get("RescaleIntercept") if pvt is not None else ds.get("RescaleIntercept")
        out.append(SliceRecord(
            file=rel, frame=i, series_uid=str(ds.get("SeriesInstanceUID", "")),
            sop_uid=str(ds.get("SOPInstanceUID", "")),
            position=_float_list(pos, "ImagePositionPatient", 3, where, ctx),
            orientation=_float_list(ori, "ImageOrientationPatient", 6, where, ctx),
            pixel_spacing=(float(spacing[0]), float(spacing[1])),
            pixels=_rescale(stack[i], slope, intercept),
            **_series_info(ds),
        ))
    return out
