"""DICOM series → volume: geometry, ordering, rescale, enhanced MR, and every refusal."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from sarcoma_xnat.errors import GeometryError, InputDataError
from sarcoma_xnat.imaging.dicom_series import read_dicom_folder, read_scan
from sarcoma_xnat.imaging.nifti import write_nifti

CTX = {"session": "S1_MR", "scan": "7"}


def test_slices_ordered_by_position_not_name_or_instance_number(tmp_path, series_writer, ramp_volume):
    series_writer(tmp_path, ramp_volume, pixel_spacing=(0.8, 0.6), slice_spacing=3.0,
                  origin=(-10.0, -20.0, 5.0))
    vol = read_scan(tmp_path)
    arr = sitk.GetArrayFromImage(vol.image)
    np.testing.assert_array_equal(arr, ramp_volume.astype(np.float32))
    assert vol.image.GetSpacing() == pytest.approx((0.6, 0.8, 3.0))  # (x=cols, y=rows, z)
    assert vol.image.GetOrigin() == pytest.approx((-10.0, -20.0, 5.0))
    assert vol.image.GetDirection() == pytest.approx((1, 0, 0, 0, 1, 0, 0, 0, 1))
    assert vol.description == "T1 AX"
    assert len(vol.files) == 6 and len(set(vol.sop_uids)) == 6


def test_rescale_slope_and_intercept_are_applied(tmp_path, series_writer, ramp_volume):
    series_writer(tmp_path, ramp_volume, slope=0.5, intercept=-100)
    arr = sitk.GetArrayFromImage(read_scan(tmp_path).image)
    np.testing.assert_allclose(arr, ramp_volume * 0.5 - 100)


def test_sagittal_orientation_gives_the_right_affine(tmp_path, series_writer, ramp_volume):
    # rows along +y (A->P), columns along -z (S->I): normal = y x -z = -x
    series_writer(tmp_path, ramp_volume, orientation=(0, 1, 0, 0, 0, -1), slice_spacing=2.0,
                  origin=(30.0, 0.0, 0.0))
    img = read_scan(tmp_path).image
    # slice k is at x = 30 - 2k; sorted along the normal (-x) the first is at x = 30
    assert img.GetOrigin() == pytest.approx((30.0, 0.0, 0.0))
    assert img.GetDirection() == pytest.approx((0, 0, -1, 1, 0, 0, 0, -1, 0))
    arr = sitk.GetArrayFromImage(img)
    np.testing.assert_array_equal(arr, ramp_volume.astype(np.float32))
    # voxel (col 0, row 0, slice 5) is at x = 20
    assert img.TransformIndexToPhysicalPoint((0, 0, 5)) == pytest.approx((20.0, 0.0, 0.0))


def test_geometry_agrees_with_dcm2niix(tmp_path, small_session):
    # the dev extra installs it beside the interpreter, which is not on PATH unless the venv is active
    exe = shutil.which("dcm2niix", path=os.pathsep.join([os.path.dirname(sys.executable),
                                                         os.environ.get("PATH", "")]))
    if exe is None:
        pytest.skip("dcm2niix (dev extra) is not installed")
    out = tmp_path / "dcm2niix"
    out.mkdir()
    subprocess.run([exe, "-z", "n", "-b", "n", "-f", "ref", "-o", str(out), str(small_session["t1"])],
                   check=True, capture_output=True)
    ref = nib.as_closest_canonical(nib.load(out / "ref.nii"))
    ours_path = write_nifti(read_scan(small_session["t1"]).image, tmp_path / "ours.nii.gz")
    ours = nib.as_closest_canonical(nib.load(ours_path))
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours.affine, ref.affine, atol=1e-3)
    np.testing.assert_allclose(ours.get_fdata(), ref.get_fdata(), atol=1e-3)


def test_enhanced_multiframe_matches_classic(tmp_path, series_writer, enhanced_writer, ramp_volume):
    series_writer(tmp_path / "classic", ramp_volume, slope=2.0, intercept=1.0)
    enhanced_writer(tmp_path / "enh" / "mf.dcm", ramp_volume, frame_order=[3, 0, 5, 1, 4, 2],
                    slope=2.0, intercept=1.0)
    classic, enhanced = read_scan(tmp_path / "classic").image, read_scan(tmp_path / "enh").image
    np.testing.assert_array_equal(sitk.GetArrayFromImage(enhanced), sitk.GetArrayFromImage(classic))
    assert enhanced.GetOrigin() == pytest.approx(classic.GetOrigin())
    assert enhanced.GetSpacing() == pytest.approx(classic.GetSpacing())


def test_missing_slice_is_refused_naming_file_and_position(tmp_path, series_writer, ramp_volume):
    paths = series_writer(tmp_path, ramp_volume, slice_spacing=3.0, origin=(0, 0, 0))
    paths[3].unlink()  # slice at z = 9 mm
    with pytest.raises(GeometryError) as err:
        read_scan(tmp_path, CTX)
    msg = str(err.value)
    assert "3.000 to 6.000" in msg and "6.00 and 12.00" in msg
    assert paths[4].name in msg and "session S1_MR" in msg and "scan 7" in msg


def test_mixed_orientation_is_refused(tmp_path, series_writer, ramp_volume):
    series_writer(tmp_path, ramp_volume[:3], origin=(0, 0, 0))
    odd = series_writer(tmp_path / "x", ramp_volume[3:4], orientation=(1, 0, 0, 0, 0.9950042, 0.0998334),
                        origin=(0, 0, 9.0), series_uid=None)
    # same series UID as the others, in the same folder
    from pydicom import dcmread
    uid = dcmread(next(tmp_path.glob("img*.dcm"))).SeriesInstanceUID
    ds = dcmread(odd[0])
    ds.SeriesInstanceUID = uid
    ds.save_as(tmp_path / "odd.dcm")
    shutil.rmtree(tmp_path / "x")
    with pytest.raises(GeometryError, match="mixed slice orientations") as err:
        read_scan(tmp_path, CTX)
    assert "odd.dcm" in str(err.value)


def test_two_volumes_in_one_series_are_refused(tmp_path, series_writer, ramp_volume):
    uid = "1.2.826.0.1.3680043.8.498.77"
    series_writer(tmp_path / "a", ramp_volume, series_uid=uid)
    series_writer(tmp_path / "b", ramp_volume + 1, series_uid=uid)  # second echo, same positions
    with pytest.raises(GeometryError, match="more than one volume"):
        read_dicom_folder(tmp_path, CTX)


def test_enhanced_with_two_volumes_is_refused(tmp_path, enhanced_writer, ramp_volume):
    enhanced_writer(tmp_path / "mf.dcm", np.concatenate([ramp_volume, ramp_volume]),
                    frame_order=list(range(12)),
                    positions=[(0, 0, 3.0 * (k % 6)) for k in range(12)])
    with pytest.raises(GeometryError, match="more than one volume") as err:
        read_scan(tmp_path, CTX)
    assert "mf.dcm frame" in str(err.value)


def test_two_series_in_one_scan_folder_are_refused(tmp_path, series_writer, ramp_volume):
    series_writer(tmp_path / "a", ramp_volume)
    series_writer(tmp_path / "b", ramp_volume)
    with pytest.raises(GeometryError, match="expected one series in the scan, found 2"):
        read_scan(tmp_path, CTX)


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_corrupt_file_is_refused_naming_it(tmp_path, series_writer, ramp_volume, damage):
    paths = series_writer(tmp_path, ramp_volume)
    victim = paths[2]
    if damage == "truncate":
        victim.write_bytes(victim.read_bytes()[:-500])
    else:
        victim.write_bytes(b"this is not DICOM at all" * 10)
    with pytest.raises(InputDataError) as err:
        read_scan(tmp_path, CTX)
    assert victim.name in str(err.value) and "scan 7" in str(err.value)


def test_sheared_stack_is_refused(tmp_path, series_writer, ramp_volume):
    positions = [(0.0 + 2.0 * k, 0.0, 3.0 * k) for k in range(6)]  # gantry-tilt-like shift in x
    series_writer(tmp_path, ramp_volume, positions=positions)
    with pytest.raises(GeometryError, match="not stacked along the slice normal"):
        read_scan(tmp_path, CTX)


def test_errors_carry_no_phi(tmp_path, series_writer, ramp_volume):
    paths = series_writer(tmp_path, ramp_volume)
    paths[1].unlink()
    with pytest.raises(GeometryError) as err:
        read_scan(tmp_path, CTX)
    assert "Test^Phantom" not in str(err.value) and "TEST0001" not in str(err.value)
    assert str(tmp_path) not in str(err.value)  # relative file names only
