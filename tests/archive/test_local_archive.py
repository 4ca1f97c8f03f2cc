from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from sarcoma_xnat.archive import Archive, LocalArchive, ObjectRef
from sarcoma_xnat.errors import ArchiveError, ObjectNotFoundError

SESSION = ObjectRef("P1", "SUBJ1", "SUBJ1_MR1")


@pytest.fixture
def archive(tmp_path: Path) -> LocalArchive:
    a = LocalArchive(tmp_path / "arch")
    a.create(ObjectRef("P1"))
    a.create(SESSION.parent, fields={"age": 61, "sex": "F"})
    a.create(SESSION, "xnat:mrSessionData", attrs={"UID": "1.2.3"})
    return a


def _folder(tmp_path: Path, name: str, files: dict[str, bytes]) -> Path:
    folder = tmp_path / name
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    return folder


def test_local_archive_satisfies_the_protocol(archive: LocalArchive) -> None:
    assert isinstance(archive, Archive)


def test_metadata_round_trip(archive: LocalArchive) -> None:
    subject = archive.get(SESSION.parent)
    assert subject.xsi_type == "xnat:subjectData"
    assert subject.fields == {"age": "61", "sex": "F"}  # XNAT custom fields are strings
    archive.set_fields(SESSION.parent, {"age": 62})
    assert archive.get(SESSION.parent).fields["age"] == "62"
    session = archive.get(SESSION)
    assert session.attrs["UID"] == "1.2.3" and session.label == "SUBJ1_MR1"
    assert session.id != archive.get(SESSION.parent).id
    # IDs are stable: a second archive object over the same folder sees the same ID
    assert LocalArchive(archive.root).get(SESSION).id == session.id


def test_listing_is_sorted_with_numeric_scan_ids(archive: LocalArchive) -> None:
    for scan_id in ("10", "2", "1"):
        archive.create(SESSION.child(scan=scan_id), attrs={"type": f"T{scan_id}"})
    archive.create(SESSION.child(assessor="ROI_B"), "icr:roiCollectionData")
    archive.create(SESSION.child(assessor="ROI_A"), "icr:roiCollectionData")
    assert [s.label for s in archive.children(SESSION, "scan")] == ["1", "2", "10"]
    assert [a.label for a in archive.children(SESSION, "assessor")] == ["ROI_A", "ROI_B"]
    assert [p.label for p in archive.children(None, "project")] == ["P1"]
    assert [s.label for s in archive.children(ObjectRef("P1"), "subject")] == ["SUBJ1"]
    assert archive.children(SESSION.child(scan="1"), "assessor") == []


def test_resource_round_trip(archive: LocalArchive, tmp_path: Path) -> None:
    files = {"a.dcm": b"A" * 10, "sub/b.dcm": b"B" * 20}
    src = _folder(tmp_path, "src", files)
    info = archive.store_resource(SESSION, "OUT", src, format="DICOM")
    assert info.files == ("a.dcm", "sub/b.dcm") and info.format == "DICOM"
    got = archive.fetch_resource(SESSION, "OUT", tmp_path / "dest")
    assert {p.relative_to(tmp_path / "dest").as_posix(): p.read_bytes() for p in got} == files


def test_restore_replaces_and_never_duplicates(archive: LocalArchive, tmp_path: Path) -> None:
    archive.store_resource(SESSION, "OUT", _folder(tmp_path, "v1", {"old.txt": b"1", "keep.txt": b"1"}))
    archive.store_resource(SESSION, "OUT", _folder(tmp_path, "v2", {"keep.txt": b"2"}))
    resources = archive.resources(SESSION)
    assert [r.label for r in resources] == ["OUT"]
    assert resources[0].files == ("keep.txt",)
    assert (archive.resource_path(SESSION, "OUT") / "keep.txt").read_bytes() == b"2"
    # nothing left over beside the resource: no staging or replaced folders
    assert sorted(p.name for p in (archive.path(SESSION) / "resources").iterdir()) == ["OUT"]


def test_listing_during_a_replacement_sees_the_old_or_the_new_resource(
        archive: LocalArchive, tmp_path: Path) -> None:
    """A reader racing a writer (an XNAT launch resolving while OHIF saves) gets no error."""
    versions = [_folder(tmp_path, f"v{n}", {f"v{n}.txt": b"x", "common.txt": b"c"})
                for n in range(2)]
    archive.store_resource(SESSION, "AIM", versions[0])
    stop = threading.Event()

    def keep_replacing() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            archive.store_resource(SESSION, "AIM", versions[n % 2])

    writer = threading.Thread(target=keep_replacing)
    writer.start()
    try:
        seen = set()
        for _ in range(400):
            (found,) = archive.resources(SESSION)  # exactly the one resource, every time
            seen.add(found.files)
    finally:
        stop.set()
        writer.join()
    assert seen <= {("common.txt", "v0.txt"), ("common.txt", "v1.txt")} and seen


def test_failed_store_keeps_the_old_resource(archive: LocalArchive, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    archive.store_resource(SESSION, "OUT", _folder(tmp_path, "v1", {"x.txt": b"old"}))

    def broken_copytree(src: Path, dst: Path, **kwargs: object) -> None:
        Path(dst).mkdir(parents=True)
        (Path(dst) / "x.txt").write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(shutil, "copytree", broken_copytree)
    with pytest.raises(OSError, match="disk full"):
        archive.store_resource(SESSION, "OUT", _folder(tmp_path, "v2", {"x.txt": b"new"}))
    assert (archive.resource_path(SESSION, "OUT") / "x.txt").read_bytes() == b"old"
    assert sorted(p.name for p in (archive.path(SESSION) / "resources").iterdir()) == ["OUT"]


def test_errors_name_the_object(archive: LocalArchive, tmp_path: Path) -> None:
    missing = SESSION.child(scan="99")
    with pytest.raises(ObjectNotFoundError, match="scan 99"):
        archive.get(missing)
    with pytest.raises(ObjectNotFoundError, match="parent"):
        archive.create(ObjectRef("P1", "NOBODY", "NOBODY_MR1"))
    with pytest.raises(ObjectNotFoundError, match="no resource 'NOPE'"):
        archive.fetch_resource(SESSION, "NOPE", tmp_path / "x")
    with pytest.raises(ArchiveError, match="cannot change"):
        archive.create(SESSION, "xnat:ctSessionData")


def test_delete(archive: LocalArchive, tmp_path: Path) -> None:
    archive.store_resource(SESSION, "OUT", _folder(tmp_path, "v1", {"x": b"1"}))
    archive.delete_resource(SESSION, "OUT")
    archive.delete_resource(SESSION, "OUT")  # idempotent
    assert archive.resources(SESSION) == []
    archive.delete(SESSION)
    assert not archive.exists(SESSION)
    assert archive.children(SESSION.parent, "session") == []
