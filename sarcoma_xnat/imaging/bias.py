"""N4 bias-field correction fitted on a shrunk image, the field applied at full resolution.

Plain N4 at full resolution takes minutes per series; its runtime grows with the
number of voxels it fits. Here the image and the foreground mask are shrunk to
about ``target_voxels`` voxels (shrink factors chosen per axis from the voxel
size, so the shrunk voxels are near-isotropic), N4 fits the B-spline field
there, and :meth:`GetLogBiasFieldAsImage` evaluates the same field on the
full-resolution grid.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import SimpleITK as sitk

__all__ = ["DEFAULT_TARGET_VOXELS", "DEFAULT_THREADS", "N4Result", "n4_correct", "shrink_factors"]

#: about 40^3 voxels: fits in seconds, agrees with full-resolution N4 (see benchmarks/preprocess.py)
DEFAULT_TARGET_VOXELS = 64_000
#: N4's B-spline fit sums in per-thread order, so its output depends on the thread count
#: (of the filter *and* of ITK's global default, which its inner filters use); a fixed count
#: makes the result the same on every machine (laptop, container, XNAT node)
DEFAULT_THREADS = 2


@contextlib.contextmanager
def _itk_threads(threads: int | None) -> Iterator[None]:
    """Set ITK's global default thread count for the duration of the block."""
    if not threads:
        yield
        return
    old = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(int(threads))
    try:
        yield
    finally:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(old)


@dataclass(frozen=True)
class N4Result:
    """Output of :func:`n4_correct`."""

    corrected: sitk.Image
    log_bias_field: sitk.Image
    shrink: tuple[int, ...]
    iterations: tuple[int, ...]


def shrink_factors(image: sitk.Image, target_voxels: int = DEFAULT_TARGET_VOXELS) -> tuple[int, ...]:
    """Return per-axis integer shrink factors giving about ``target_voxels`` near-isotropic voxels."""
    size, spacing = image.GetSize(), image.GetSpacing()
    if math.prod(size) <= target_voxels:
        return tuple(1 for _ in size)
    extent = math.prod(n * s for n, s in zip(size, spacing))
    step = (extent / target_voxels) ** (1.0 / len(size))
    factors: tuple[int, ...] = ()
    for _ in range(50):
        factors = tuple(max(1, min(n, int(round(step / s)))) for n, s in zip(size, spacing))
        if math.prod(math.ceil(n / f) for n, f in zip(size, factors)) <= 1.5 * target_voxels:
            break
        step *= 1.1
    return factors


def n4_correct(
    image: sitk.Image,
    mask: sitk.Image | None = None,
    *,
    shrink: Sequence[int] | None = None,
    target_voxels: int = DEFAULT_TARGET_VOXELS,
    iterations: Sequence[int] = (50, 50, 50),
    control_points: int = 4,
    convergence: float = 1e-3,
    threads: int | None = DEFAULT_THREADS,
) -> N4Result:
    """Correct the bias field of ``image``: fit N4 on a shrunk copy, divide at full resolution.

    Parameters
    ----------
    image : SimpleITK.Image
        Scalar image (cast to float32).
    mask : SimpleITK.Image, optional
        uint8 0/1 foreground mask on the image grid; the whole image when omitted.
    shrink : sequence of int, optional
        Per-axis shrink factors; chosen by :func:`shrink_factors` when omitted.
    target_voxels : int
        Voxel count aimed at when choosing shrink factors.
    iterations : sequence of int
        Maximum iterations per fitting level; its length is the number of levels.
    control_points : int
        B-spline control points per axis at the first level.
    convergence : float
        N4 convergence threshold.
    threads : int or None
        Worker threads for the fit. The result depends on it (summation order), so it
        is fixed by default for reproducible bytes; ``None`` uses ITK's default.
    """
    img = sitk.Cast(image, sitk.sitkFloat32)
    if mask is None:
        mask = sitk.Image(img.GetSize(), sitk.sitkUInt8) + 1
        mask.CopyInformation(img)
    mask = sitk.Cast(mask > 0, sitk.sitkUInt8)
    factors = tuple(int(f) for f in shrink) if shrink is not None else shrink_factors(img, target_voxels)
    small = sitk.Shrink(img, list(factors)) if any(f > 1 for f in factors) else img
    small_mask = sitk.Shrink(mask, list(factors)) if any(f > 1 for f in factors) else mask
    n4 = sitk.N4BiasFieldCorrectionImageFilter()
    n4.SetMaximumNumberOfIterations([int(i) for i in iterations])
    n4.SetNumberOfControlPoints([int(control_points)] * img.GetDimension())
    n4.SetConvergenceThreshold(float(convergence))
    with _itk_threads(threads):
        if threads:
            n4.SetNumberOfThreads(int(threads))
        n4.Execute(small, small_mask)
        log_field = n4.GetLogBiasFieldAsImage(img)
    corrected = sitk.Cast(img / sitk.Exp(log_field), sitk.sitkFloat32)
    return N4Result(corrected=corrected, log_bias_field=sitk.Cast(log_field, sitk.sitkFloat32),
                    shrink=factors, iterations=tuple(int(i) for i in iterations))
