"""Foreground masks and z-score normalization over the foreground.

MR of a limb is mostly air; statistics over the whole image would be dominated by
it, so both N4 and z-score use a foreground mask (Otsu threshold on log intensity,
holes filled slice by slice, largest connected component). Zero or non-finite
variance is an error, never a silent divide-by-one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from sarcoma_xnat.errors import InputDataError

__all__ = ["MIN_RELATIVE_STD", "ZScoreStats", "foreground_mask", "foreground_stats", "zscore"]

#: a foreground whose std is below this fraction of its mean is constant for our purpose
#: (MR tissue varies by tens of percent; float round-off in N4 leaves ~1e-6)
MIN_RELATIVE_STD = 1e-3


@dataclass(frozen=True)
class ZScoreStats:
    """Foreground statistics used to normalize an image."""

    mean: float
    std: float
    voxels: int


def foreground_mask(image: sitk.Image, context: Mapping[str, Any] | None = None) -> sitk.Image:
    """Return a uint8 0/1 mask of the body in ``image``.

    Otsu's threshold on ``log(1 + intensity)`` (so that air against *all* tissue is the
    dominant split, even with dark fat-suppressed tissue), holes filled slice by slice
    (tissue darker than the threshold but enclosed by the body), and the largest
    3-D connected component kept.
    """
    img = sitk.Cast(image, sitk.sitkFloat32)
    values = sitk.GetArrayViewFromImage(img)
    otsu = sitk.OtsuThresholdImageFilter()
    otsu.SetInsideValue(0)
    otsu.SetOutsideValue(1)
    otsu.SetNumberOfHistogramBins(128)
    otsu.Execute(sitk.Log(sitk.Maximum(img, 0.0) + 1.0))
    body = values > np.expm1(otsu.GetThreshold())
    body = np.stack([ndimage.binary_fill_holes(s) for s in body])
    labels, count = ndimage.label(body)
    if count == 0:
        raise InputDataError("no foreground found in the image (Otsu threshold gave an empty mask)",
                             **dict(context or {}))
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    mask = sitk.GetImageFromArray((labels == int(np.argmax(sizes))).astype(np.uint8))
    mask.CopyInformation(image)
    return mask


def foreground_stats(image: sitk.Image, mask: sitk.Image | None = None,
                     context: Mapping[str, Any] | None = None) -> ZScoreStats:
    """Return mean and std of ``image`` inside ``mask``; refuse zero or non-finite variance."""
    ctx = dict(context or {})
    values = sitk.GetArrayViewFromImage(image)
    if mask is not None:
        m = sitk.GetArrayViewFromImage(mask) > 0
        if m.shape != values.shape:
            raise InputDataError(f"mask shape {m.shape[::-1]} differs from image shape "
                                 f"{values.shape[::-1]}", **ctx)
        sample = values[m]
    else:
        sample = values.ravel()
    if sample.size == 0:
        raise InputDataError("z-score over an empty foreground mask", **ctx)
    sample = sample.astype(np.float64)
    mean = float(sample.mean())
    std = float(sample.std())
    if not np.isfinite(mean) or not np.isfinite(std):
        raise InputDataError(f"non-finite foreground statistics (mean {mean}, std {std})", **ctx)
    if std <= max(MIN_RELATIVE_STD * abs(mean), 1e-12):
        raise InputDataError(f"zero variance in the foreground (std {std:.3g}, mean {mean:.3g} over "
                             f"{sample.size} voxels); refusing to divide", **ctx)
    return ZScoreStats(mean=mean, std=std, voxels=int(sample.size))


def zscore(image: sitk.Image, mask: sitk.Image | None = None,
           context: Mapping[str, Any] | None = None) -> tuple[sitk.Image, ZScoreStats]:
    """Return ``(image - mean) / std`` with mean and std taken inside ``mask``, and the stats.

    The whole image is normalized with the foreground statistics (the background is
    not set to zero). Without a mask, every voxel counts.
    """
    stats = foreground_stats(image, mask, context)
    values = sitk.GetArrayViewFromImage(image)
    arr = ((values.astype(np.float64) - stats.mean) / stats.std).astype(np.float32)
    out = sitk.GetImageFromArray(arr)
    out.CopyInformation(image)
    return out, stats
