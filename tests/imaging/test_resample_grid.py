"""The 128³ grid (whole FOV or tumour box) and physical-space resampling."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from sarcoma_xnat.errors import AnnotationError, ConfigurationError
from sarcoma_xnat.imaging.resample import (box_grid, fov_grid, overlap_fraction, physical_to_index,
                                           resample_to_grid)


def _reference() -> sitk.Image:
    img = sitk.Image([200, 160, 30], sitk.sitkFloat32)
    img.SetSpacing((0.8, 0.9, 5.0))
    img.SetOrigin((-80.0, -70.0, -60.0))
    return img


def _linear_image(ref: sitk.Image) -> sitk.Image:
    """An image whose value is 2x - y + 0.5z + 3 at every voxel centre (patient mm)."""
    nx, ny, nz = ref.GetSize()
    k, j, i = np.meshgrid(np.arange(nz), np.arange(ny), np.arange(nx), indexing="ij")
    ox, oy, oz = ref.GetOrigin()
    sx, sy, sz = ref.GetSpacing()
    x, y, z = ox + i * sx, oy + j * sy, oz + k * sz
    img = sitk.GetImageFromArray((2 * x - y + 0.5 * z + 3).astype(np.float32))
    img.CopyInformation(ref)
    return img


def test_fov_grid_covers_the_same_physical_box():
    ref = _reference()
    g = fov_grid(ref, 128)
    assert g.size == (128, 128, 128)
    assert g.spacing == pytest.approx((200 * 0.8 / 128, 160 * 0.9 / 128, 30 * 5.0 / 128))
    # the first voxel's outer edge coincides with the reference's first voxel's outer edge
    ref_edge = np.array([-80.0, -70.0, -60.0]) - np.array([0.8, 0.9, 5.0]) / 2
    assert np.array(g.origin) - np.array(g.spacing) / 2 == pytest.approx(ref_edge)


def test_box_grid_is_an_isotropic_cube_around_the_mask_plus_margin():
    ref = _reference()
    mask = sitk.Image(ref.GetSize(), sitk.sitkUInt8)
    mask.CopyInformation(ref)
    arr = np.zeros(ref.GetSize()[::-1], np.uint8)
    arr[10:14, 50:70, 100:150] = 1  # z 4 slices (20 mm), y 20 (18 mm), x 50 (40 mm)
    m = sitk.GetImageFromArray(arr)
    m.CopyInformation(ref)
    g = box_grid(ref, m, 64, margin_mm=10.0)
    side = 40.0 + 2 * 10.0
    assert g.spacing == pytest.approx((side / 64,) * 3)
    centre = np.array(g.origin) + np.array(g.spacing) * 63 / 2
    expected = np.array([-80 + 124.5 * 0.8, -70 + 59.5 * 0.9, -60 + 11.5 * 5.0])
    assert centre == pytest.approx(expected)
    with pytest.raises(AnnotationError, match="empty mask"):
        box_grid(ref, mask, 64)


def test_linear_resampling_reproduces_a_linear_function():
    ref = _reference()
    g = fov_grid(ref, 32)
    out = sitk.GetArrayFromImage(resample_to_grid(_linear_image(ref), g, "linear"))
    k, j, i = np.meshgrid(np.arange(32), np.arange(32), np.arange(32), indexing="ij")
    x = g.origin[0] + i * g.spacing[0]
    y = g.origin[1] + j * g.spacing[1]
    z = g.origin[2] + k * g.spacing[2]
    inside = (z >= -60) & (z <= -60 + 29 * 5.0) & (x >= -80) & (x <= -80 + 199 * 0.8) & \
        (y >= -70) & (y <= -70 + 159 * 0.9)
    np.testing.assert_allclose(out[inside], (2 * x - y + 0.5 * z + 3)[inside], atol=1e-3)


def test_nearest_keeps_mask_values_and_type():
    ref = _reference()
    arr = np.zeros(ref.GetSize()[::-1], np.uint8)
    arr[5:20, 40:120, 50:150] = 1
    m = sitk.GetImageFromArray(arr)
    m.CopyInformation(ref)
    out = resample_to_grid(m, fov_grid(ref, 64), "nearest", 0)
    assert out.GetPixelID() == sitk.sitkUInt8
    values = set(np.unique(sitk.GetArrayFromImage(out)).tolist())
    assert values == {0, 1}
    volume_out = sitk.GetArrayFromImage(out).sum() * np.prod(out.GetSpacing())
    ratio = volume_out / (arr.sum() * np.prod(ref.GetSpacing()))
    assert ratio == pytest.approx(1.0, abs=0.1)


def test_overlap_fraction_and_physical_to_index():
    ref = _reference()
    g = fov_grid(ref, 32)
    assert overlap_fraction(ref, g) == 1.0
    far = sitk.Image([10, 10, 10], sitk.sitkFloat32)
    far.SetOrigin((1000.0, 1000.0, 1000.0))
    assert overlap_fraction(far, g) == 0.0
    half = sitk.Image([100, 160, 30], sitk.sitkFloat32)  # left half of the x range only
    half.SetSpacing((0.8, 0.9, 5.0))
    half.SetOrigin((-80.0, -70.0, -60.0))
    assert overlap_fraction(half, g) == pytest.approx(0.5, abs=0.07)
    point = np.array([[-80 + 3 * 0.8, -70 + 2 * 0.9, -60 + 4 * 5.0]])
    assert physical_to_index(ref, point)[0] == pytest.approx((3, 2, 4))


def test_bad_grid_settings_are_configuration_errors():
    with pytest.raises(ConfigurationError):
        fov_grid(_reference(), 1)
    with pytest.raises(ConfigurationError, match="interpolator"):
        resample_to_grid(_reference(), fov_grid(_reference(), 8), "lanczos")
