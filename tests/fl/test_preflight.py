"""``fl client --check`` on a provisioned client kit against the XNAT emulator: it says what is wrong."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

pytest.importorskip("nvflare")
pytest.importorskip("torch")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ holds xnat_emulator

from xnat_emulator import XnatEmulator  # noqa: E402

from sarcoma_xnat.archive import ObjectRef  # noqa: E402
from sarcoma_xnat.cli import main  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    from sarcoma_xnat.fl.provision import provision, write_sample_project

    root = tmp_path_factory.mktemp("kits")
    port = _free_port()  # nothing listens there: the FL server is down
    write_sample_project(root / "project.yml", "localhost", ["site-1"], port=port)
    kits = provision(root / "project.yml", root / "out")
    return next(k for k in kits if Path(k).name == "site-1"), port


@pytest.fixture
def xnat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from sarcoma_xnat.archive.xnat import XnatArchive
    from sarcoma_xnat.xnat import connect

    emu = XnatEmulator(tmp_path / "xnat", users={"admin": "admin-pass", "reader": "reader-pass"}).start()
    try:
        with connect(emu.url, "admin", "admin-pass", backoff=0.01) as c:
            archive = XnatArchive(c)
            session = ObjectRef("SARC01", "S001", "S001_MR1")
            archive.create(ObjectRef("SARC01"), "xnat:projectData")
            archive.create(session.parent, "xnat:subjectData")
            archive.create(session, "xnat:mrSessionData")
            (tmp_path / "pre").mkdir()
            (tmp_path / "pre" / "manifest.json").write_text("{}")
            archive.store_resource(session, "PREPROCESSED", tmp_path / "pre")
            archive.create(ObjectRef("RAW"), "xnat:projectData")
            raw = ObjectRef("RAW", "R001", "R001_MR1")
            archive.create(raw.parent, "xnat:subjectData")
            archive.create(raw, "xnat:mrSessionData")
        monkeypatch.setenv("XNAT_HOST", emu.url)
        monkeypatch.setenv("XNAT_USER", "reader")
        monkeypatch.setenv("XNAT_PASS", "reader-pass")
        monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc of the machine
        yield emu
    finally:
        emu.stop()


def _check(capsys, kit: Path, *extra: str, project: str = "SARC01") -> tuple[int, str]:
    rc = main(["fl", "client", "--kit", str(kit), "--site", "site-1", "--project", project,
               "--check", "--device", "cpu", "--min-free-gb", "0.001", *extra])
    return rc, capsys.readouterr().out


@pytest.mark.slow  # NVFlare's gRPC check waits for the server (~10 s per run)
def test_check_passes_ours_and_reports_the_unreachable_server(kit, xnat, capsys) -> None:
    path, port = kit
    rc, out = _check(capsys, path)
    assert rc == 1
    assert f"FAIL  NVFlare: Check server available: Can't connect to grpc server (localhost:{port})" in out
    assert "is the FL server running" in out
    assert "ok    startup kit: client kit for site-1" in out
    assert "ok    XNAT: reader account: logged in to" in out and "as reader" in out
    assert "ok    project: project SARC01: 1 sessions; 1 of the first 1 have a PREPROCESSED" in out
    assert "ok    disk" in out and "ok    device: cpu" in out
    assert "1 check(s) failed" in out


@pytest.mark.slow
def test_check_names_a_bad_login_an_uncurated_project_and_a_missing_one(kit, xnat, capsys,
                                                                         monkeypatch) -> None:
    path, _ = kit
    rc, out = _check(capsys, path, project="RAW")
    assert rc == 1 and "FAIL  project: project RAW: 1 sessions; 0 of the first 1" in out
    assert "fix: run preprocess" in out
    rc, out = _check(capsys, path, project="NOPE")
    assert rc == 1 and "FAIL  project: project NOPE is not readable in XNAT" in out
    monkeypatch.setenv("XNAT_PASS", "Xq7-not-it")
    rc, out = _check(capsys, path)
    assert rc == 1 and "FAIL  XNAT: reader account" in out and "fix: set XNAT_HOST" in out
    assert "Xq7-not-it" not in out  # the password is never printed


@pytest.mark.slow
def test_check_reports_disk_device_and_a_wrong_kit(kit, xnat, capsys, tmp_path: Path) -> None:
    import torch

    path, _ = kit
    rc, out = _check(capsys, path, "--min-free-gb", "1e9")
    assert rc == 1 and "FAIL  disk:" in out and "GiB free" in out
    if not torch.cuda.is_available():
        rc = main(["fl", "client", "--kit", str(path), "--site", "site-1", "--project", "SARC01",
                   "--check", "--device", "cuda", "--min-free-gb", "0.001"])
        out = capsys.readouterr().out
        assert rc == 1 and "FAIL  device: --device cuda: no CUDA GPU is usable" in out
    rc, out = _check(capsys, tmp_path)
    assert rc == 1 and "FAIL  startup kit:" in out and "NVFlare:" not in out
