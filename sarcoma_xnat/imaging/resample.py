"""Resampling onto one 128³ grid in physical space (whole field of view, or a tumour box).

The grid lives in the frame of a reference image (the T1 series): same direction
cosines, so the T2 series and the masks are resampled *into the T1 frame* by
physical position, without registration. Two grids:

* ``fov``: the reference's whole field of view, voxel edges on its edges (so the
  spacing is anisotropic when the field of view is);
* ``box``: an isotropic cube around a mask's bounding box plus a margin in mm.

Images use B-spline (or linear) interpolation, masks nearest neighbour.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import SimpleITK as sitk

from sarcoma_xnat.errors import AnnotationError, ConfigurationError

__all__ = [
    "Grid",
    "INTERPOLATORS",
    "box_grid",
    "fov_grid",
    "overlap_fraction",
    "physical_to_index",
    "resample_to_grid",
]

INTERPOLATORS = {"bspline": sitk.sitkBSpline, "linear": sitk.sitkLinear,
                 "nearest": sitk.sitkNearestNeighbor}


@dataclass(frozen=True)
class Grid:
    """A regular 3-D sampling grid in the patient frame (LPS, mm)."""

    size: tuple[int, int, int]
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: tuple[float, ...]

    def image(self, pixel_type: int = sitk.sitkUInt8) -> sitk.Image:
        """Return an empty image with this grid's geometry."""
        out = sitk.Image([int(n) for n in self.size], pixel_type)
        out.SetSpacing(self.spacing)
        out.SetOrigin(self.origin)
        out.SetDirection(self.direction)
        return out

    def describe(self) -> dict[str, Any]:
        """Return the grid as JSON-ready lists (rounded to 1e-6 mm)."""
        return {"size": list(self.size), "spacing_mm": [round(v, 6) for v in self.spacing],
                "origin_mm": [round(v, 6) for v in self.origin],
                "direction": [round(v, 6) for v in self.direction]}


def _matrix(image: sitk.Image | Grid) -> np.ndarray:
    return np.array(image.GetDirection() if isinstance(image, sitk.Image) else image.direction).reshape(3, 3)


def _size(size: int | tuple[int, int, int]) -> tuple[int, int, int]:
    dims = (size, size, size) if isinstance(size, int) else tuple(size)
    if len(dims) != 3 or min(dims) < 2:
        raise ConfigurationError(f"grid size must be 3 integers >= 2, got {size!r}")
    return (int(dims[0]), int(dims[1]), int(dims[2]))


def fov_grid(reference: sitk.Image, size: int | tuple[int, int, int] = 128) -> Grid:
    """Return a grid covering the whole field of view of ``reference`` with ``size`` voxels."""
    dims = _size(size)
    old_sp = np.array(reference.GetSpacing())
    extent = np.array(reference.GetSize()) * old_sp
    new_sp = extent / np.array(dims)
    origin = np.array(reference.GetOrigin()) + _matrix(reference) @ ((new_sp - old_sp) / 2)
    return Grid(dims, tuple(float(v) for v in new_sp), tuple(float(v) for v in origin),
                tuple(float(v) for v in reference.GetDirection()))


def box_grid(reference: sitk.Image, mask: sitk.Image, size: int | tuple[int, int, int] = 128,
             margin_mm: float = 20.0) -> Grid:
    """Return an isotropic cube grid around the mask's bounding box plus ``margin_mm``.

    ``mask`` must be on ``reference``'s grid. The cube is aligned with the
    reference's axes, centred on the bounding box, and its side is the box's
    longest physical edge plus twice the margin.
    """
    dims = _size(size)
    arr = sitk.GetArrayViewFromImage(mask)
    nz = np.nonzero(arr)
    if not nz[0].size:
        raise AnnotationError("cannot build a tumour box from an empty mask")
    lo = np.array([nz[2].min(), nz[1].min(), nz[0].min()], dtype=float) - 0.5
    hi = np.array([nz[2].max(), nz[1].max(), nz[0].max()], dtype=float) + 0.5
    spacing = np.array(reference.GetSpacing())
    side = float(np.max((hi - lo) * spacing) + 2 * margin_mm)
    new_sp = np.full(3, side) / np.array(dims)
    centre_index = (lo + hi) / 2
    direction = _matrix(reference)
    centre = np.array(reference.GetOrigin()) + direction @ (centre_index * spacing)
    origin = centre - direction @ (new_sp * (np.array(dims) - 1) / 2)
    return Grid(dims, tuple(float(v) for v in new_sp), tuple(float(v) for v in origin),
                tuple(float(v) for v in reference.GetDirection()))


def resample_to_grid(image: sitk.Image, grid: Grid, interpolator: str = "bspline",
                     default_value: float | None = None) -> sitk.Image:
    """Resample ``image`` onto ``grid`` by physical position (identity transform).

    Parameters
    ----------
    image : SimpleITK.Image
        Source image, any grid in the same frame of reference.
    grid : Grid
        Target grid.
    interpolator : {"bspline", "linear", "nearest"}
        ``nearest`` for masks (output keeps the input pixel type); images come out float32.
    default_value : float, optional
        Value outside the source field of view; the image minimum when omitted.
    """
    if interpolator not in INTERPOLATORS:
        raise ConfigurationError(f"unknown interpolator {interpolator!r}; "
                                 f"expected one of {sorted(INTERPOLATORS)}")
    if default_value is None:
        default_value = float(np.min(sitk.GetArrayViewFromImage(image)))
    pixel_type = image.GetPixelID() if interpolator == "nearest" else sitk.sitkFloat32
    return sitk.Resample(image, grid.image(), sitk.Transform(), INTERPOLATORS[interpolator],
                         float(default_value), pixel_type)


def physical_to_index(image: sitk.Image, points: np.ndarray) -> np.ndarray:
    """Map (N, 3) physical points (LPS mm) to continuous (x, y, z) voxel indices of ``image``."""
    scale = _matrix(image) * np.array(image.GetSpacing())
    rel = np.asarray(points, dtype=float) - np.array(image.GetOrigin())
    return np.linalg.solve(scale, rel.T).T


def overlap_fraction(image: sitk.Image, grid: Grid, samples: int = 16) -> float:
    """Return the fraction of ``grid`` (sampled ``samples``³ times) inside ``image``'s field of view."""
    axes = [np.linspace(0, n - 1, min(samples, n)) for n in grid.size]
    idx = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    points = np.array(grid.origin) + (idx * np.array(grid.spacing)) @ _matrix(grid).T
    cont = physical_to_index(image, points)
    size = np.array(image.GetSize())
    inside = np.all((cont >= -0.5) & (cont <= size - 0.5), axis=1)
    return float(inside.mean())
