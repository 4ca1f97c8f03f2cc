"""QC picture: axial, coronal and sagittal views of T1 and T2 with the mask outline.

One PNG: a header line (session label, series names, or "no annotation"), then one
row per image and one column per view, slices through the mask's centroid (or the
grid centre without a mask), drawn at their physical aspect ratio. Each panel says
which image and view it is and where the slice lies (patient coordinates, mm), has
orientation letters (R/L, A/P, S/I) on its edges computed from the image direction,
and a scale bar. The mask outline is two pixels wide in a saturated colour inside a
dark rim, so it stays visible on a bright (T2) tumour. Without a mask every panel
says "no annotation". Rendered with Pillow; no timestamp is written, so the same
input gives the same bytes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from PIL import Image, ImageDraw
from scipy import ndimage

__all__ = ["CELL", "HEADER", "OUTLINE", "orientation_letter", "write_qc_png"]

#: side of one panel in pixels
CELL = 256
#: height of the header line in pixels
HEADER = 18
#: colour of the mask outline
OUTLINE = (255, 40, 40)
_RIM = (0, 0, 0)
_LABEL = (255, 230, 0)
_NOTE = (0, 220, 255)
_LETTERS = (("R", "L"), ("A", "P"), ("I", "S"))  # negative, positive LPS direction
_VIEWS = ("axial", "coronal", "sagittal")


def orientation_letter(direction: Sequence[float]) -> str:
    """Return the patient direction (R, L, A, P, I or S) a vector in LPS points to most."""
    axis = int(np.argmax(np.abs(direction)))
    return _LETTERS[axis][1 if direction[axis] > 0 else 0]


def _window(arr: np.ndarray) -> np.ndarray:
    lo, hi = np.percentile(arr, [1, 99.5])
    if hi <= lo:
        hi = lo + 1.0
    return (np.clip((arr - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)


def _views(vol: np.ndarray, centre: tuple[int, int, int]) -> list[np.ndarray]:
    """Return axial, coronal and sagittal slices of a (z, y, x) array, superior up."""
    z, y, x = centre
    return [vol[z], vol[:, y, :][::-1], vol[:, :, x][::-1]]


def _edges(direction: np.ndarray) -> list[tuple[str, str, str, str]]:
    """Return (left, right, top, bottom) letters of each view for an image direction matrix."""
    cols = [direction[:, i] for i in range(3)]  # LPS direction of the x, y, z index axes
    xs = (orientation_letter(-cols[0]), orientation_letter(cols[0]))
    ys = (orientation_letter(-cols[1]), orientation_letter(cols[1]))
    zs = (orientation_letter(cols[2]), orientation_letter(-cols[2]))  # rows run inferior-wards
    return [(*xs, *ys), (*xs, *zs), (*ys, *zs)]


def _outline(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the two-pixel inner edge of a mask and the one-pixel rim around it."""
    inner = mask & ~ndimage.binary_erosion(mask, iterations=2, border_value=0)
    rim = ndimage.binary_dilation(mask, iterations=1) & ~mask
    return inner, rim


def _scale_bar(draw: ImageDraw.ImageDraw, scale: float) -> None:
    """Draw a 50 mm (or 10 mm, for a small field of view) bar in the lower right corner."""
    length_mm = 50 if 50 * scale <= CELL / 2 else 10
    px = int(round(length_mm * scale))
    x1, y = CELL - 8, CELL - 8
    draw.rectangle((x1 - px - 1, y - 2, x1 + 1, y + 2), fill=_RIM)
    draw.line((x1 - px, y, x1, y), fill=_LABEL, width=3)
    draw.text((x1 - px, y - 14), f"{length_mm} mm", fill=_LABEL)


def _panel(gray: np.ndarray, mask: np.ndarray | None, size_mm: tuple[float, float],
           scale: float, label: str, letters: tuple[str, str, str, str]) -> Image.Image:
    """Render one view into a CELL × CELL RGB panel."""
    w = max(1, int(round(size_mm[0] * scale)))
    h = max(1, int(round(size_mm[1] * scale)))
    img = Image.fromarray(gray).resize((w, h), Image.Resampling.BILINEAR).convert("RGB")
    if mask is not None and mask.any():
        big = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255)
                         .resize((w, h), Image.Resampling.NEAREST)) > 0
        inner, rim = _outline(big)
        rgb = np.asarray(img).copy()
        rgb[rim] = _RIM
        rgb[inner] = OUTLINE
        img = Image.fromarray(rgb)
    cell = Image.new("RGB", (CELL, CELL))
    left, top = (CELL - w) // 2, (CELL - h) // 2
    cell.paste(img, (left, top))
    draw = ImageDraw.Draw(cell)
    draw.text((4, 3), label, fill=_LABEL)
    l_, r_, t_, b_ = letters
    mid_y, mid_x = CELL // 2 - 5, CELL // 2 - 3
    draw.text((2, mid_y), l_, fill=_LABEL)
    draw.text((CELL - 9, mid_y), r_, fill=_LABEL)
    draw.text((mid_x, max(14, top + 1)), t_, fill=_LABEL)
    draw.text((mid_x, min(CELL - 26, top + h - 12)), b_, fill=_LABEL)
    if mask is None:
        draw.text((4, CELL - 14), "no annotation", fill=_NOTE)
    _scale_bar(draw, scale)
    return cell


def _slice_positions(ref: sitk.Image, centre: tuple[int, int, int]) -> list[str]:
    """Return where each view's slice lies, as the patient coordinate it fixes (mm)."""
    z, y, x = centre
    point = ref.TransformIndexToPhysicalPoint((x, y, z))
    direction = np.array(ref.GetDirection(), dtype=float).reshape(3, 3)
    out = []
    for axis in (2, 1, 0):  # axial fixes the z index, coronal y, sagittal x
        lps = int(np.argmax(np.abs(direction[:, axis])))
        letter = _LETTERS[lps][1]
        out.append(f"{letter} {point[lps]:+.1f} mm")
    return out


def write_qc_png(path: str | os.PathLike[str], images: Mapping[str, sitk.Image],
                 mask: sitk.Image | None = None, title: str | None = None,
                 series: Mapping[str, str] | None = None) -> Path:
    """Write the QC picture of ``images`` (same grid, e.g. ``{"T1": ..., "T2": ...}``) to ``path``.

    ``title`` (the session label) and ``series`` (image name → series description)
    go into the header; a ``mask`` that is None or empty is reported as "no annotation".
    """
    names = list(images)
    ref = images[names[0]]
    nx, ny, nz = ref.GetSize()
    sx, sy, sz = ref.GetSpacing()
    mask_arr = sitk.GetArrayFromImage(mask) > 0 if mask is not None else None
    if mask_arr is not None and not mask_arr.any():
        mask_arr = None
    if mask_arr is not None:
        c = ndimage.center_of_mass(mask_arr)
        centre = (int(round(c[0])), int(round(c[1])), int(round(c[2])))
    else:
        centre = (nz // 2, ny // 2, nx // 2)
    sizes = [(nx * sx, ny * sy), (nx * sx, nz * sz), (ny * sy, nz * sz)]
    scale = (CELL - 8) / max(max(s) for s in sizes)
    letters = _edges(np.array(ref.GetDirection(), dtype=float).reshape(3, 3))
    positions = _slice_positions(ref, centre)
    sheet = Image.new("RGB", (3 * CELL, HEADER + len(names) * CELL))
    header = [title or "session"]
    header += [f"{n}: {series[n]}" for n in names if series and series.get(n)]
    header.append("mask outline red" if mask_arr is not None else "no annotation")
    ImageDraw.Draw(sheet).text((4, 3), "  |  ".join(header), fill=_LABEL)
    mask_views = _views(mask_arr, centre) if mask_arr is not None else [None, None, None]
    for row, name in enumerate(names):
        vol = _window(sitk.GetArrayViewFromImage(images[name]).astype(np.float32))
        for col, (view, m, size) in enumerate(zip(_views(vol, centre), mask_views, sizes)):
            label = f"{name} {_VIEWS[col]}  {positions[col]}"
            sheet.paste(_panel(view, m, size, scale, label, letters[col]),
                        (col * CELL, HEADER + row * CELL))
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, format="PNG", optimize=False)
    return out
