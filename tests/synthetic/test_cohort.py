"""The synthetic cohort: valid DICOM, consistent geometry and UIDs, annotations, clinical data."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pydicom
import pytest

from sarcoma_xnat.archive import LocalArchive, ObjectRef
from sarcoma_xnat.synthetic import CLINICAL_FIELDS, OUTCOME_FIELDS, CohortManifest, generate_cohort


def _series(archive: LocalArchive, session: ObjectRef, scan: str) -> list[pydicom.Dataset]:
    folder = archive.resource_path(session.child(scan=scan), "DICOM")
    return [pydicom.dcmread(p) for p in sorted(folder.iterdir())]


def _normal(ds: pydicom.Dataset) -> np.ndarray:
    iop = np.array(ds.ImageOrientationPatient, dtype=float)
    return np.cross(iop[:3], iop[3:])


def test_series_geometry_is_consistent(standard_cohort: tuple[LocalArchive, CohortManifest]) -> None:
    archive, manifest = standard_cohort
    session = manifest.sessions[0]
    for scan in ("1", "2"):
        datasets = _series(archive, session, scan)
        assert 30 <= len(datasets) <= 60
        first = datasets[0]
        assert (first.Rows, first.Columns) == (256, 256)
        assert 0.6 <= float(first.PixelSpacing[0]) <= 1.0
        for ds in datasets:
            assert ds.Modality == "MR" and ds.SOPClassUID == pydicom.uid.MRImageStorage
            assert list(ds.ImageOrientationPatient) == list(first.ImageOrientationPatient)
            assert list(ds.PixelSpacing) == list(first.PixelSpacing)
            assert ds.pixel_array.shape == (256, 256)
        positions = sorted(float(np.dot(_normal(first), np.array(d.ImagePositionPatient, float)))
                           for d in datasets)
        gaps = np.diff(positions)
        assert np.allclose(gaps, float(first.SpacingBetweenSlices), atol=1e-3)
        assert 4.0 <= gaps[0] <= 6.0


def test_t2_lies_on_another_grid(standard_cohort: tuple[LocalArchive, CohortManifest]) -> None:
    archive, manifest = standard_cohort
    t1 = _series(archive, manifest.sessions[0], "1")
    t2 = _series(archive, manifest.sessions[0], "2")
    assert t1[0].PixelSpacing != t2[0].PixelSpacing
    assert t1[0].SpacingBetweenSlices != t2[0].SpacingBetweenSlices
    assert t1[0].FrameOfReferenceUID == t2[0].FrameOfReferenceUID
    z1 = sorted(float(d.ImagePositionPatient[2]) for d in t1)
    z2 = sorted(float(d.ImagePositionPatient[2]) for d in t2)
    overlap = min(z1[-1], z2[-1]) - max(z1[0], z2[0])
    assert overlap > 0.7 * (z1[-1] - z1[0])  # the two series cover mostly the same anatomy


def test_uids_are_consistent(small_cohort: tuple[LocalArchive, CohortManifest]) -> None:
    archive, manifest = small_cohort
    seen: set[str] = set()
    for session in manifest.sessions:
        session_obj = archive.get(session)
        study_uids, frames = set(), set()
        for scan in ("1", "2"):
            datasets = _series(archive, session, scan)
            scan_obj = archive.get(session.child(scan=scan))
            assert {d.SeriesInstanceUID for d in datasets} == {scan_obj.attrs["UID"]}
            for d in datasets:
                assert d.file_meta.MediaStorageSOPInstanceUID == d.SOPInstanceUID
                assert d.SOPInstanceUID not in seen
                seen.add(d.SOPInstanceUID)
            study_uids |= {d.StudyInstanceUID for d in datasets}
            frames |= {d.FrameOfReferenceUID for d in datasets}
        assert study_uids == {session_obj.attrs["UID"]}
        assert len(frames) == 1
        for uid in seen:
            assert uid.startswith("2.25.") and len(uid) <= 64


def test_annotations_reference_the_t1_series(small_cohort: tuple[LocalArchive, CohortManifest]) -> None:
    archive, manifest = small_cohort
    for session in manifest.sessions:
        t1 = _series(archive, session, "1")
        t1_sops = {d.SOPInstanceUID for d in t1}
        series_uid = t1[0].SeriesInstanceUID
        rois = archive.children(session, "assessor")
        assert {r.attrs["collectionType"] for r in rois} == {"SEG", "RTSTRUCT"}
        for roi in rois:
            assert roi.xsi_type == "icr:roiCollectionData"
            assert roi.attrs["references"] == [series_uid]
            kind = roi.attrs["collectionType"]
            (name,) = archive.resource(roi.ref, kind).files
            assert name == f"{roi.label}.dcm"
            ds = pydicom.dcmread(archive.resource_path(roi.ref, kind) / name)
            assert ds.StudyInstanceUID == t1[0].StudyInstanceUID
            if kind == "SEG":
                refs = {i.ReferencedSOPInstanceUID
                        for s in ds.ReferencedSeriesSequence for i in s.ReferencedInstanceSequence}
                assert ds.ReferencedSeriesSequence[0].SeriesInstanceUID == series_uid
                assert ds.SegmentSequence[0].SegmentLabel == "Tumour"
                assert int(ds.NumberOfFrames) >= 3
            else:
                refs = {c.ContourImageSequence[0].ReferencedSOPInstanceUID
                        for c in ds.ROIContourSequence[0].ContourSequence}
                assert ds.StructureSetROISequence[0].ROIName == "Tumour"
                assert len(refs) >= 3
            assert refs and refs <= t1_sops


def test_annotation_volume_matches_the_analytic_tumour(
        standard_cohort: tuple[LocalArchive, CohortManifest]) -> None:
    archive, manifest = standard_cohort
    truth = manifest.truth[manifest.subjects[0]]
    # the closed-form volume of the phantom vs. the voxel count of the rasterized annotation
    assert truth["annotation_volume_mm3"] == pytest.approx(truth["tumour_volume_mm3"], rel=0.03)
    assert 10_000 < truth["tumour_volume_mm3"] < 400_000


def test_tumour_is_visible_in_both_weightings(standard_cohort: tuple[LocalArchive, CohortManifest]
                                              ) -> None:
    archive, manifest = standard_cohort
    session = manifest.sessions[0]
    roi = archive.get(session.child(assessor=f"{session.session}_SEG"))
    seg = pydicom.dcmread(archive.resource_path(roi.ref, "SEG") / f"{roi.label}.dcm")
    t1 = {d.SOPInstanceUID: d for d in _series(archive, session, "1")}
    inside, outside = [], []
    for frame, item in zip(seg.pixel_array, seg.PerFrameFunctionalGroupsSequence):
        src = t1[item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID]
        pixels = src.pixel_array.astype(float)
        inside.append(pixels[frame > 0])
        ring = (pixels > 200) & (frame == 0)
        outside.append(pixels[ring])
    # tumour is not background: the annotation covers signal, and differs from the rest
    assert np.median(np.concatenate(inside)) > 150
    assert abs(np.median(np.concatenate(inside)) - np.median(np.concatenate(outside))) > 50


def test_clinical_fields_and_outcomes(small_cohort: tuple[LocalArchive, CohortManifest]) -> None:
    archive, manifest = small_cohort
    for subject in manifest.subjects:
        fields = archive.get(ObjectRef(manifest.project, subject)).fields
        assert set(CLINICAL_FIELDS) | set(OUTCOME_FIELDS) <= set(fields)
        assert 18 <= int(fields["age"]) <= 90
        assert fields["sex"] in {"M", "F"}
        assert fields["tumour_grade"] in {"1", "2", "3"}
        assert float(fields["os_months"]) > 0 and fields["os_event"] in {"0", "1"}
        assert float(fields["dm_months"]) <= float(fields["os_months"]) + 1e-6
    truth = (manifest.truth_dir / "SYNTH-truth.json").read_text()
    assert all(s in truth for s in manifest.subjects)


def test_headers_carry_the_planted_phi(small_cohort: tuple[LocalArchive, CohortManifest]) -> None:
    archive, manifest = small_cohort
    session = manifest.sessions[0]
    raw = b"".join(p.read_bytes() for p in archive.resource_path(session.child(scan="1"), "DICOM").iterdir())
    phi = manifest.phi[session.subject]
    missing = [value for value in phi if value.encode() not in raw]
    assert not missing, f"planted PHI not found in headers: {missing}"
    ds = _series(archive, session, "1")[0]
    assert ds.RequestAttributesSequence[0].AccessionNumber in phi
    assert any(elem.tag.is_private and elem.VR != "LO" or elem.value in phi
               for elem in ds.iterall() if elem.tag.is_private)


def _digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((root / "projects").rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    for name, seed in (("a", 11), ("b", 11), ("c", 12)):
        generate_cohort(LocalArchive(tmp_path / name), n_subjects=1, seed=seed, preset="small")
    a, b, c = (_digest(tmp_path / n) for n in "abc")
    assert a == b
    assert len(a) > 30
    dicom = [k for k in a if k.endswith(".dcm")]
    assert all(a[k] != c.get(k) for k in dicom)
