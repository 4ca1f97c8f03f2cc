"""Files: streamed, checksum-verified downloads; uploads that replace and never duplicate."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from sarcoma_xnat.archive import ObjectRef
from sarcoma_xnat.errors import ObjectNotFoundError, XnatError
from sarcoma_xnat.xnat import ResourceRef


def _folder(root: Path, files: dict[str, bytes]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


@pytest.fixture
def scan(xnat, unique):
    objs = xnat.client.objects
    objs.create_subject(xnat.project, unique)
    objs.create_session(xnat.project, unique, f"{unique}_MR")
    ref = ObjectRef(xnat.project, unique, f"{unique}_MR", "1")
    objs.create(ref, "xnat:mrScanData", attrs={"type": "T1"})
    yield ref
    objs.delete(ObjectRef(xnat.project, unique))


def test_upload_then_download_with_checksums(xnat, scan, tmp_path: Path):
    files = xnat.client.files
    src = _folder(tmp_path / "src", {"a.dcm": b"A" * 1000, "sub/b.dcm": b"B" * 3})
    res = ResourceRef(scan, "DICOM")
    assert files.upload_folder(res, src, format="DICOM", content="RAW") == ["a.dcm", "sub/b.dcm"]
    rows = files.resources(scan)
    assert [(r["label"], r["format"], r["file_count"]) for r in rows] == [("DICOM", "DICOM", "2")]
    listed = {r["Name"]: r for r in files.files(res)}
    assert listed["a.dcm"]["Size"] == "1000"
    got = files.download_resource(res, tmp_path / "dest")
    assert [p.relative_to(tmp_path / "dest").as_posix() for p in got] == ["a.dcm", "sub/b.dcm"]
    assert (tmp_path / "dest" / "sub" / "b.dcm").read_bytes() == b"BBB"
    by_scan = files.download_scan(scan, tmp_path / "scan")
    assert sorted(by_scan) == ["DICOM"]
    assert (tmp_path / "scan" / "DICOM" / "a.dcm").read_bytes() == b"A" * 1000


def test_reupload_replaces_and_never_duplicates(xnat, scan, tmp_path: Path):
    files = xnat.client.files
    res = ResourceRef(scan, "NIFTI")
    files.upload_folder(res, _folder(tmp_path / "v1", {"t1.nii.gz": b"one", "old.txt": b"x"}))
    files.upload_folder(res, _folder(tmp_path / "v2", {"t1.nii.gz": b"two!"}))
    files.upload_folder(res, tmp_path / "v2")
    assert [r["label"] for r in files.resources(scan)] == ["NIFTI"]
    assert [(r["Name"], r["Size"]) for r in files.files(res)] == [("t1.nii.gz", "4")]
    files.download_resource(res, tmp_path / "back")
    assert (tmp_path / "back" / "t1.nii.gz").read_bytes() == b"two!"


def test_single_file_upload_and_zip_download(xnat, scan, tmp_path: Path):
    files = xnat.client.files
    res = ResourceRef(scan, "EXTRA")
    one = _folder(tmp_path / "src", {"note.txt": b"hello"}) / "note.txt"
    files.upload_file(res, one, "notes/note.txt")
    files.upload_file(res, one, "notes/note.txt")  # overwrite, not a second copy
    assert [r["URI"].split("/files/")[1] for r in files.files(res)] == ["notes/note.txt"]
    got = files.download_zip(res.files_path, tmp_path / "zip")
    assert [p.name for p in got] == ["note.txt"] and got[0].read_bytes() == b"hello"


def test_missing_resource_is_not_found(xnat, scan, tmp_path: Path):
    with pytest.raises(ObjectNotFoundError) as info:
        xnat.client.files.download_resource(ResourceRef(scan, "NOPE"), tmp_path)
    assert info.value.context["resource"] == "NOPE"
    xnat.client.files.delete_resource(ResourceRef(scan, "NOPE"))  # no error


def test_interrupted_download_leaves_no_partial_file(emulator, client, tmp_path: Path):
    client.objects.create(ObjectRef("P"), "xnat:projectData")
    ref = ObjectRef("P")
    data = bytes(range(256)) * 4096  # 1 MiB
    res = ResourceRef(ref, "BIG")
    client.files.upload_folder(res, _folder(tmp_path / "src", {"big.bin": data}))
    emulator.add_fault("GET", r"/files/big\.bin$", truncate_after=100_000, times=99)
    dest = tmp_path / "dest"
    with pytest.raises(XnatError, match="download interrupted") as info:
        client.files.download_resource(res, dest)
    assert info.value.context["file"] == "big.bin"
    assert list(dest.rglob("*")) == []  # no big.bin, no .partial


def test_interrupted_download_is_resumed_by_a_retry(emulator, client, tmp_path: Path):
    client.objects.create(ObjectRef("P"), "xnat:projectData")
    data = bytes(range(256)) * 4096
    res = ResourceRef(ObjectRef("P"), "BIG")
    client.files.upload_folder(res, _folder(tmp_path / "src", {"big.bin": data}))
    emulator.add_fault("GET", r"/files/big\.bin$", truncate_after=100_000, times=1)
    (path,) = client.files.download_resource(res, tmp_path / "dest")
    assert hashlib.md5(path.read_bytes()).digest() == hashlib.md5(data).digest()
    assert [p.name for p in (tmp_path / "dest").iterdir()] == ["big.bin"]


def test_a_corrupt_download_fails_verification(emulator, client, tmp_path: Path):
    client.objects.create(ObjectRef("P"), "xnat:projectData")
    res = ResourceRef(ObjectRef("P"), "R")
    client.files.upload_folder(res, _folder(tmp_path / "src", {"f.bin": b"good data"}))
    row = client.files.files(res)[0]
    with pytest.raises(Exception, match="failed verification"):
        client.files.download_file(row["URI"], tmp_path / "dest" / "f.bin", md5="0" * 32)
    assert not (tmp_path / "dest" / "f.bin").exists()
    assert list((tmp_path / "dest").iterdir()) == []
