"""Several lesions per study: one mask and one measurement row per segment, the primary by rule."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import highdicom as hd
import nibabel as nib
import numpy as np
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.sr.codedict import codes
from pydicom.uid import RTStructureSetStorage, generate_uid

from sarcoma_xnat.archive import LocalArchive
from sarcoma_xnat.errors import AnnotationError
from sarcoma_xnat.imaging.roi import RoiMask, lesion_segments, primary_lesion, referenced_series_uids
from sarcoma_xnat.steps.base import stage_session
from sarcoma_xnat.steps.measurement_fields import session_fields
from sarcoma_xnat.steps.preprocess import run
from sarcoma_xnat.steps.session_layout import find_roi_files
from sarcoma_xnat.synthetic.dicom_mr import file_meta

FAST = {"n4_iterations": (10, 10), "n4_target_voxels": 20_000}


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    from sarcoma_xnat.synthetic import generate_cohort

    archive = LocalArchive(tmp_path_factory.mktemp("lesions-archive"))
    manifest = generate_cohort(archive, n_subjects=1, seed=5, preset="small")
    return archive, manifest.sessions[0]


@pytest.fixture
def staged(cohort, tmp_path) -> Path:
    archive, session = cohort
    return stage_session(archive, session, tmp_path / "input")


def _t1_sources(staged: Path) -> list[Dataset]:
    """The T1 series the session's SEG references, in slice order along the normal."""
    seg = next(r for r in find_roi_files(staged) if r.kind == "SEG")
    uid = next(iter(referenced_series_uids(seg.path)))
    sources = [ds for f in sorted((staged / "SCANS").rglob("*")) if f.is_file()
               for ds in [_try_read(f)] if ds is not None and str(ds.get("SeriesInstanceUID")) == uid]
    normal = np.cross(*np.reshape([float(v) for v in sources[0].ImageOrientationPatient], (2, 3)))
    return sorted(sources, key=lambda d: float(np.dot(normal, [float(v) for v in d.ImagePositionPatient])))


def _try_read(path: Path) -> Dataset | None:
    try:
        return dcmread(path)
    except Exception:  # noqa: BLE001 - catalogs and other non-DICOM files
        return None


def _voxel_mm3(sources: list[Dataset]) -> float:
    rows, cols = (float(v) for v in sources[0].PixelSpacing)
    gap = np.linalg.norm(np.subtract([float(v) for v in sources[1].ImagePositionPatient],
                                     [float(v) for v in sources[0].ImagePositionPatient]))
    return rows * cols * float(gap)


def _box(shape: tuple[int, int, int], k: tuple[int, int], r: tuple[int, int],
         c: tuple[int, int]) -> np.ndarray:
    out = np.zeros(shape, bool)
    out[k[0]:k[1] + 1, r[0]:r[1] + 1, c[0]:c[1] + 1] = True
    return out


def _replace_annotations(staged: Path, kind: str, path_name: str) -> Path:
    """Remove every annotation of the session but keep one assessor folder for a new file."""
    rois = find_roi_files(staged)
    keep = next(r for r in rois if r.kind == kind)
    for roi in rois:
        roi.path.unlink()
    return keep.path.parent / path_name


def _write_seg(path: Path, sources: list[Dataset], masks: dict[str, np.ndarray]) -> None:
    descriptions = [hd.seg.SegmentDescription(
        segment_number=i, segment_label=label,
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=codes.SCT.Neoplasm,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL) for i, label in enumerate(masks, 1)]
    seg = hd.seg.Segmentation(
        source_images=sources, pixel_array=np.stack(list(masks.values()), -1).astype(np.uint8),
        segmentation_type="BINARY", segment_descriptions=descriptions,
        series_instance_uid=generate_uid(), series_number=310, sop_instance_uid=generate_uid(),
        instance_number=1, manufacturer="tests", manufacturer_model_name="tests",
        software_versions="0", device_serial_number="0")
    seg.save_as(path)


def _contour(src: Dataset, r: tuple[int, int], c: tuple[int, int]) -> Dataset:
    """A closed polygon around pixel centres rows r0..r1, columns c0..c1 of slice ``src``."""
    ipp = np.array([float(v) for v in src.ImagePositionPatient])
    iop = np.array([float(v) for v in src.ImageOrientationPatient])
    dr, dc = (float(v) for v in src.PixelSpacing)
    corners = [(c[0] - .5, r[0] - .5), (c[1] + .5, r[0] - .5), (c[1] + .5, r[1] + .5),
               (c[0] - .5, r[1] + .5)]
    points = np.array([ipp + x * dc * iop[:3] + y * dr * iop[3:] for x, y in corners])
    item = Dataset()
    image = Dataset()
    image.ReferencedSOPClassUID, image.ReferencedSOPInstanceUID = src.SOPClassUID, src.SOPInstanceUID
    item.ContourImageSequence = Sequence([image])
    item.ContourGeometricType = "CLOSED_PLANAR"
    item.NumberOfContourPoints = 4
    item.ContourData = [f"{v:.4f}" for v in points.reshape(-1)]
    return item


def _write_rtstruct(path: Path, sources: list[Dataset],
                    rois: dict[str, tuple[tuple[int, int], tuple[int, int], tuple[int, int]]]) -> None:
    first = sources[0]
    ds = Dataset()
    for kw in ("PatientID", "StudyInstanceUID", "StudyDate", "StudyTime", "StudyID"):
        setattr(ds, kw, first.get(kw, ""))
    ds.SOPClassUID, ds.SOPInstanceUID = RTStructureSetStorage, generate_uid()
    ds.Modality, ds.SeriesInstanceUID, ds.SeriesNumber = "RTSTRUCT", generate_uid(), 311
    ds.StructureSetLabel = "LESIONS"
    frame, study, series = Dataset(), Dataset(), Dataset()
    frame.FrameOfReferenceUID = first.FrameOfReferenceUID
    series.SeriesInstanceUID = first.SeriesInstanceUID
    study.RTReferencedSeriesSequence = Sequence([series])
    frame.RTReferencedStudySequence = Sequence([study])
    ds.ReferencedFrameOfReferenceSequence = Sequence([frame])
    ds.StructureSetROISequence, ds.ROIContourSequence = Sequence(), Sequence()
    ds.RTROIObservationsSequence = Sequence()
    for number, (name, (k, r, c)) in enumerate(rois.items(), 1):
        roi = Dataset()
        roi.ROINumber, roi.ROIName = number, name
        roi.ReferencedFrameOfReferenceUID = first.FrameOfReferenceUID
        ds.StructureSetROISequence.append(roi)
        contour = Dataset()
        contour.ReferencedROINumber = number
        contour.ContourSequence = Sequence([_contour(sources[z], r, c) for z in range(k[0], k[1] + 1)])
        ds.ROIContourSequence.append(contour)
        observation = Dataset()
        observation.ObservationNumber, observation.ReferencedROINumber = number, number
        observation.RTROIInterpretedType = "GTV"
        ds.RTROIObservationsSequence.append(observation)
    ds.file_meta = file_meta(RTStructureSetStorage, ds.SOPInstanceUID)
    ds.save_as(path, enforce_file_format=True)


def _grid(path: Path) -> np.ndarray:
    return np.asarray(nib.load(path).dataobj)


def test_seg_with_three_segments_gives_three_masks_and_rows(staged, tmp_path) -> None:
    sources = _t1_sources(staged)
    shape = (len(sources), int(sources[0].Rows), int(sources[0].Columns))
    masks = {"Lesion A": _box(shape, (4, 7), (30, 39), (30, 39)),      # 4*10*10 = 400 voxels
             "Lesion B": _box(shape, (3, 9), (50, 64), (50, 64)),      # 7*15*15 = 1575: largest
             "Node": _box(shape, (10, 11), (10, 14), (70, 74))}        # 2*5*5 = 50
    _write_seg(_replace_annotations(staged, "SEG", "lesions.dcm"), sources, masks)
    result = run(staged, tmp_path / "out", FAST)
    voxel = _voxel_mm3(sources)
    rows = result.measurements["lesions"]
    assert [(r["lesion"], r["segment_number"], r["segment_label"]) for r in rows] == \
        [(1, 1, "Lesion A"), (2, 2, "Lesion B"), (3, 3, "Node")]
    assert [r["voxel_count"] for r in rows] == [400, 1575, 50]
    for row, count in zip(rows, (400, 1575, 50)):
        assert row["volume_mm3"] == pytest.approx(count * voxel, rel=1e-4)
    # no segment is labelled primary/tumour: the largest volume is the primary
    assert [r["primary"] for r in rows] == [False, True, False]
    assert result.measurements["tumour"]["voxel_count"] == 1575
    assert result.measurements["annotation"]["segment_number"] == 2
    out = tmp_path / "out"
    for n in (1, 2, 3):
        assert f"mask_lesion{n}.nii.gz" in result.files and rows[n - 1]["mask"] == f"mask_lesion{n}.nii.gz"
    np.testing.assert_array_equal(_grid(out / "mask.nii.gz"), _grid(out / "mask_lesion2.nii.gz"))
    assert not (_grid(out / "mask_lesion1.nii.gz") & _grid(out / "mask_lesion3.nii.gz")).any()
    assert int(_grid(out / "mask_t1.nii.gz").sum()) == 1575
    listed = json.loads((out / "manifest.json").read_text())["files"]
    assert {"mask_lesion1.nii.gz", "mask_lesion2.nii.gz", "mask_lesion3.nii.gz"} <= set(listed)
    fields = session_fields(result.measurements)
    assert fields["lesion_count"] == "3"
    assert float(fields["lesion3_volume_ml"]) == pytest.approx(50 * voxel / 1000, abs=1e-3)


def test_rtstruct_rois_and_a_primary_label_wins_over_size(staged, tmp_path) -> None:
    sources = _t1_sources(staged)
    rois = {"Metastasis": ((3, 9), (50, 64), (50, 64)),       # 7*15*15 = 1575
            "Primary tumour": ((5, 6), (20, 27), (20, 24))}   # 2*8*5 = 80
    _write_rtstruct(_replace_annotations(staged, "RTSTRUCT", "lesions.dcm"), sources, rois)
    result = run(staged, tmp_path / "out", FAST)
    rows = result.measurements["lesions"]
    assert [(r["segment_label"], r["voxel_count"], r["primary"]) for r in rows] == \
        [("Metastasis", 1575, False), ("Primary tumour", 80, True)]
    assert result.measurements["annotation"]["kind"] == "RTSTRUCT"
    assert result.measurements["tumour"]["voxel_count"] == 80
    out = tmp_path / "out"
    np.testing.assert_array_equal(_grid(out / "mask.nii.gz"), _grid(out / "mask_lesion2.nii.gz"))
    assert "mask_lesion3.nii.gz" not in result.files
    # a named segment gives back the single-lesion output
    single = run(staged, tmp_path / "one", {**FAST, "segment_label": "metastasis"})
    assert [r["voxel_count"] for r in single.measurements["lesions"]] == [1575]
    assert not any(f.startswith("mask_lesion") for f in single.files)


def test_one_lesion_keeps_the_single_mask_layout(staged, tmp_path) -> None:
    shutil.rmtree(next(r for r in find_roi_files(staged) if r.kind == "RTSTRUCT").path.parent)
    result = run(staged, tmp_path / "out", FAST)
    assert "mask.nii.gz" in result.files and not any(f.startswith("mask_lesion") for f in result.files)
    (row,) = result.measurements["lesions"]
    assert row["primary"] and row["mask"] == "mask.nii.gz"
    assert row["voxel_count"] == result.measurements["tumour"]["voxel_count"]
    assert "lesion_count" not in session_fields(result.measurements)


def _lesion(number: int, label: str, voxels: int) -> RoiMask:
    import SimpleITK as sitk

    arr = np.zeros((1, 1, 10), np.uint8)
    arr[0, 0, :voxels] = 1
    return RoiMask(sitk.GetImageFromArray(arr), "SEG", number, label, (), "f")


def test_primary_rule_and_lesion_limit() -> None:
    assert primary_lesion([_lesion(1, "A", 3), _lesion(2, "B", 5)]) == 1
    assert primary_lesion([_lesion(1, "A", 5), _lesion(2, "B", 5)]) == 0  # tie: lowest number
    assert primary_lesion([_lesion(1, "A", 9), _lesion(2, "TUMOR", 2)]) == 1
    assert primary_lesion([_lesion(1, "Tumour", 2), _lesion(2, "tumour", 4), _lesion(3, "X", 9)]) == 1
    assert lesion_segments({2: "b", 1: "a"}, None, "SEG", {}) == [(1, "a"), (2, "b")]
    with pytest.raises(AnnotationError, match="4 segments.*at most 3"):
        lesion_segments({1: "a", 2: "b", 3: "c", 4: "d"}, None, "SEG", {})
    assert lesion_segments({1: "a", 2: "b", 3: "c", 4: "d"}, "C", "SEG", {}) == [(3, "c")]
