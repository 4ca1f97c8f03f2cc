"""The preprocess step end to end on a synthetic session: outputs, re-runs, both CLI forms, refusals."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from pydicom import dcmread
from pydicom.uid import generate_uid

from sarcoma_xnat import cli
from sarcoma_xnat.archive import LocalArchive
from sarcoma_xnat.errors import AnnotationError, ConfigurationError, GeometryError, InputDataError
from sarcoma_xnat.steps.base import stage_session
from sarcoma_xnat.steps.manifest import consistent, read_manifest
from sarcoma_xnat.steps.preprocess import RESOURCE_LABEL, VARYING_PROVENANCE_KEYS, run, run_on_archive

#: fast N4 for tests (the protocol default is 3 x 50 iterations on ~64k voxels)
FAST = {"n4_iterations": (10, 10), "n4_target_voxels": 20_000}
FAST_ARGS = ["--n4-iterations", "10,10", "--n4-target-voxels", "20000"]
ALL_FILES = {"t1.nii.gz", "t2.nii.gz", "mask.nii.gz", "t1_n4.nii.gz", "t2_n4.nii.gz",
             "mask_t1.nii.gz", "qc.png", "measurements.json", "provenance.json", "manifest.json"}


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    from sarcoma_xnat.synthetic import generate_cohort

    archive = LocalArchive(tmp_path_factory.mktemp("preprocess-archive"))
    manifest = generate_cohort(archive, n_subjects=1, seed=5, preset="small")
    return archive, manifest, manifest.sessions[0]


@pytest.fixture(scope="module")
def first_run(cohort):
    archive, _, session = cohort
    result = run_on_archive(archive, session, FAST)
    return result, {name: (result.output_dir / name).read_bytes() for name in result.files}


@pytest.fixture(autouse=True)
def only_preprocess_commands(monkeypatch):
    """Run ``sarcoma-xnat`` with just this step's commands (independent of other modules)."""
    monkeypatch.setattr(cli, "COMMANDS", ("sarcoma_xnat.commands.preprocess",))


def main(argv: list[str]) -> int:
    """Run the real ``sarcoma-xnat`` entry point."""
    return cli.main(argv)


@pytest.fixture
def staged(cohort, tmp_path) -> Path:
    archive, _, session = cohort
    return stage_session(archive, session, tmp_path / "input")


def _provenance_stable(raw: bytes) -> dict:
    data = json.loads(raw)
    return {k: v for k, v in data.items() if k not in VARYING_PROVENANCE_KEYS}


def test_outputs_on_the_archive(cohort, first_run):
    archive, manifest, session = cohort
    result, files = first_run
    assert set(result.files) == ALL_FILES
    assert [r.label for r in archive.resources(session)] == [RESOURCE_LABEL]
    t1, t2, mask = (nib.load(result.output_dir / n) for n in ("t1.nii.gz", "t2.nii.gz", "mask.nii.gz"))
    assert t1.shape == t2.shape == mask.shape == (128, 128, 128)
    np.testing.assert_allclose(t1.affine, t2.affine)
    np.testing.assert_allclose(t1.affine, mask.affine)
    assert set(np.unique(np.asarray(mask.dataobj)).tolist()) == {0, 1}
    n4 = nib.load(result.output_dir / "t1_n4.nii.gz")
    assert n4.shape[:2] == (96, 96)  # full resolution of the small preset's T1
    truth = manifest.truth["SYN001"]["annotation_volume_mm3"]
    assert result.measurements["tumour"]["volume_mm3"] == pytest.approx(truth, rel=1e-3)
    assert result.measurements["annotation"]["kind"] == "SEG"
    assert result.measurements["grid_mode"] == "fov"
    prov = json.loads(files["provenance.json"])
    assert prov["inputs"]["t1"]["scan"] == "1" and prov["inputs"]["t2"]["scan"] == "2"
    assert all(len(h) == 64 for h in prov["inputs"]["t1"]["files"].values())
    text = (files["provenance.json"] + files["measurements.json"]).decode()
    for phi in manifest.phi["SYN001"]:
        assert phi not in text


def test_rerun_gives_identical_files_and_replaces_the_resource(cohort, first_run):
    archive, _, session = cohort
    _, before = first_run
    again = run_on_archive(archive, session, FAST)
    after = {name: (again.output_dir / name).read_bytes() for name in again.files}
    assert set(after) == set(before)
    for name in before:
        if name == "provenance.json":
            assert _provenance_stable(after[name]) == _provenance_stable(before[name])
        else:
            assert after[name] == before[name], name
    assert [r.label for r in archive.resources(session)] == [RESOURCE_LABEL]


def test_two_runs_interleaved_are_one_consistent_result(first_run, tmp_path):
    """Two runs of one save upload concurrently: any mix of their files checks out."""
    _, before = first_run
    folder = tmp_path / "merged"
    folder.mkdir()
    second = json.loads(before["provenance.json"])
    second["started"] = "another run"
    for index, name in enumerate(sorted(before)):
        data = before[name]
        if name == "provenance.json" and index % 2:
            data = json.dumps(second).encode()
        (folder / name).write_bytes(data)
    manifest = read_manifest(folder, "preprocess")
    assert set(manifest["files"]) == ALL_FILES - {"manifest.json", "provenance.json"}
    assert consistent(folder, manifest) == []
    (folder / "t2.nii.gz").write_bytes(before["t1.nii.gz"])  # what a non-deterministic run would do
    assert consistent(folder, manifest) == ["t2.nii.gz does not match its checksum"]


def test_container_form_gives_the_same_bytes(first_run, staged, tmp_path, capsys):
    """The mount holds XNAT's catalogs, SNAPSHOTS and AIM XML too: same output."""
    from xnat_bookkeeping import add_xnat_bookkeeping

    _, expected = first_run
    add_xnat_bookkeeping(staged)
    out = tmp_path / "output"
    rc = main(["preprocess", "--input", str(staged), "--output", str(out), *FAST_ARGS,
               "--subject-label", "SYN001", "--session-label", "SYN001_MR1"])
    assert rc == 0 and "qc.png" in capsys.readouterr().out
    for name, data in expected.items():
        if name != "provenance.json":
            assert (out / name).read_bytes() == data, name


def test_session_without_annotation_gives_fov_and_no_mask(staged, tmp_path):
    shutil.rmtree(staged / "ASSESSORS")
    result = run(staged, tmp_path / "out", {**FAST, "grid": "box"})
    assert "mask.nii.gz" not in result.files and "mask_t1.nii.gz" not in result.files
    assert result.measurements["grid_mode"] == "fov" and result.measurements["tumour"] is None
    with pytest.raises(AnnotationError, match="no ROI collection"):
        run(staged, tmp_path / "out2", {**FAST, "require_roi": True})
    assert not (tmp_path / "out2").exists()


def test_rtstruct_preference_and_box_grid(staged, tmp_path):
    result = run(staged, tmp_path / "out", {**FAST, "roi_type": "RTSTRUCT", "grid": "box",
                                            "margin_mm": 10.0, "size": 64})
    assert result.measurements["annotation"]["kind"] == "RTSTRUCT"
    spacing = result.measurements["grid"]["spacing_mm"]
    assert spacing[0] == pytest.approx(spacing[1]) == pytest.approx(spacing[2])
    assert nib.load(tmp_path / "out" / "t1.nii.gz").shape == (64, 64, 64)


def _cli_error(staged: Path, out: Path, capsys, *extra: str) -> str:
    rc = main(["preprocess", "--input", str(staged), "--output", str(out), *FAST_ARGS,
               "--session-label", "SYN001_MR1", *extra])
    assert rc == 2 and not out.exists()
    return capsys.readouterr().err


def test_corrupt_file_fails_with_exit_2_and_no_output(staged, tmp_path, capsys):
    victim = sorted((staged / "SCANS" / "1").rglob("*.dcm"))[3]
    victim.write_bytes(victim.read_bytes()[:1000])
    err = _cli_error(staged, tmp_path / "out", capsys)
    assert "session SYN001_MR1" in err and "scan 1" in err and victim.name in err


def test_dangling_reference_fails(staged, tmp_path, capsys):
    path = next((staged / "ASSESSORS").rglob("*RTSTRUCT*.dcm"))
    ds = dcmread(path)
    ds.ReferencedFrameOfReferenceSequence[0].RTReferencedStudySequence[0] \
        .RTReferencedSeriesSequence[0].SeriesInstanceUID = generate_uid()
    ds.save_as(path)
    err = _cli_error(staged, tmp_path / "out", capsys, "--roi-type", "RTSTRUCT")
    assert "dangling" in err and "RTSTRUCT" in err


def test_t1_and_t2_that_do_not_overlap_are_refused(staged, tmp_path):
    for path in (staged / "SCANS" / "2").rglob("*.dcm"):
        ds = dcmread(path)
        ds.ImagePositionPatient = [ds.ImagePositionPatient[0], ds.ImagePositionPatient[1],
                                   float(ds.ImagePositionPatient[2]) + 1000.0]
        ds.save_as(path)
    with pytest.raises(GeometryError, match="do not overlap") as err:
        run(staged, tmp_path / "out", FAST)
    assert "scan 2" in str(err.value)


def test_zero_variance_series_is_refused(staged, tmp_path):
    for path in (staged / "SCANS" / "2").rglob("*.dcm"):
        ds = dcmread(path)
        flat = np.zeros_like(ds.pixel_array)
        flat[3:-3, 3:-3] = 500  # a blank series: one constant value inside an air frame
        ds.PixelData = flat.tobytes()
        ds.save_as(path)
    with pytest.raises(InputDataError, match="zero variance") as err:
        run(staged, tmp_path / "out", FAST)
    assert "scan 2" in str(err.value)
    assert not (tmp_path / "out").exists()


def test_a_truncated_annotation_is_refused_not_read(staged, tmp_path):
    path = next((staged / "ASSESSORS").rglob("*RTSTRUCT*.dcm"))
    path.write_bytes(path.read_bytes()[:-2000])
    with pytest.raises(AnnotationError, match="incomplete"):
        run(staged, tmp_path / "out", {**FAST, "roi_type": "RTSTRUCT"})
    assert not (tmp_path / "out").exists()


def test_unknown_parameters_are_refused(staged, tmp_path):
    with pytest.raises(ConfigurationError, match="unknown preprocess parameters: t3_pattern"):
        run(staged, tmp_path / "out", {"t3_pattern": "x"})
    with pytest.raises(ConfigurationError, match="grid must be one of"):
        run(staged, tmp_path / "out", {"grid": "crop"})
