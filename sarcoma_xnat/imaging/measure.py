"""Tumour measurements from a voxel mask: volume, longest diameter, bounding box.

* volume: voxel count × voxel volume (mm³), the definition that matches a SEG;
* longest diameter: the largest distance between two voxel centres of the mask
  (3-D), and the largest within one slice (axial, RECIST-like), in mm;
* bounding box: inclusive voxel index ranges and the physical extent of the box's
  voxel edges in the image's patient frame (LPS mm).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import SimpleITK as sitk
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError

from sarcoma_xnat.errors import AnnotationError

__all__ = ["MEASUREMENT_METHOD", "measure_mask"]

MEASUREMENT_METHOD = {
    "volume_mm3": "voxel count x voxel volume on the mask's grid",
    "longest_diameter_mm": "largest distance between two voxel centres of the mask (3-D)",
    "longest_axial_diameter_mm": "largest distance between two voxel centres within one slice",
    "bounding_box": "inclusive voxel index ranges (x, y, z) and the box's physical corners (LPS mm)",
}


def _points(image: sitk.Image, ijk: np.ndarray) -> np.ndarray:
    """Map (N, 3) (x, y, z) indices to physical points."""
    scale = np.array(image.GetDirection()).reshape(3, 3) * np.array(image.GetSpacing())
    return np.array(image.GetOrigin()) + ijk @ scale.T


def _max_distance(image: sitk.Image, ijk: np.ndarray) -> float:
    """Return the largest distance between the physical points of (N, 3) indices ``ijk``.

    Exact: the farthest pair lies on the convex hull, and an affine map keeps hull
    vertices, so the hull is taken in index space (2-D when the points are flat).
    """
    if len(ijk) < 2:
        return 0.0
    candidates = ijk
    axes = [a for a in range(3) if np.ptp(ijk[:, a]) > 0]
    if len(ijk) > 64 and len(axes) >= 2:
        try:
            candidates = ijk[ConvexHull(ijk[:, axes]).vertices]
        except QhullError:  # degenerate (collinear or flat off-axis): use every point
            candidates = ijk
    pts = _points(image, candidates)
    best = 0.0
    for start in range(0, len(pts), 1024):
        diff = pts[start:start + 1024, None, :] - pts[None, :, :]
        best = max(best, float(np.sqrt((diff ** 2).sum(-1)).max()))
    return best


def _slice_diameter(image: sitk.Image, ijk: np.ndarray) -> float:
    """Return the largest in-slice distance over the slices (constant z index) of ``ijk``."""
    return max(_max_distance(image, ijk[ijk[:, 2] == z]) for z in np.unique(ijk[:, 2]))


def measure_mask(mask: sitk.Image) -> dict[str, Any]:
    """Return volume, diameters and bounding box of the non-zero voxels of ``mask``."""
    arr = sitk.GetArrayViewFromImage(mask) > 0
    count = int(arr.sum())
    if count == 0:
        raise AnnotationError("cannot measure an empty mask")
    spacing = np.array(mask.GetSpacing())
    zyx = np.argwhere(arr)
    lo, hi = zyx.min(0)[::-1], zyx.max(0)[::-1]
    corners = np.array([[a, b, c] for a in (lo[0] - 0.5, hi[0] + 0.5)
                        for b in (lo[1] - 0.5, hi[1] + 0.5) for c in (lo[2] - 0.5, hi[2] + 0.5)])
    phys = _points(mask, corners)
    # only voxels on the mask's surface can be ends of the longest diameter
    eroded = ndimage.binary_erosion(arr, border_value=0)
    surface = np.argwhere(arr & ~eroded)[:, ::-1].astype(float)
    return {
        "voxel_count": count,
        "voxel_volume_mm3": round(float(np.prod(spacing)), 6),
        "volume_mm3": round(float(count * np.prod(spacing)), 3),
        "longest_diameter_mm": round(_max_distance(mask, surface), 3),
        "longest_axial_diameter_mm": round(_slice_diameter(mask, surface), 3),
        "bounding_box": {
            "index_min": [int(v) for v in lo], "index_max": [int(v) for v in hi],
            "size_voxels": [int(v) for v in hi - lo + 1],
            "size_mm": [round(float(v), 3) for v in (hi - lo + 1) * spacing],
            "physical_min_mm": [round(float(v), 3) for v in phys.min(0)],
            "physical_max_mm": [round(float(v), 3) for v in phys.max(0)],
        },
    }
