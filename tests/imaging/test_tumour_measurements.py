"""Tumour volume, longest diameters and bounding box from a mask."""

from __future__ import annotations

import math

import numpy as np
import pytest
import SimpleITK as sitk

from sarcoma_xnat.errors import AnnotationError
from sarcoma_xnat.imaging.measure import measure_mask


def _mask(arr: np.ndarray, spacing=(0.5, 1.0, 2.0), origin=(10.0, 20.0, 30.0)) -> sitk.Image:
    img = sitk.GetImageFromArray(arr.astype(np.uint8))
    img.SetSpacing(spacing)
    img.SetOrigin(origin)
    return img


def test_box_mask_measurements_by_hand():
    arr = np.zeros((10, 20, 30), np.uint8)
    arr[2:5, 3:9, 4:14] = 1  # 3 slices, 6 rows, 10 columns
    m = measure_mask(_mask(arr))
    assert m["voxel_count"] == 180 and m["volume_mm3"] == pytest.approx(180 * 0.5 * 1.0 * 2.0)
    # farthest voxel centres: 9 columns x 0.5, 5 rows x 1, 2 slices x 2 mm apart
    assert m["longest_diameter_mm"] == pytest.approx(math.sqrt(4.5 ** 2 + 5 ** 2 + 4 ** 2), abs=1e-3)
    assert m["longest_axial_diameter_mm"] == pytest.approx(math.sqrt(4.5 ** 2 + 5 ** 2), abs=1e-3)
    box = m["bounding_box"]
    assert box["index_min"] == [4, 3, 2] and box["index_max"] == [13, 8, 4]
    assert box["size_mm"] == [5.0, 6.0, 6.0]
    assert box["physical_min_mm"] == pytest.approx([10 + 3.5 * 0.5, 20 + 2.5, 30 + 1.5 * 2])


def test_ball_volume_and_diameter():
    r = 20.0
    z, y, x = np.mgrid[-24:25, -24:25, -24:25].astype(float)
    ball = (x ** 2 + y ** 2 + z ** 2) <= r ** 2
    m = measure_mask(_mask(ball, spacing=(1.0, 1.0, 1.0)))
    assert m["volume_mm3"] == pytest.approx(4 / 3 * math.pi * r ** 3, rel=0.01)
    assert m["longest_diameter_mm"] == pytest.approx(2 * r, abs=1.0)


def test_mask_touching_the_border_and_empty_masks():
    arr = np.zeros((3, 4, 5), np.uint8)
    arr[:, :, :] = 1  # the whole image: every voxel is on the surface
    m = measure_mask(_mask(arr, spacing=(1.0, 1.0, 1.0)))
    assert m["longest_diameter_mm"] == pytest.approx(math.sqrt(4 ** 2 + 3 ** 2 + 2 ** 2), abs=1e-3)
    with pytest.raises(AnnotationError, match="empty"):
        measure_mask(_mask(np.zeros((3, 4, 5))))
