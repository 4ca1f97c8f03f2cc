"""Agreement between two masks on one grid: Dice, 95 % Hausdorff distance (mm), volume difference (MONAI)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["compare_masks"]


def compare_masks(reference: np.ndarray, other: np.ndarray,
                  spacing_zyx: Sequence[float]) -> dict[str, Any]:
    """Return Dice, HD95 (mm) and volumes (mm³) of ``other`` against ``reference``.

    Both are ``(z, y, x)`` 0/1 arrays on one grid with voxel spacing ``spacing_zyx``.
    Dice and HD95 come from ``monai.metrics``; an empty mask gives HD95 ``None``.
    """
    import torch
    from monai.metrics import compute_dice, compute_hausdorff_distance

    ref = torch.from_numpy(np.asarray(reference) > 0)[None, None].float()
    oth = torch.from_numpy(np.asarray(other) > 0)[None, None].float()
    dice = float(compute_dice(oth, ref, include_background=True, ignore_empty=False)[0, 0])
    hd95: float | None = None
    if ref.any() and oth.any():
        hd = compute_hausdorff_distance(oth, ref, include_background=True, percentile=95,
                                        spacing=[float(s) for s in spacing_zyx])
        hd95 = round(float(hd[0, 0]), 3)
    voxel = float(np.prod(spacing_zyx))
    v_ref, v_oth = float(ref.sum()) * voxel, float(oth.sum()) * voxel
    return {"dice": round(dice, 4), "hd95_mm": hd95, "volume_reference_mm3": round(v_ref, 1),
            "volume_mm3": round(v_oth, 1), "volume_difference_mm3": round(v_oth - v_ref, 1),
            "volume_difference_fraction": round((v_oth - v_ref) / v_ref, 4) if v_ref else None}
