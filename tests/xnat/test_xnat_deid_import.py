"""``deid import``: the Run-container de-identification writes a pseudonymised copy into a study project."""

from __future__ import annotations

from pathlib import Path

import pytest

from sarcoma_xnat.archive import ObjectRef
from sarcoma_xnat.cli import main
from sarcoma_xnat.synthetic import generate_cohort

SECRET = "run-container-secret-0123456789"
SESSION = ObjectRef("SYNTH", "SYN001", "SYN001_MR1")


def _mount(emulator, dest: Path) -> Path:
    """The session as the Container Service mounts it: SCANS/.., ASSESSORS/.., with catalogs."""
    archive = emulator.archive
    for scan in archive.children(SESSION, "scan"):
        folder = dest / "SCANS" / scan.label / "DICOM"
        archive.fetch_resource(scan.ref, "DICOM", folder)
        (folder / "DICOM_catalog.xml").write_text(
            '<cat:DCMCatalog xmlns:cat="http://nrg.wustl.edu/catalog"/>')
    for assessor in archive.children(SESSION, "assessor"):
        for info in archive.resources(assessor.ref):
            archive.fetch_resource(assessor.ref, info.label,
                                   dest / "ASSESSORS" / assessor.label / info.label)
    return dest


def test_deid_import_writes_into_the_study_project(emulator, client, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch, capsys):
    generate_cohort(emulator.archive, project="SYNTH", n_subjects=1, seed=0, preset="small")
    client.objects.create(ObjectRef("STUDY"), "xnat:projectData")
    mount = _mount(emulator, tmp_path / "input")
    before = [r.label for r in emulator.archive.resources(SESSION)]
    alias, secret = emulator.issue_token("admin")  # what the Container Service injects
    monkeypatch.setenv("XNAT_HOST", emulator.url)
    monkeypatch.setenv("XNAT_USER", alias)
    monkeypatch.setenv("XNAT_PASS", secret)
    monkeypatch.setenv("SARCOMA_XNAT_SITE_SECRET", SECRET)
    code = main(["deid", "import", "--input", str(mount), "--project", "STUDY"])
    out = capsys.readouterr()
    assert code == 0, out.err
    (row,) = client.objects.sessions("STUDY")
    study = ObjectRef("STUDY", str(row["subject_label"]), str(row["label"]))
    assert study.subject != "SYN001" and study.subject.startswith("SXN")
    assert [s["ID"] for s in client.objects.scans(study)] == ["1", "2"]
    assert sorted(c.collection_type for c in client.roi.list(study)) == ["RTSTRUCT", "SEG"]
    # nothing was written beside the identified original
    assert [r.label for r in emulator.archive.resources(SESSION)] == before
