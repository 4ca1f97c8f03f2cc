"""Fixtures for ingestion: an export folder of the synthetic cohort, and a real Orthanc PACS.

The Orthanc fixture starts Debian's ``Orthanc`` on loopback with a configuration of its
own (storage in tmp_path, free DICOM and HTTP ports, an AE title, and our C-MOVE
destination), waits until it answers C-ECHO, and stops it at the end.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pydicom
import pytest

from sarcoma_xnat.archive import LocalArchive
from sarcoma_xnat.deid import Deidentifier, SiteKey
from sarcoma_xnat.synthetic import CohortManifest

SECRET = b"ingest-test-secret-0123456789abcd"
ORTHANC_AET = "ORTHANCTEST"
OUR_AET = "SARCOMAXNAT"


@pytest.fixture
def deidentifier() -> Deidentifier:
    """An engine under the test site's key."""
    return Deidentifier(SiteKey(SECRET))


@pytest.fixture
def phi(small_cohort_template: tuple[Path, CohortManifest]) -> list[str]:
    """Every PHI value planted in the small cohort."""
    return sorted({v for values in small_cohort_template[1].phi.values() for v in values})


@pytest.fixture
def export_dir(small_cohort_template: tuple[Path, CohortManifest], tmp_path: Path) -> Path:
    """A folder of manual exports: every DICOM file of the cohort, named after the patient."""
    return _export(small_cohort_template, tmp_path)


def _export(template: tuple[Path, CohortManifest], tmp_path: Path) -> Path:
    root, manifest = template
    archive = LocalArchive(root)
    out = tmp_path / "exports"
    for session in manifest.sessions:
        for kind in ("scan", "assessor"):
            for child in archive.children(session, kind):
                for res in archive.resources(child.ref):
                    for path in archive.fetch_resource(child.ref, res.label, tmp_path / "fetch"):
                        ds = pydicom.dcmread(path, stop_before_pixels=True)
                        name = str(ds.PatientName).replace("^", "_")
                        folder = out / name / f"{ds.Modality}_{ds.SeriesNumber}"
                        folder.mkdir(parents=True, exist_ok=True)
                        shutil.move(path, folder / f"{name}_{ds.InstanceNumber or 1:04d}.dcm")
    shutil.rmtree(tmp_path / "fetch", ignore_errors=True)
    return out


def free_port() -> int:
    """Return a TCP port that is free on loopback now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Orthanc:
    """A running Orthanc: where it listens, and where our C-MOVE SCP must listen."""

    dicom_port: int
    http_port: int
    move_port: int
    aet: str = ORTHANC_AET


def _echo(port: int) -> bool:
    from pynetdicom import AE

    ae = AE(ae_title="PROBE")
    ae.add_requested_context("1.2.840.10008.1.1")
    ae.acse_timeout = ae.network_timeout = 2
    assoc = ae.associate("127.0.0.1", port, ae_title=ORTHANC_AET)
    if not assoc.is_established:
        return False
    status = assoc.send_c_echo()
    assoc.release()
    return bool(status) and status.Status == 0


@pytest.fixture(scope="module")
def orthanc(small_cohort_template: tuple[Path, CohortManifest],
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orthanc]:
    """A private Orthanc on loopback holding the small cohort (C-STOREd by storescu)."""
    tmp_path = tmp_path_factory.mktemp("orthanc")
    for node in _run_orthanc(tmp_path):
        _load_into_pacs(node, _export(small_cohort_template, tmp_path))
        yield node


def _run_orthanc(tmp_path: Path) -> Iterator[Orthanc]:
    """Start a private Orthanc on loopback; stop it afterwards."""
    binary = shutil.which("Orthanc")
    if binary is None:
        pytest.skip("Orthanc is not installed (scripts/install.sh test installs it)")
    node = Orthanc(free_port(), free_port(), free_port())
    store = tmp_path / "orthanc"
    store.mkdir()
    config = {
        "Name": "sarcoma-xnat-test", "StorageDirectory": str(store / "db"),
        "IndexDirectory": str(store / "db"), "Plugins": [],
        "HttpServerEnabled": True, "HttpPort": node.http_port, "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False, "SslEnabled": False,
        "DicomServerEnabled": True, "DicomAet": ORTHANC_AET, "DicomPort": node.dicom_port,
        "DicomCheckCalledAet": False, "DicomAlwaysAllowStore": True, "DicomAlwaysAllowEcho": True,
        "DicomModalities": {"sarcoma": [OUR_AET, "127.0.0.1", node.move_port]},
        "StorageCompression": False, "ConcurrentJobs": 1, "SaveJobs": False,
    }
    (store / "orthanc.json").write_text(json.dumps(config))
    log = open(store / "orthanc.log", "wb")
    proc = subprocess.Popen([binary, str(store / "orthanc.json")], stdout=log,
                            stderr=subprocess.STDOUT, cwd=store)
    try:
        deadline = time.monotonic() + 30
        while not _echo(node.dicom_port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("Orthanc did not start: "
                                   + (store / "orthanc.log").read_text(errors="replace")[-2000:])
            time.sleep(0.3)
        yield node
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _load_into_pacs(node: Orthanc, folder: Path) -> None:
    """C-STORE every file under ``folder`` into Orthanc with DCMTK's storescu."""
    storescu = shutil.which("storescu", path="/usr/bin") or shutil.which("storescu")
    if storescu is None:
        pytest.skip("DCMTK storescu is not installed (scripts/install.sh test installs it)")
    result = subprocess.run([storescu, "-aet", "LOADER", "-aec", ORTHANC_AET, "+sd", "+r", "-R",
                             "127.0.0.1", str(node.dicom_port), str(folder)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
