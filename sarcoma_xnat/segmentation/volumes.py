"""The network's view of a session: T1 and T2 on one working grid, z-scored, and masks to and fro.

The series are picked with the preprocessing rules (:class:`~sarcoma_xnat.steps.preprocess_params.PreprocessParams`).
The working grid is the T1's frame and field of view with a coarser in-plane spacing
(the bundle's ``spacing_mm``) and the T1's own slices, so that a mask predicted on it
goes back onto the T1 series by nearest neighbour, slice for slice.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from sarcoma_xnat.archive.base import Archive
from sarcoma_xnat.archive.refs import ObjectRef
from sarcoma_xnat.imaging.dicom_series import SeriesVolume, read_scan
from sarcoma_xnat.imaging.intensity import foreground_mask
from sarcoma_xnat.imaging.selection import select_series
from sarcoma_xnat.steps.base import stage_session
from sarcoma_xnat.steps.preprocess_params import PreprocessParams
from sarcoma_xnat.steps.session_layout import ScanFolder, scan_catalog

__all__ = ["SessionImages", "load_session", "load_t1", "mask_to_t1", "scan_types", "to_working_grid",
           "working_grid"]


@dataclass(frozen=True)
class SessionImages:
    """T1 and T2 of one session for the network.

    Attributes
    ----------
    channels : numpy.ndarray
        ``(2, z, y, x)`` float32: T1 and T2 on the working grid, each z-scored over the body.
    grid : SimpleITK.Image
        The working grid (an empty image with its geometry).
    t1 : SeriesVolume
        The T1 series as read (its grid is the SEG's grid).
    t1_scan, t2_scan : ScanFolder
        Where the series came from.
    """

    channels: np.ndarray
    grid: sitk.Image
    t1: SeriesVolume
    t2: SeriesVolume
    t1_scan: ScanFolder
    t2_scan: ScanFolder


def working_grid(t1: sitk.Image, spacing_mm: float) -> sitk.Image:
    """Return the T1's field of view resampled to ``spacing_mm`` in-plane, the T1's slices kept."""
    size, spacing = t1.GetSize(), t1.GetSpacing()
    new_size = [max(1, int(math.ceil(size[i] * spacing[i] / spacing_mm))) for i in (0, 1)]
    new_spacing = (size[0] * spacing[0] / new_size[0], size[1] * spacing[1] / new_size[1], spacing[2])
    grid = sitk.Image(new_size[0], new_size[1], size[2], sitk.sitkUInt8)
    direction = np.array(t1.GetDirection()).reshape(3, 3)
    # keep the corner of the field of view: move the first voxel centre by half the new pixel
    shift = [(new_spacing[i] - spacing[i]) / 2.0 for i in (0, 1)] + [0.0]
    origin = np.array(t1.GetOrigin()) + direction @ np.array(shift)
    grid.SetSpacing(new_spacing)
    grid.SetDirection(t1.GetDirection())
    grid.SetOrigin(tuple(float(v) for v in origin))
    return grid


def to_working_grid(image: sitk.Image, grid: sitk.Image, nearest: bool = False) -> np.ndarray:
    """Resample ``image`` onto ``grid`` (linear, or nearest for masks); return ``(z, y, x)``."""
    interp = sitk.sitkNearestNeighbor if nearest else sitk.sitkLinear
    pixel = sitk.sitkUInt8 if nearest else sitk.sitkFloat32
    out = sitk.Resample(sitk.Cast(image, pixel), grid, sitk.Transform(), interp, 0, pixel)
    return sitk.GetArrayFromImage(out)


def _normalised(image: sitk.Image, grid: sitk.Image, context: Mapping[str, Any]) -> np.ndarray:
    body = foreground_mask(image, context)
    values = to_working_grid(image, grid)
    inside = to_working_grid(body, grid, nearest=True) > 0
    if not inside.any():
        inside = values > 0
    mean, std = float(values[inside].mean()), float(values[inside].std())
    out = (values - mean) / (std if std > 0 else 1.0)
    out[~inside] = out[inside].min() if inside.any() else 0.0
    return out.astype(np.float32)


def load_session(input_dir: str | os.PathLike[str], spacing_mm: float,
                 params: Mapping[str, Any] | PreprocessParams | None = None,
                 scan_types: Mapping[str, str] | None = None) -> SessionImages:
    """Pick T1 and T2 in a session folder (Container Service layout) and bring them onto one grid."""
    p = PreprocessParams.from_mapping(params)
    ctx = p.context()
    catalog = scan_catalog(Path(input_dir), scan_types)
    chosen = select_series([s.candidate for s in catalog], p.rules(), context=ctx)
    scans = {ch: next(s for s in catalog if s.candidate is cand) for ch, cand in chosen.items()}
    t1 = read_scan(scans["t1"].folder, {**ctx, "scan": scans["t1"].scan_id})
    t2 = read_scan(scans["t2"].folder, {**ctx, "scan": scans["t2"].scan_id})
    grid = working_grid(t1.image, spacing_mm)
    channels = np.stack([_normalised(t1.image, grid, {**ctx, "scan": scans["t1"].scan_id}),
                         _normalised(t2.image, grid, {**ctx, "scan": scans["t2"].scan_id})])
    return SessionImages(channels, grid, t1, t2, scans["t1"], scans["t2"])


def scan_types(archive: Archive, session: ObjectRef) -> dict[str, str]:
    """Return the XNAT scan type of each scan of a session (not in a Container Service mount)."""
    return {s.label: str(s.attrs.get("type", "") or "") for s in archive.children(session, "scan")}


def load_t1(archive: Archive, session: ObjectRef, dest: Path,
            params: Mapping[str, Any] | PreprocessParams | None = None) -> SeriesVolume:
    """Stage a session's scans into ``dest`` and read the T1 the preprocessing rules pick."""
    p = PreprocessParams.from_mapping({**dict(params or {}), "session": session.session})
    staged = stage_session(archive, session, dest, assessors=False)
    catalog = scan_catalog(staged, scan_types(archive, session))
    chosen = select_series([s.candidate for s in catalog], p.rules(), context=p.context())
    scan = next(s for s in catalog if s.candidate is chosen["t1"])
    return read_scan(scan.folder, {**p.context(), "scan": scan.scan_id})


def mask_to_t1(mask: np.ndarray, grid: sitk.Image, t1: sitk.Image) -> np.ndarray:
    """Return a ``(z, y, x)`` 0/1 mask on the working grid resampled onto the T1's grid."""
    image = sitk.GetImageFromArray(mask.astype(np.uint8))
    image.CopyInformation(grid)
    out = sitk.Resample(image, t1, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
    return sitk.GetArrayFromImage(out)
