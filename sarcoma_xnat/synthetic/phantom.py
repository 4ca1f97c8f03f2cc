"""A thigh-like MR phantom with a lobulated, heterogeneous soft-tissue tumour.

The phantom is defined in continuous patient coordinates (DICOM LPS, mm), so any
grid can sample it: the T1 and T2 series of a session are two different grids over
the same anatomy, which is what registration-free physical-space resampling needs.

Tissues: air, skin, subcutaneous fat, muscle compartments separated by fat septa,
femur cortex and marrow, and a tumour whose cross-section at height ``z`` is the
star-shaped curve ``r(θ, z) = R · sqrt(1 - ((z - z0)/c)²) · (1 + Σ a_k cos(kθ + φ_k))``
with a necrotic core that is the same body scaled by ``necrotic_fraction ** (1/3)``
(so its volume fraction is exactly ``necrotic_fraction``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "CONTRAST",
    "Phantom",
    "TISSUES",
    "random_phantom",
]

#: tissue codes used by :meth:`Phantom.tissue_map`
TISSUES = {"air": 0, "skin": 1, "fat": 2, "muscle": 3, "septum": 4, "cortex": 5,
           "marrow": 6, "tumour": 7, "necrosis": 8}

#: mean signal per tissue for each weighting (arbitrary MR units)
CONTRAST = {
    "T1": np.array([0.0, 520.0, 900.0, 380.0, 840.0, 40.0, 860.0, 640.0, 210.0]),
    "T2": np.array([0.0, 300.0, 120.0, 270.0, 140.0, 30.0, 150.0, 820.0, 1350.0]),
}


@dataclass(frozen=True)
class Phantom:
    """Parameters of one subject's thigh and tumour (all lengths in mm)."""

    thigh_a: float
    thigh_b: float
    taper: float
    skin: float
    fat: float
    femur_xy: tuple[float, float]
    femur_r: float
    cortex: float
    septa_angles: tuple[float, ...]
    tumour_center: tuple[float, float, float]
    tumour_r: float
    tumour_c: float
    lobes: tuple[tuple[int, float, float], ...]
    twist: float
    necrotic_fraction: float
    heterogeneity: float
    texture: np.ndarray = field(repr=False)  # (K, 4): wave vector (3) and phase
    bias: dict[str, np.ndarray] = field(repr=False)  # weighting -> (M, 5): centre (3), sigma, weight

    # -- geometry -----------------------------------------------------------------
    def tumour_radius(self, theta: np.ndarray, z: np.ndarray | float, scale: float = 1.0) -> np.ndarray:
        """Return the tumour's boundary radius at angle ``theta`` and height ``z`` (0 outside)."""
        dz = (np.asarray(z, dtype=float) - self.tumour_center[2]) / (self.tumour_c * scale)
        profile = np.sqrt(np.clip(1.0 - dz * dz, 0.0, None))
        lobed = np.ones_like(np.asarray(theta, dtype=float))
        for k, amp, phase in self.lobes:
            lobed = lobed + amp * np.cos(k * theta + phase + self.twist * dz)
        return self.tumour_r * scale * profile * lobed

    def tumour_volume_mm3(self) -> float:
        """Return the exact tumour volume (necrotic core included)."""
        lobe_energy = sum(amp * amp for _, amp, _ in self.lobes) / 2.0
        return math.pi * self.tumour_r ** 2 * (4.0 * self.tumour_c / 3.0) * (1.0 + lobe_energy)

    def tumour_z_range(self) -> tuple[float, float]:
        """Return the lowest and highest ``z`` of the tumour."""
        z0 = self.tumour_center[2]
        return z0 - self.tumour_c, z0 + self.tumour_c

    def tumour_polygon(self, z: float, n_points: int = 64) -> np.ndarray:
        """Return the tumour outline at height ``z`` as an (n, 3) array in patient mm."""
        theta = np.linspace(0.0, 2 * math.pi, n_points, endpoint=False)
        r = self.tumour_radius(theta, z)
        cx, cy, _ = self.tumour_center
        return np.stack([cx + r * np.cos(theta), cy + r * np.sin(theta), np.full_like(theta, z)], 1)

    # -- sampling -----------------------------------------------------------------
    def tissue_map(self, x: np.ndarray, y: np.ndarray, z: float) -> np.ndarray:
        """Return tissue codes at in-plane points ``(x, y)`` on the plane at height ``z``."""
        scale = 1.0 - self.taper * (z / 100.0)
        a, b = self.thigh_a * scale, self.thigh_b * scale
        rn = np.sqrt((x / a) ** 2 + (y / b) ** 2)
        out = np.zeros(x.shape, dtype=np.uint8)
        out[rn <= 1.0] = TISSUES["skin"]
        out[rn <= 1.0 - self.skin / a] = TISSUES["fat"]
        inner = rn <= 1.0 - (self.skin + self.fat) / a
        out[inner] = TISSUES["muscle"]
        fx, fy = self.femur_xy
        dfx, dfy = x - fx, y - fy
        dist_femur = np.hypot(dfx, dfy)
        for septum in self.septa_angles:
            # distance from the ray leaving the femur at angle `septum`
            along = dfx * math.cos(septum) + dfy * math.sin(septum)
            across = np.abs(-dfx * math.sin(septum) + dfy * math.cos(septum))
            out[inner & (along > 0) & (across < 0.9)] = TISSUES["septum"]
        out[dist_femur <= self.femur_r] = TISSUES["cortex"]
        out[dist_femur <= self.femur_r - self.cortex] = TISSUES["marrow"]
        cx, cy, _ = self.tumour_center
        tx, ty = x - cx, y - cy
        rt, theta = np.hypot(tx, ty), np.arctan2(ty, tx)
        out[rt < self.tumour_radius(theta, z)] = TISSUES["tumour"]
        core_scale = self.necrotic_fraction ** (1.0 / 3.0)
        if core_scale > 0:
            out[rt < self.tumour_radius(theta, z, core_scale)] = TISSUES["necrosis"]
        return out

    def signal(self, weighting: str, x: np.ndarray, y: np.ndarray, z: float) -> np.ndarray:
        """Return the noise-free, bias-free signal of one plane for ``T1`` or ``T2``."""
        tissue = self.tissue_map(x, y, z)
        base = CONTRAST[weighting][tissue]  # fancy indexing: a fresh array
        in_tumour = (tissue == TISSUES["tumour"]) | (tissue == TISSUES["necrosis"])
        if in_tumour.any():
            pts = np.stack([x[in_tumour], y[in_tumour], np.full(int(in_tumour.sum()), z)], 1)
            waves = np.sin(pts @ self.texture[:, :3].T + self.texture[:, 3]).sum(1)
            waves /= math.sqrt(len(self.texture))
            base[in_tumour] *= 1.0 + self.heterogeneity * waves
        muscle = tissue == TISSUES["muscle"]
        if muscle.any():  # faint muscle striation so the image is not flat
            base[muscle] *= 1.0 + 0.025 * np.sin(0.11 * x[muscle] + 0.07 * y[muscle] + 0.05 * z)
        return base

    def bias_field(self, weighting: str, x: np.ndarray, y: np.ndarray, z: float) -> np.ndarray:
        """Return the smooth multiplicative coil-sensitivity field of one plane."""
        log_field = np.zeros(x.shape)
        for cx, cy, cz, sigma, weight in self.bias[weighting]:
            d2 = (x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2
            log_field += weight * np.exp(-d2 / (2.0 * sigma * sigma))
        return np.exp(log_field)


def _place_tumour(rng: np.random.Generator, a: float, b: float, fat: float, femur: np.ndarray,
                  femur_r: float, radius: float) -> np.ndarray:
    """Return a tumour centre in muscle, clear of the femur, with the tumour inside the fascia."""
    inner_a, inner_b = a - fat - 3.0, b - fat - 3.0
    best, best_margin = femur + np.array([femur_r + radius * 1.3, 0.0]), -np.inf
    for _ in range(64):
        angle = rng.uniform(0.0, 2 * math.pi)
        centre = femur + (femur_r + 4.0 + radius * rng.uniform(1.2, 1.5)) * np.array(
            [math.cos(angle), math.sin(angle)])
        # how far the lobulated edge (up to ~1.35 R) stays inside the fascia, in mm
        margin = min(inner_a, inner_b) * (1.0 - math.hypot(centre[0] / inner_a, centre[1] / inner_b))
        margin -= radius * 1.35
        if margin > 0:
            return centre
        if margin > best_margin:
            best, best_margin = centre, margin
    return best


def random_phantom(rng: np.random.Generator) -> Phantom:
    """Draw one subject's phantom from plausible anatomical ranges."""
    a = rng.uniform(74.0, 90.0)
    b = a * rng.uniform(0.84, 0.95)
    fat = rng.uniform(8.0, 18.0)
    femur_xy = (rng.uniform(-10.0, 10.0), rng.uniform(-4.0, 10.0))
    femur_r = rng.uniform(12.0, 15.0)
    radius = rng.uniform(16.0, 30.0)
    c = rng.uniform(30.0, 60.0)
    centre = _place_tumour(rng, a, b, fat, np.array(femur_xy), femur_r, radius)
    n_lobes = int(rng.integers(2, 5))
    ks = rng.choice(np.arange(2, 7), size=n_lobes, replace=False)
    lobes = tuple((int(k), float(rng.uniform(0.04, 0.12)), float(rng.uniform(0, 2 * math.pi)))
                  for k in sorted(ks))
    texture = np.empty((8, 4))
    directions = rng.normal(size=(8, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    texture[:, :3] = directions * (2 * math.pi / rng.uniform(9.0, 18.0, size=(8, 1)))
    texture[:, 3] = rng.uniform(0, 2 * math.pi, size=8)

    def coil(weight_scale: float) -> np.ndarray:
        m = 3
        out = np.empty((m, 5))
        out[:, 0] = rng.uniform(-120, 120, m)
        out[:, 1] = rng.uniform(-120, 120, m)
        out[:, 2] = rng.uniform(-150, 150, m)
        out[:, 3] = rng.uniform(90, 160, m)
        out[:, 4] = rng.uniform(-0.4, 1.0, m) * weight_scale
        return out

    return Phantom(
        thigh_a=a, thigh_b=b, taper=rng.uniform(0.02, 0.08), skin=rng.uniform(1.5, 2.5), fat=fat,
        femur_xy=femur_xy, femur_r=femur_r, cortex=rng.uniform(4.0, 6.0),
        septa_angles=tuple(rng.uniform(0, 2 * math.pi, size=3)),
        tumour_center=(float(centre[0]), float(centre[1]), float(rng.uniform(-20.0, 20.0))),
        tumour_r=radius, tumour_c=c, lobes=lobes, twist=float(rng.uniform(-0.6, 0.6)),
        necrotic_fraction=float(rng.beta(2.0, 3.5) * 0.6),
        heterogeneity=float(rng.uniform(0.05, 0.25)),
        texture=texture, bias={"T1": coil(0.6), "T2": coil(0.5)},
    )
