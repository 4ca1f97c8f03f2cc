"""``sarcoma-xnat export``: the curated cohort, byte for byte reproducible, described in JSON-LD."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from sarcoma_xnat import cli
from sarcoma_xnat.archive import LocalArchive, ObjectRef

pytest.importorskip("radiomics")

from sarcoma_xnat.steps.preprocess import run_on_archive as preprocess  # noqa: E402
from sarcoma_xnat.steps.radiomics import run_on_archive as radiomics  # noqa: E402

FAST = {"n4_iterations": (10, 10), "n4_target_voxels": 20_000}


@pytest.fixture(scope="module")
def archive_root(tmp_path_factory) -> Path:
    """Two subjects; only the first is preprocessed (with radiomics): the curated cohort is one."""
    from sarcoma_xnat.synthetic import generate_cohort

    root = tmp_path_factory.mktemp("export-archive") / "archive"
    archive = LocalArchive(root)
    manifest = generate_cohort(archive, n_subjects=2, seed=13, preset="small")
    preprocess(archive, manifest.sessions[0], FAST)
    radiomics(archive, manifest.sessions[0])
    return root


@pytest.fixture(autouse=True)
def only_export(monkeypatch):
    monkeypatch.setattr(cli, "COMMANDS", ("sarcoma_xnat.commands.export",))


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _export(root: Path, out: Path, *extra: str) -> int:
    return cli.main(["export", "--archive", str(root), "--project", "SYNTH", "--output", str(out),
                     *extra])


def test_two_exports_are_byte_identical(archive_root, tmp_path, capsys):
    assert _export(archive_root, tmp_path / "a") == 0
    assert "skipped SYN002/SYN002_MR1: no PREPROCESSED resource" in capsys.readouterr().out
    assert _export(archive_root, tmp_path / "b") == 0
    first, second = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    assert first == second
    assert {"manifest.csv", "clinical.csv", "measurements.csv", "radiomics.csv",
            "dataset.jsonld"} <= set(first)
    assert _export(archive_root, tmp_path / "a") == 0  # an earlier export is replaced
    assert _tree(tmp_path / "a") == first


def test_images_masks_and_manifest(archive_root, tmp_path):
    assert _export(archive_root, tmp_path / "x") == 0
    out = tmp_path / "x"
    with open(out / "manifest.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {(r["grid"], r["role"], r["format"]) for r in rows} == {
        (g, role, f) for g in ("grid", "native") for role in ("t1", "t2", "mask") for f in ("nifti", "nrrd")}
    assert {r["subject"] for r in rows} == {"SYN001"}
    pre = archive_root / "projects/SYNTH/subjects/SYN001/experiments/SYN001_MR1/resources/PREPROCESSED/files"
    for row in rows:
        data = (out / row["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == row["sha256"]
        source = pre / Path(row["source"]).name
        assert hashlib.sha256(source.read_bytes()).hexdigest() == row["source_sha256"]
        if row["format"] == "nifti":
            assert data == source.read_bytes()
        else:  # the NRRD holds the same voxels and geometry as the archive's NIfTI
            a, b = sitk.ReadImage(str(out / row["path"])), sitk.ReadImage(str(source))
            np.testing.assert_array_equal(sitk.GetArrayFromImage(a), sitk.GetArrayFromImage(b))
            np.testing.assert_allclose(a.GetOrigin(), b.GetOrigin(), atol=1e-4)
            np.testing.assert_allclose(a.GetSpacing(), b.GetSpacing(), atol=1e-6)


def test_tables(archive_root, tmp_path):
    assert _export(archive_root, tmp_path / "x") == 0
    out = tmp_path / "x"
    clinical = list(csv.DictReader(open(out / "clinical.csv", newline="")))
    assert [r["subject"] for r in clinical] == ["SYN001"]
    fields = LocalArchive(archive_root).get(ObjectRef("SYNTH", "SYN001")).fields
    assert clinical[0]["age"] == str(fields["age"]) and clinical[0]["sex"] == fields["sex"]
    pre = archive_root / "projects/SYNTH/subjects/SYN001/experiments/SYN001_MR1/resources"
    tumour = json.loads((pre / "PREPROCESSED/files/measurements.json").read_text())["tumour"]
    meas = list(csv.DictReader(open(out / "measurements.csv", newline="")))
    assert float(meas[0]["volume_mm3"]) == tumour["volume_mm3"]
    features = json.loads((pre / "RADIOMICS/files/features.json").read_text())["features"]
    rad = list(csv.DictReader(open(out / "radiomics.csv", newline="")))
    assert len(rad) == sum(len(v) for v in features.values())
    assert all(float(r["value"]) == features[r["channel"]][r["feature"]] for r in rad)


def test_jsonld_describes_every_file(archive_root, tmp_path):
    assert _export(archive_root, tmp_path / "x", "--creator", "Sarcoma Consortium",
                   "--license", "CC-BY-4.0") == 0
    out = tmp_path / "x"
    doc = json.loads((out / "dataset.jsonld").read_text())
    assert doc["@type"] == "Dataset" and doc["@context"]["@vocab"] == "https://schema.org/"
    assert doc["license"] == "CC-BY-4.0"
    assert doc["creator"] == {"@type": "Organization", "name": "Sarcoma Consortium"}
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    described = {d["contentUrl"]: d for d in doc["distribution"]}
    assert set(described) == files - {"dataset.jsonld", ".sarcoma-xnat.json"}
    for path, entry in described.items():
        assert entry["sha256"] == hashlib.sha256((out / path).read_bytes()).hexdigest()
    image = described["images/SYN001/SYN001_MR1/grid/t1.nii.gz"]
    assert image["prov:wasGeneratedBy"]["name"] == "preprocess"
    assert image["prov:wasDerivedFrom"]["identifier"].endswith("/PREPROCESSED/files/t1.nii.gz")
    assert described["radiomics.csv"]["prov:wasGeneratedBy"][0]["name"] == "radiomics"
    software = {s["name"] for s in doc["isBasedOn"]}
    assert {"sarcoma-xnat", "SimpleITK", "pyradiomics-bhklab"} <= software


def test_refusals(archive_root, tmp_path, capsys):
    assert _export(archive_root, archive_root / "exports") == 2  # inside the archive
    assert not (archive_root / "exports").exists()
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    assert _export(archive_root, foreign) == 2
    assert (foreign / "notes.txt").read_text() == "keep me"
    assert cli.main(["export", "--archive", str(archive_root), "--project", "SYNTH",
                     "--out", str(tmp_path / "alias"), "--formats", "nifti"]) == 0
    assert not list((tmp_path / "alias").rglob("*.nrrd"))
    capsys.readouterr()
    empty = tmp_path / "empty-archive"
    shutil.copytree(archive_root, empty)
    shutil.rmtree(empty / "projects/SYNTH/subjects/SYN001/experiments/SYN001_MR1/resources")
    assert _export(empty, tmp_path / "none") == 2
    assert "no preprocessed session" in capsys.readouterr().err
