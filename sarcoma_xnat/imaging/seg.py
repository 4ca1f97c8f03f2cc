"""DICOM SEG → mask, read with highdicom.

highdicom's :meth:`~highdicom.seg.Segmentation.get_volume` gives the segment as
a volume with its own affine (covering only the segmented slices when empty
frames were omitted); it is resampled by nearest neighbour onto the reference
grid, which is exact when the SEG was made on that grid.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import highdicom as hd
import SimpleITK as sitk

from sarcoma_xnat.errors import AnnotationError
from sarcoma_xnat.imaging.dicom_series import SeriesVolume
from sarcoma_xnat.imaging.roi import (RoiMask, check_references, lesion_segments, primary_lesion,
                                      to_reference_grid)

__all__ = ["seg_mask", "seg_masks"]

_READ_ERRORS = (ValueError, AttributeError, KeyError, TypeError, IndexError, RuntimeError,
                NotImplementedError, OSError, EOFError)


def seg_mask(path: Path, name: str, reference: SeriesVolume, volumes: Mapping[str, SeriesVolume],
             segment_label: str | None, context: Mapping[str, Any]) -> RoiMask:
    """Read segment ``segment_label`` (default: the primary tumour) of a SEG into a mask."""
    lesions = seg_masks(path, name, reference, volumes, segment_label, context)
    return lesions[primary_lesion(lesions)]


def seg_masks(path: Path, name: str, reference: SeriesVolume, volumes: Mapping[str, SeriesVolume],
              segment_label: str | None, context: Mapping[str, Any]) -> list[RoiMask]:
    """Read each lesion segment of a SEG file (or only ``segment_label``) into a mask each."""
    try:
        seg = hd.seg.segread(path)
    except _READ_ERRORS as exc:
        raise AnnotationError(f"SEG cannot be read ({type(exc).__name__}: {exc})", **context) from exc
    available = {int(item.SegmentNumber): str(item.get("SegmentLabel", ""))
                 for item in seg.get("SegmentSequence", [])}
    segments = lesion_segments(available, segment_label, "SEG", context)
    referenced = {str(series) for _, series, _ in seg.get_source_image_uids()}
    for item in seg.get("ReferencedSeriesSequence", []):
        referenced.add(str(item.SeriesInstanceUID))
    check_references(referenced, volumes, "SEG", context, reference,
                     str(seg.get("FrameOfReferenceUID", "") or ""))
    out = []
    for number, label in segments:
        try:
            volume = seg.get_volume(segment_numbers=[number], combine_segments=True, dtype="uint8")
        except _READ_ERRORS as exc:
            raise AnnotationError(f"SEG segment {number} cannot be read as a volume "
                                  f"({type(exc).__name__}: {exc})", **context) from exc
        if volume is None or not volume.array.any():
            raise AnnotationError(f"SEG segment {number} ({label!r}) is empty", **context)
        image = volume.to_simpleitk()
        if image.GetNumberOfComponentsPerPixel() != 1:
            image = sitk.VectorIndexSelectionCast(image, 0)
        mask = to_reference_grid(image, reference, "SEG", context)
        out.append(RoiMask(mask=mask, kind="SEG", segment_number=number, segment_label=label,
                           referenced_series=tuple(sorted(referenced)), file=name))
    return out
