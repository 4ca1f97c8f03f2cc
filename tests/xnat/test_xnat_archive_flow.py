"""``XnatArchive`` behaves like ``LocalArchive``."""

from __future__ import annotations

import filecmp
from pathlib import Path

import pytest

from sarcoma_xnat.archive import LocalArchive, ObjectRef
from sarcoma_xnat.archive.xnat import XnatArchive
from sarcoma_xnat.errors import ObjectNotFoundError
from sarcoma_xnat.steps.base import stage_session
from sarcoma_xnat.synthetic import generate_cohort

SESSION = ObjectRef("SYNTH", "SYN001", "SYN001_MR1")


def _same_tree(a: Path, b: Path) -> bool:
    """Compare staged sessions; the ROI plugin's own AIM copy of an RTSTRUCT is left out."""
    def files(root: Path) -> list[str]:
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                      if p.is_file() and "/AIM/" not in p.relative_to(root).as_posix())

    files_a, files_b = files(a), files(b)
    return files_a == files_b and all(filecmp.cmp(a / f, b / f, shallow=False) for f in files_a)


def test_cohort_written_through_xnat_archive_stages_like_local(emulator, client, tmp_path: Path):
    local = LocalArchive(tmp_path / "local")
    generate_cohort(local, project="SYNTH", n_subjects=1, seed=0, preset="small")
    remote = XnatArchive(client)
    generate_cohort(remote, project="SYNTH", n_subjects=1, seed=0, preset="small",
                    truth_dir=tmp_path / "truth")
    assert remote.get(SESSION).attrs["UID"] == local.get(SESSION).attrs["UID"]
    assert remote.get(SESSION.parent).fields == local.get(SESSION.parent).fields
    assert [s.label for s in remote.children(SESSION, "scan")] == ["1", "2"]
    seg = remote.get(SESSION.child(assessor="SYN001_MR1_SEG"))
    assert seg.xsi_type == "icr:roiCollectionData" and seg.attrs["collectionType"] == "SEG"
    assert seg.attrs["references"] == local.get(SESSION.child(assessor="SYN001_MR1_SEG")).attrs["references"]
    assert _same_tree(stage_session(local, SESSION, tmp_path / "a"),
                      stage_session(remote, SESSION, tmp_path / "b"))
    # a second run overwrites in place: still one ROI collection per label, one DICOM resource
    generate_cohort(remote, project="SYNTH", n_subjects=1, seed=0, preset="small",
                    truth_dir=tmp_path / "truth")
    assert [a.label for a in remote.children(SESSION, "assessor")] == ["SYN001_MR1_RTSTRUCT",
                                                                       "SYN001_MR1_SEG"]
    assert [r.label for r in remote.resources(SESSION.child(scan="1"))] == ["DICOM"]


def test_store_and_fetch_resource(emulator, client, tmp_path: Path):
    remote = XnatArchive(client)
    remote.create(ObjectRef("P"), "xnat:projectData")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "x.txt").write_text("1")
    info = remote.store_resource(ObjectRef("P"), "OUT", tmp_path / "src", format="TXT")
    assert (info.label, info.format, info.files) == ("OUT", "TXT", ("x.txt",))
    assert remote.fetch_resource(ObjectRef("P"), "OUT", tmp_path / "dst")[0].read_text() == "1"
    remote.delete_resource(ObjectRef("P"), "OUT")
    assert remote.resources(ObjectRef("P")) == []
    with pytest.raises(ObjectNotFoundError):
        remote.fetch_resource(ObjectRef("P"), "OUT", tmp_path / "dst2")


def test_fetch_waits_for_a_resource_stored_late(emulator, client, tmp_path: Path):
    import threading

    remote = XnatArchive(client, missing_wait=10)
    remote.create(ObjectRef("P"), "xnat:projectData")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "late.dcm").write_text("seg")
    timer = threading.Timer(0.5, lambda: emulator.archive.store_resource(
        ObjectRef("P"), "SEG", tmp_path / "src"))
    timer.start()
    (got,) = remote.fetch_resource(ObjectRef("P"), "SEG", tmp_path / "dst")
    assert got.read_text() == "seg"


# An OHIF save triggering preprocessing end to end: tests/xnat/test_xnat_events_e2e.py
