"""ROI collections → masks: SEG (highdicom) and RTSTRUCT (rasterized), segment choice, refusals."""

from __future__ import annotations

from pathlib import Path

import highdicom as hd
import numpy as np
import pytest
import SimpleITK as sitk
from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sr.codedict import codes
from pydicom.uid import ExplicitVRLittleEndian, RTStructureSetStorage, generate_uid

from sarcoma_xnat.errors import AnnotationError
from sarcoma_xnat.imaging.dicom_series import read_scan
from sarcoma_xnat.imaging.roi import pick_segment, roi_mask
from sarcoma_xnat.imaging.rtstruct import fill_polygon

CTX = {"session": "S1_MR", "assessor": "S1_MR_SEG"}


def _dice(a: sitk.Image, b: sitk.Image) -> float:
    x, y = sitk.GetArrayFromImage(a) > 0, sitk.GetArrayFromImage(b) > 0
    return float(2 * (x & y).sum() / (x.sum() + y.sum()))


def test_seg_and_rtstruct_of_the_same_annotation_agree(small_session):
    t1, t2 = read_scan(small_session["t1"]), read_scan(small_session["t2"])
    volumes = {t1.series_uid: t1, t2.series_uid: t2}
    seg = roi_mask(small_session["seg"], t1, volumes)
    rt = roi_mask(small_session["rtstruct"], t1, volumes)
    assert seg.kind == "SEG" and rt.kind == "RTSTRUCT"
    assert seg.segment_label == rt.segment_label == "Tumour"
    assert _dice(seg.mask, rt.mask) >= 0.95
    # the SEG is the generator's own rasterization: its volume is the recorded truth
    truth = small_session["manifest"].truth["SYN001"]["annotation_volume_mm3"]
    volume = sitk.GetArrayFromImage(seg.mask).sum() * np.prod(t1.image.GetSpacing())
    assert volume == pytest.approx(truth, rel=1e-3)
    assert seg.mask.GetSize() == t1.image.GetSize()


def test_dangling_reference_is_refused(small_session):
    t1, t2 = read_scan(small_session["t1"]), read_scan(small_session["t2"])
    with pytest.raises(AnnotationError, match="not in the session") as err:
        roi_mask(small_session["seg"], t2, {t2.series_uid: t2}, context=CTX)  # T1 missing
    assert t1.series_uid in str(err.value) and "SEG" in str(err.value)
    with pytest.raises(AnnotationError, match="dangling"):
        roi_mask(small_session["rtstruct"], t2, {t2.series_uid: t2}, context=CTX)


def _two_segment_seg(folder: Path, sources: list[Dataset], masks: dict[str, np.ndarray],
                     omit_empty: bool = True) -> Path:
    descriptions = [hd.seg.SegmentDescription(
        segment_number=i, segment_label=label,
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=codes.SCT.Neoplasm,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL) for i, label in enumerate(masks, 1)]
    stack = np.stack(list(masks.values()), axis=-1).astype(np.uint8)
    seg = hd.seg.Segmentation(
        source_images=sources, pixel_array=stack, segmentation_type="BINARY",
        segment_descriptions=descriptions, series_instance_uid=generate_uid(), series_number=9,
        sop_instance_uid=generate_uid(), instance_number=1, manufacturer="tests",
        manufacturer_model_name="tests", software_versions="0", device_serial_number="0",
        omit_empty_frames=omit_empty)
    path = folder / "seg.dcm"
    seg.save_as(path)
    return path


@pytest.fixture
def ramp_series(tmp_path, series_writer, ramp_volume):
    folder = tmp_path / "series"
    series_writer(folder, ramp_volume)
    volume = read_scan(folder)
    sources = sorted((dcmread(p) for p in folder.glob("*.dcm")),
                     key=lambda d: float(d.ImagePositionPatient[2]))
    return volume, sources


def test_segment_is_chosen_by_label_among_several(tmp_path, ramp_series):
    volume, sources = ramp_series
    oedema = np.zeros((6, 12, 10), bool)
    oedema[1:5, 2:10, 2:8] = True
    tumour = np.zeros((6, 12, 10), bool)
    tumour[2:4, 4:7, 3:6] = True  # 2 x 3 x 3 = 18 voxels
    path = _two_segment_seg(tmp_path, sources, {"Oedema": oedema, "Tumour": tumour})
    vols = {volume.series_uid: volume}
    default = roi_mask(path, volume, vols)  # several segments: the one named Tumour
    assert default.segment_label == "Tumour" and default.segment_number == 2
    np.testing.assert_array_equal(sitk.GetArrayFromImage(default.mask), tumour.astype(np.uint8))
    chosen = roi_mask(path, volume, vols, segment_label="oedema")
    assert int(sitk.GetArrayFromImage(chosen.mask).sum()) == int(oedema.sum())
    with pytest.raises(AnnotationError, match="'Oedema'.*'Tumour'|1: 'Oedema', 2: 'Tumour'"):
        roi_mask(path, volume, vols, segment_label="Necrosis", context=CTX)


def test_empty_segment_is_refused(tmp_path, ramp_series):
    volume, sources = ramp_series
    empty = np.zeros((6, 12, 10), bool)
    some = np.zeros((6, 12, 10), bool)
    some[2, 2:4, 2:4] = True
    path = _two_segment_seg(tmp_path, sources, {"Tumour": empty, "Other": some}, omit_empty=False)
    with pytest.raises(AnnotationError, match="empty") as err:
        roi_mask(path, volume, {volume.series_uid: volume}, segment_label="Tumour", context=CTX)
    assert "assessor S1_MR_SEG" in str(err.value) and "seg.dcm" in str(err.value)


def _rtstruct(path: Path, volume, sources: list[Dataset], contours: dict[str, list[np.ndarray]]) -> Path:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = RTStructureSetStorage
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = RTStructureSetStorage
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.Modality = "RTSTRUCT"
    frame = Dataset()
    frame.FrameOfReferenceUID = volume.frame_of_reference_uid
    study, series = Dataset(), Dataset()
    series.SeriesInstanceUID = volume.series_uid
    study.RTReferencedSeriesSequence = [series]
    frame.RTReferencedStudySequence = [study]
    ds.ReferencedFrameOfReferenceSequence = [frame]
    ds.StructureSetROISequence, ds.ROIContourSequence = [], []
    for number, (name, polys) in enumerate(contours.items(), 1):
        roi = Dataset()
        roi.ROINumber, roi.ROIName = number, name
        roi.ReferencedFrameOfReferenceUID = volume.frame_of_reference_uid
        ds.StructureSetROISequence.append(roi)
        item = Dataset()
        item.ReferencedROINumber = number
        item.ContourSequence = []
        for poly in polys:
            c = Dataset()
            c.ContourGeometricType = "CLOSED_PLANAR"
            c.NumberOfContourPoints = len(poly)
            c.ContourData = [f"{v:.4f}" for v in poly.ravel()]
            item.ContourSequence.append(c)
        ds.ROIContourSequence.append(item)
    ds.save_as(path, enforce_file_format=True)
    return path


def _square(x0: float, y0: float, x1: float, y1: float, z: float) -> np.ndarray:
    return np.array([[x0, y0, z], [x1, y0, z], [x1, y1, z], [x0, y1, z]], float)


def test_rtstruct_contours_with_a_hole(tmp_path, ramp_series):
    volume, sources = ramp_series
    # series origin (-10, -20, 5), 1 mm pixels, 3 mm slices: slice 2 is at z = 11
    outer = _square(-10 + 1.5, -20 + 1.5, -10 + 7.5, -20 + 7.5, 11.0)  # pixel centres 2..7
    hole = _square(-10 + 3.5, -20 + 3.5, -10 + 5.5, -20 + 5.5, 11.0)  # pixel centres 4..5
    path = _rtstruct(tmp_path / "rt.dcm", volume, sources, {"Body": [outer], "Tumour": [outer, hole]})
    result = roi_mask(path, volume, {volume.series_uid: volume})
    arr = sitk.GetArrayFromImage(result.mask)
    expected = np.zeros_like(arr)
    expected[2, 2:8, 2:8] = 1
    expected[2, 4:6, 4:6] = 0
    np.testing.assert_array_equal(arr, expected)


def test_rtstruct_contour_between_slices_is_refused(tmp_path, ramp_series):
    volume, sources = ramp_series
    off = _square(-8, -18, -4, -14, 12.5)  # half-way between slices at 11 and 14
    path = _rtstruct(tmp_path / "rt.dcm", volume, sources, {"Tumour": [off]})
    with pytest.raises(AnnotationError, match="does not lie on a slice"):
        roi_mask(path, volume, {volume.series_uid: volume}, context=CTX)


def test_fill_polygon_even_odd_and_clipping():
    tri = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
    mask = fill_polygon(tri, (6, 6))
    # pixel centres (c, r) with c + r < 4, c >= 0, r >= 0 (left/top edges inclusive)
    expected = np.add.outer(np.arange(6), np.arange(6)) < 4
    np.testing.assert_array_equal(mask, expected)
    assert not fill_polygon(tri + 100, (6, 6)).any()


def test_pick_segment_rules():
    assert pick_segment({3: "Lesion"}, None, "SEG", {}) == (3, "Lesion")
    assert pick_segment({1: "Oedema", 2: "TUMOR"}, None, "SEG", {}) == (2, "TUMOR")
    with pytest.raises(AnnotationError, match="ambiguous"):
        pick_segment({1: "Tumour", 2: "tumour"}, None, "SEG", {})
    with pytest.raises(AnnotationError, match="no segments"):
        pick_segment({}, None, "SEG", {})
