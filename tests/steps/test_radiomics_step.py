"""The radiomics step: features equal PyRadiomics run directly, SEG and SR valid and read back."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

import sarcoma_xnat
from sarcoma_xnat import cli
from sarcoma_xnat.archive import LocalArchive
from sarcoma_xnat.errors import InputDataError
from sarcoma_xnat.segmentation.dicomseg import dciodvfy_errors
from sarcoma_xnat.steps.base import stage_session

radiomics = pytest.importorskip("radiomics")
hd = pytest.importorskip("highdicom")

from radiomics import featureextractor  # noqa: E402

from sarcoma_xnat.steps import radiomics as step  # noqa: E402
from sarcoma_xnat.steps.preprocess import run_on_archive as preprocess  # noqa: E402

FAST = {"n4_iterations": (10, 10), "n4_target_voxels": 20_000}
#: the shipped parameter file, found by path (not through the code under test)
PARAMS = Path(sarcoma_xnat.__file__).parent / "quantify" / "data" / "radiomics-params.yaml"
FILES = {"features.csv", "features.json", "seg.dcm", "sr.dcm", "provenance.json", "manifest.json"}


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    from sarcoma_xnat.synthetic import generate_cohort

    archive = LocalArchive(tmp_path_factory.mktemp("radiomics-archive"))
    manifest = generate_cohort(archive, n_subjects=1, seed=11, preset="small")
    session = manifest.sessions[0]
    pre = preprocess(archive, session, FAST)
    result = step.run_on_archive(archive, session)
    return archive, session, pre.output_dir, result


def _t1_sources(archive, session, scan_id):
    import pydicom

    folder = archive.resource_path(session.child(scan=scan_id), "DICOM")
    return [pydicom.dcmread(p) for p in sorted(folder.rglob("*.dcm"))]


def test_outputs_and_parameter_file_in_provenance(done):
    _, _, _, result = done
    assert set(result.files) == FILES
    provenance = json.loads((result.output_dir / "provenance.json").read_text())
    digest = hashlib.sha256(PARAMS.read_bytes()).hexdigest()
    assert provenance["parameters"]["parameter_sha256"] == digest
    assert provenance["parameters"]["parameter_text"] == PARAMS.read_text()
    assert provenance["libraries"]["pyradiomics-bhklab"].startswith("3.")
    document = json.loads((result.output_dir / "features.json").read_text())
    assert document["parameters"] == {"file": "radiomics-params.yaml", "sha256": digest}


def test_features_equal_pyradiomics_run_directly(done):
    _, _, pre, result = done
    document = json.loads((result.output_dir / "features.json").read_text())
    extractor = featureextractor.RadiomicsFeatureExtractor(str(PARAMS))
    mask = sitk.ReadImage(str(pre / "mask_t1.nii.gz"))
    for channel in ("t1", "t2"):
        image = sitk.ReadImage(str(pre / f"{channel}_n4.nii.gz"))
        on_grid = sitk.Resample(mask, image, sitk.Transform(), sitk.sitkNearestNeighbor, 0,
                                sitk.sitkUInt8)
        direct = {k: float(v) for k, v in extractor.execute(image, on_grid).items()
                  if not k.startswith("diagnostics_")}
        assert len(direct) == 107  # shape 14, firstorder 18, glcm 24, glrlm 16, glszm 16, gldm 14, ngtdm 5
        assert document["features"][channel] == direct
    assert document["features"]["t1"] != document["features"]["t2"]


def test_csv_holds_the_json_values_with_ibsi_codes(done):
    _, _, _, result = done
    document = json.loads((result.output_dir / "features.json").read_text())
    with open(result.output_dir / "features.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2 * 107
    for row in rows:
        assert float(row["value"]) == document["features"][row["channel"]][row["feature"]]
    codes = {(r["feature"], r["scheme"], r["code"]) for r in rows}
    # codes from the IBSI reference manual (Mean Q4LE, GLCM joint entropy TU9B, sphericity QCFX)
    assert ("original_firstorder_Mean", "IBSI", "Q4LE") in codes
    assert ("original_glcm_JointEntropy", "IBSI", "TU9B") in codes
    assert ("original_shape_Sphericity", "IBSI", "QCFX") in codes
    kurtosis = {r["scheme"] for r in rows if r["feature"] == "original_firstorder_Kurtosis"}
    assert kurtosis == {"99PYRADIOMICS"}  # not IBSI's excess kurtosis


def test_seg_and_sr_pass_dciodvfy(done):
    _, _, _, result = done
    for name in ("seg.dcm", "sr.dcm"):
        errors = dciodvfy_errors(result.output_dir / name)
        if errors is None:
            pytest.skip("dciodvfy (dicom3tools) is not installed")
        assert errors == [], (name, errors)


def test_seg_is_the_mask_on_the_source_t1_series(done):
    archive, session, pre, result = done
    provenance = json.loads((pre / "provenance.json").read_text())
    sources = _t1_sources(archive, session, provenance["inputs"]["t1"]["scan"])
    seg = hd.seg.segread(result.output_dir / "seg.dcm")
    assert {str(s) for _, s, _ in seg.get_source_image_uids()} == {str(sources[0].SeriesInstanceUID)}
    # the mask on the T1 grid, slice by slice in the order of the instances' positions
    normal = np.cross(*np.reshape([float(v) for v in sources[0].ImageOrientationPatient], (2, 3)))
    ordered = sorted(sources, key=lambda d: float(np.dot(normal, [float(v) for v in d.ImagePositionPatient])))
    pixels = seg.get_pixels_by_source_instance(
        source_sop_instance_uids=[str(d.SOPInstanceUID) for d in ordered], segment_numbers=[1],
        combine_segments=True, assert_missing_frames_are_empty=True)
    mask = sitk.GetArrayFromImage(sitk.ReadImage(str(pre / "mask_t1.nii.gz")))
    np.testing.assert_array_equal(np.asarray(pixels).astype(np.uint8), mask)


def test_sr_reads_back_with_highdicom(done):
    _, _, pre, result = done
    tumour = json.loads((pre / "measurements.json").read_text())["tumour"]
    document = json.loads((result.output_dir / "features.json").read_text())
    seg = hd.seg.segread(result.output_dir / "seg.dcm")
    sr = hd.sr.srread(result.output_dir / "sr.dcm")
    assert sr.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.34"  # Comprehensive 3D SR
    groups = sr.content.get_volumetric_roi_measurement_groups()
    assert [str(g.tracking_identifier) for g in groups] == ["Tumour T1", "Tumour T2"]
    for group, channel in zip(groups, ("t1", "t2")):
        ref = group.referenced_segment
        assert ref.referenced_sop_instance_uid == seg.SOPInstanceUID
        assert ref.referenced_segment_numbers == [1]
        values = {(m.name.scheme_designator, m.name.value,
                   m.derivation.value if m.derivation else None): m.value for m in group.get_measurements()}
        feats = document["features"][channel]
        assert values[("IBSI", "Q4LE", None)] == pytest.approx(feats["original_firstorder_Mean"], rel=1e-12)
        assert values[("IBSI", "RNU0", None)] == pytest.approx(feats["original_shape_MeshVolume"], rel=1e-12)
        # the intensity mean in the mask, computed here with numpy on the image the step read
        image = sitk.ReadImage(str(pre / f"{channel}_n4.nii.gz"))
        mask = sitk.Resample(sitk.ReadImage(str(pre / "mask_t1.nii.gz")), image, sitk.Transform(),
                             sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
        inside = sitk.GetArrayFromImage(image)[sitk.GetArrayFromImage(mask) > 0].astype(np.float64)
        assert values[("DCM", "110852", "373098007")] == pytest.approx(inside.mean(), rel=1e-9)
        assert values[("DCM", "110852", "56851009")] == pytest.approx(inside.max(), rel=1e-9)
    t1 = {m.name.value: m for m in groups[0].get_measurements()}
    assert t1["118565006"].value == pytest.approx(tumour["volume_mm3"])
    assert t1["118565006"].unit.value == "mm3"
    assert t1["81827009"].value == pytest.approx(tumour["longest_diameter_mm"])
    assert t1["103339001"].value == pytest.approx(tumour["longest_axial_diameter_mm"])


def test_rerun_gives_the_same_bytes(done, tmp_path):
    archive, session, _, result = done
    staged = stage_session(archive, session, tmp_path / "input", assessors=False, resources=True)
    step.run(staged, tmp_path / "out")
    for name in FILES - {"provenance.json"}:
        assert (tmp_path / "out" / name).read_bytes() == (result.output_dir / name).read_bytes(), name


def test_a_damaged_preprocess_result_is_refused(done, tmp_path):
    archive, session, _, _ = done
    staged = stage_session(archive, session, tmp_path / "input", assessors=False, resources=True)
    target = next(staged.rglob("t2_n4.nii.gz"))
    target.write_bytes(target.read_bytes()[:-10])
    with pytest.raises(InputDataError, match="t2_n4.nii.gz"):
        step.run(staged, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_cli_container_form(done, tmp_path, monkeypatch, capsys):
    archive, session, _, _ = done
    monkeypatch.setattr(cli, "COMMANDS", ("sarcoma_xnat.commands.radiomics",))
    staged = stage_session(archive, session, tmp_path / "input", assessors=False, resources=True)
    assert cli.main(["radiomics", "--input", str(staged), "--output", str(tmp_path / "out")]) == 0
    assert "107 features per channel" in capsys.readouterr().out
    assert {p.name for p in (tmp_path / "out").iterdir()} == FILES
    assert cli.main(["radiomics", "--input", str(staged), "--output", str(tmp_path / "o2"),
                     "--send-to", "localhost"]) == 2


def test_runs_through_the_local_container_service(done, monkeypatch, capsys):
    """The command JSON's session wrapper, resolved and run in-process, stores RADIOMICS again."""
    archive, session, _, result = done
    before = {n: (result.output_dir / n).read_bytes() for n in FILES - {"provenance.json"}}
    monkeypatch.setattr(cli, "COMMANDS", ("sarcoma_xnat.commands.containers",
                                          "sarcoma_xnat.commands.radiomics"))
    assert cli.main(["run", "--engine", "inprocess", "--command", "radiomics",
                     "--wrapper", "sarcoma-radiomics-session", "--archive", str(archive.root),
                     "--target", session.uri]) == 0
    assert "resource RADIOMICS" in capsys.readouterr().out
    stored = archive.resource_path(session, "RADIOMICS")
    assert {n: (stored / n).read_bytes() for n in before} == before
