"""QC picture: axial, coronal and sagittal views of T1 and T2 with the mask outline.

One PNG, one row per image, one column per view, slices through the mask's
centroid (or the grid centre without a mask), drawn at their physical aspect
ratio, radiological convention (patient right on the image left for axial and
coronal views, superior up). Rendered with Pillow; no timestamp is written, so
the same input gives the same bytes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from PIL import Image, ImageDraw
from scipy import ndimage

__all__ = ["CELL", "write_qc_png"]

#: side of one panel in pixels
CELL = 256
_OUTLINE = (255, 40, 40)
_LABEL = (255, 230, 0)


def _window(arr: np.ndarray) -> np.ndarray:
    lo, hi = np.percentile(arr, [1, 99.5])
    if hi <= lo:
        hi = lo + 1.0
    return (np.clip((arr - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)


def _views(vol: np.ndarray, centre: tuple[int, int, int]) -> list[np.ndarray]:
    """Return axial, coronal and sagittal slices of a (z, y, x) array, superior up."""
    z, y, x = centre
    return [vol[z], vol[:, y, :][::-1], vol[:, :, x][::-1]]


def _panel(gray: np.ndarray, mask: np.ndarray | None, size_mm: tuple[float, float],
           scale: float, label: str) -> Image.Image:
    """Render one view into a CELL × CELL RGB panel."""
    w = max(1, int(round(size_mm[0] * scale)))
    h = max(1, int(round(size_mm[1] * scale)))
    img = Image.fromarray(gray).resize((w, h), Image.Resampling.BILINEAR).convert("RGB")
    if mask is not None and mask.any():
        big = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255)
                         .resize((w, h), Image.Resampling.NEAREST)) > 0
        edge = big & ~ndimage.binary_erosion(big, border_value=0)
        rgb = np.asarray(img).copy()
        rgb[edge] = _OUTLINE
        img = Image.fromarray(rgb)
    cell = Image.new("RGB", (CELL, CELL))
    cell.paste(img, ((CELL - w) // 2, (CELL - h) // 2))
    ImageDraw.Draw(cell).text((4, 3), label, fill=_LABEL)
    return cell


def write_qc_png(path: str | os.PathLike[str], images: Mapping[str, sitk.Image],
                 mask: sitk.Image | None = None) -> Path:
    """Write the QC picture of ``images`` (same grid, e.g. ``{"T1": ..., "T2": ...}``) to ``path``."""
    names = list(images)
    ref = images[names[0]]
    nx, ny, nz = ref.GetSize()
    sx, sy, sz = ref.GetSpacing()
    mask_arr = sitk.GetArrayFromImage(mask) > 0 if mask is not None else None
    if mask_arr is not None and mask_arr.any():
        c = ndimage.center_of_mass(mask_arr)
        centre = (int(round(c[0])), int(round(c[1])), int(round(c[2])))
    else:
        centre = (nz // 2, ny // 2, nx // 2)
    sizes = [(nx * sx, ny * sy), (nx * sx, nz * sz), (ny * sy, nz * sz)]
    scale = (CELL - 8) / max(max(s) for s in sizes)
    sheet = Image.new("RGB", (3 * CELL, len(names) * CELL))
    mask_views = _views(mask_arr, centre) if mask_arr is not None else [None, None, None]
    for row, name in enumerate(names):
        vol = _window(sitk.GetArrayViewFromImage(images[name]).astype(np.float32))
        for col, (view, m, size, title) in enumerate(
                zip(_views(vol, centre), mask_views, sizes, ("axial", "coronal", "sagittal"))):
            sheet.paste(_panel(view, m, size, scale, f"{name} {title}"), (col * CELL, row * CELL))
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, format="PNG", optimize=False)
    return out
