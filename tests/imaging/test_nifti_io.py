"""Reproducible NIfTI writing and reading."""

from __future__ import annotations

import gzip

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from sarcoma_xnat.errors import InputDataError
from sarcoma_xnat.imaging.nifti import read_nifti, write_nifti


def _image() -> sitk.Image:
    img = sitk.GetImageFromArray(np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6))
    img.SetSpacing((0.5, 0.7, 3.0))
    img.SetOrigin((10.0, -20.0, 30.0))
    return img


def test_same_image_gives_same_bytes_and_gzip_has_no_timestamp(tmp_path):
    a = write_nifti(_image(), tmp_path / "a" / "x.nii.gz")
    b = write_nifti(_image(), tmp_path / "b" / "x.nii.gz")
    assert a.read_bytes() == b.read_bytes()
    raw = a.read_bytes()
    assert raw[:2] == b"\x1f\x8b" and raw[4:8] == b"\x00\x00\x00\x00"  # MTIME field is zero
    assert raw[3] & 0x08 == 0  # FNAME flag not set
    assert len(list(tmp_path.rglob(".nifti-*"))) == 0  # no temporary files left


def test_round_trip_keeps_geometry_and_converts_lps_to_ras(tmp_path):
    path = write_nifti(_image(), tmp_path / "x.nii.gz")
    back = read_nifti(path)
    assert back.GetSpacing() == pytest.approx((0.5, 0.7, 3.0))
    assert back.GetOrigin() == pytest.approx((10.0, -20.0, 30.0))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(back), sitk.GetArrayFromImage(_image()))
    # NIfTI stores RAS: x and y of the LPS origin change sign
    assert nib.load(path).affine[:3, 3] == pytest.approx((-10.0, 20.0, 30.0))
    assert gzip.decompress(path.read_bytes())[:4] == (348).to_bytes(4, "little")


def test_unreadable_nifti_is_refused(tmp_path):
    bad = tmp_path / "bad.nii.gz"
    bad.write_bytes(b"nope")
    with pytest.raises(InputDataError, match="bad.nii.gz"):
        read_nifti(bad)
    with pytest.raises(InputDataError, match="missing.nii"):
        read_nifti(tmp_path / "missing.nii")
