"""N4 on a shrunk image with the field at full resolution; foreground masks; z-score."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from sarcoma_xnat.errors import InputDataError
from sarcoma_xnat.imaging.bias import n4_correct, shrink_factors
from sarcoma_xnat.imaging.intensity import foreground_mask, zscore


def _phantom(bias: bool = True) -> tuple[sitk.Image, np.ndarray]:
    """A cylinder of two tissues in air, times a smooth known field; returns image and body mask."""
    z, y, x = np.meshgrid(np.arange(24), np.arange(80), np.arange(80), indexing="ij")
    r = np.hypot(x - 40, y - 40)
    body = r < 30
    tissue = np.where(r < 12, 400.0, 900.0) * body
    field = np.exp(0.35 * (x - 40) / 40 + 0.2 * (z - 12) / 12) if bias else 1.0
    noise = np.random.default_rng(0).normal(0, 5, tissue.shape)
    arr = np.clip(tissue * field + noise * body + 2, 1, None).astype(np.float32)
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing((1.5, 1.5, 4.0))
    return img, body


def test_shrink_factors_aim_at_the_target_and_near_isotropic_voxels():
    img = sitk.Image([256, 256, 40], sitk.sitkFloat32)
    img.SetSpacing((0.75, 0.75, 5.0))
    f = shrink_factors(img, 64_000)
    assert f[2] == 1 and f[0] == f[1] and f[0] > 1  # in-plane only: z is already coarse
    shrunk = np.prod([np.ceil(n / k) for n, k in zip(img.GetSize(), f)])
    assert 64_000 / 3 < shrunk <= 1.5 * 64_000
    assert shrink_factors(sitk.Image([10, 10, 10], sitk.sitkFloat32), 64_000) == (1, 1, 1)


def test_n4_removes_a_known_bias_field():
    img, body = _phantom()
    outer = body & (np.hypot(*np.meshgrid(np.arange(80) - 40, np.arange(80) - 40, indexing="xy")) > 15)
    before = sitk.GetArrayFromImage(img)[outer]
    result = n4_correct(img, foreground_mask(img), target_voxels=20_000, iterations=(30, 30, 30))
    after = sitk.GetArrayFromImage(result.corrected)[outer]
    cv = lambda v: float(np.std(v) / np.mean(v))  # noqa: E731
    assert cv(before) > 0.15  # the field makes one tissue vary by > 15 %
    assert cv(after) < 0.35 * cv(before)
    assert result.corrected.GetSize() == img.GetSize()  # field applied at full resolution
    assert max(result.shrink) > 1


def test_n4_result_does_not_depend_on_the_machine_thread_count():
    img, _ = _phantom()
    mask = foreground_mask(img)
    old = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    outs = []
    try:
        for threads in (1, 3):
            sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)
            r = n4_correct(img, mask, target_voxels=20_000, iterations=(10, 10))
            outs.append(sitk.GetArrayFromImage(r.corrected))
    finally:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(old)
    np.testing.assert_array_equal(outs[0], outs[1])


def test_foreground_mask_finds_the_body():
    img, body = _phantom(bias=False)
    mask = sitk.GetArrayFromImage(foreground_mask(img)).astype(bool)
    dice = 2 * (mask & body).sum() / (mask.sum() + body.sum())
    assert dice > 0.97


def test_zscore_uses_foreground_statistics():
    img, body = _phantom(bias=False)
    mask = sitk.GetImageFromArray(body.astype(np.uint8))
    mask.CopyInformation(img)
    out, stats = zscore(img, mask)
    values = sitk.GetArrayFromImage(img).astype(np.float64)[body]
    assert stats.mean == pytest.approx(values.mean()) and stats.std == pytest.approx(values.std())
    z = sitk.GetArrayFromImage(out)
    assert float(z[body].mean()) == pytest.approx(0.0, abs=1e-4)
    assert float(z[body].std()) == pytest.approx(1.0, abs=1e-4)
    assert float(z[~body].mean()) < -1.5  # air stays below the tissue, not re-centred


def test_zero_variance_is_an_error_not_a_divide_by_one():
    img = sitk.Image([10, 10, 4], sitk.sitkFloat32) + 7.0
    with pytest.raises(InputDataError, match="zero variance") as err:
        zscore(img, None, context={"session": "S1_MR", "scan": "2"})
    assert "scan 2" in str(err.value)


def test_non_finite_values_and_empty_masks_are_errors():
    arr = np.ones((4, 10, 10), np.float32)
    arr[0, 0, 0] = np.nan
    with pytest.raises(InputDataError, match="non-finite"):
        zscore(sitk.GetImageFromArray(arr))
    img = sitk.GetImageFromArray(np.random.default_rng(1).random((4, 10, 10)).astype(np.float32))
    empty = sitk.Image(img.GetSize(), sitk.sitkUInt8)
    with pytest.raises(InputDataError, match="empty foreground"):
        zscore(img, empty)
    with pytest.raises(InputDataError, match="no foreground"):
        foreground_mask(sitk.Image([10, 10, 4], sitk.sitkFloat32))
