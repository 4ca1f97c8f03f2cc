"""Sampling the phantom on an axial MR acquisition grid: bias field and Rician noise."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sarcoma_xnat.synthetic.phantom import CONTRAST, TISSUES, Phantom

__all__ = ["AxialGrid", "PRESETS", "even_odd_inside", "rasterize_tumour", "render_series"]


@dataclass(frozen=True)
class AxialGrid:
    """An axial acquisition grid in patient coordinates (LPS, mm).

    ``origin`` is the centre of the first pixel of the first slice; rows run along
    +y (posterior), columns along +x (left), slices along +z (superior).
    """

    rows: int
    cols: int
    pixel: float
    slices: int
    slice_spacing: float
    origin: tuple[float, float, float]

    def xy(self) -> tuple[np.ndarray, np.ndarray]:
        """Return in-plane pixel-centre coordinates as two (rows, cols) arrays."""
        x = self.origin[0] + self.pixel * np.arange(self.cols)
        y = self.origin[1] + self.pixel * np.arange(self.rows)
        return np.meshgrid(x, y)

    def z(self, index: int) -> float:
        """Return the height of slice ``index``."""
        return self.origin[2] + index * self.slice_spacing

    @classmethod
    def centred(cls, rows: int, cols: int, pixel: float, slices: int, spacing: float,
                centre: tuple[float, float, float]) -> AxialGrid:
        """Return a grid whose field of view is centred on ``centre``."""
        origin = (centre[0] - pixel * (cols - 1) / 2.0, centre[1] - pixel * (rows - 1) / 2.0,
                  centre[2] - spacing * (slices - 1) / 2.0)
        return cls(rows, cols, pixel, slices, spacing, tuple(round(v, 3) for v in origin))


#: acquisition ranges per preset: (matrix, T1 pixel range, T1 slices range, T1 spacing range,
#: T2 pixel factor range, T2 slice spacing range)
PRESETS = {
    "standard": {"matrix": 256, "t1_pixel": (0.74, 0.86), "t1_slices": (38, 46),
                 "t1_spacing": (4.5, 5.0), "t2_pixel_factor": (1.04, 1.12),
                 "t2_spacing": (5.0, 5.5)},
    "small": {"matrix": 96, "t1_pixel": (2.0, 2.2), "t1_slices": (16, 18),
              "t1_spacing": (9.0, 10.0), "t2_pixel_factor": (1.04, 1.12),
              "t2_spacing": (10.5, 11.5)},
}


def render_series(phantom: Phantom, weighting: str, grid: AxialGrid, rng: np.random.Generator,
                  noise_fraction: float = 0.025) -> np.ndarray:
    """Return the magnitude image (slices, rows, cols) as uint16, with bias and Rician noise.

    Noise sigma is ``noise_fraction`` times the muscle signal; magnitude reconstruction
    of complex Gaussian noise gives the Rician distribution of real MR magnitude images.
    """
    x, y = grid.xy()
    sigma = noise_fraction * CONTRAST[weighting][TISSUES["muscle"]]
    out = np.empty((grid.slices, grid.rows, grid.cols), dtype=np.uint16)
    for k in range(grid.slices):
        z = grid.z(k)
        clean = phantom.signal(weighting, x, y, z) * phantom.bias_field(weighting, x, y, z)
        real = clean + rng.normal(0.0, sigma, clean.shape)
        imag = rng.normal(0.0, sigma, clean.shape)
        out[k] = np.clip(np.rint(np.hypot(real, imag)), 0, 4095).astype(np.uint16)
    return out


def even_odd_inside(polygon_xy: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Return which points ``(x, y)`` lie inside a closed polygon (even-odd rule)."""
    px, py = polygon_xy[:, 0], polygon_xy[:, 1]
    qx, qy = np.roll(px, -1), np.roll(py, -1)
    xs, ys = x.reshape(-1, 1), y.reshape(-1, 1)
    straddles = (py > ys) != (qy > ys)
    with np.errstate(divide="ignore", invalid="ignore"):
        cross_x = px + (ys - py) * (qx - px) / (qy - py)
    crossings = straddles & (xs < cross_x)
    return (crossings.sum(axis=1) % 2 == 1).reshape(x.shape)


def rasterize_tumour(phantom: Phantom, grid: AxialGrid, n_points: int = 64
                     ) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Return the annotation as a mask on ``grid`` and the polygon of each annotated slice.

    The annotation is what an annotator draws in OHIF: one closed polygon per slice that
    cuts the tumour. The mask is that polygon filled (pixel centres inside), so a SEG
    and an RTSTRUCT made from it describe the same region.
    """
    x, y = grid.xy()
    mask = np.zeros((grid.slices, grid.rows, grid.cols), dtype=bool)
    polygons: dict[int, np.ndarray] = {}
    zmin, zmax = phantom.tumour_z_range()
    reach = phantom.tumour_r * 1.6
    cx, cy, _ = phantom.tumour_center
    near = (np.abs(x - cx) < reach) & (np.abs(y - cy) < reach)
    for k in range(grid.slices):
        z = grid.z(k)
        if not (zmin < z < zmax):
            continue
        polygon = phantom.tumour_polygon(z, n_points)
        if math.hypot(*(polygon[0, :2] - polygon[n_points // 2, :2])) < 2 * grid.pixel:
            continue  # a sliver at the pole: an annotator would not draw it
        inside = np.zeros_like(near)
        inside[near] = even_odd_inside(polygon[:, :2], x[near], y[near])
        if inside.any():
            mask[k] = inside
            polygons[k] = polygon
    return mask, polygons
