"""The radiomics SEG and SR C-STOREd back to the site's PACS: a real Orthanc on loopback."""

from __future__ import annotations

import socket

import pydicom
import pytest
import requests

from sarcoma_xnat import cli
from sarcoma_xnat.errors import PacsError
from sarcoma_xnat.ingest.pacs import PacsNode

pytest.importorskip("radiomics")

from sarcoma_xnat.quantify.pacs_send import store_files  # noqa: E402
from sarcoma_xnat.steps.base import stage_session  # noqa: E402
from sarcoma_xnat.steps.preprocess import run_on_archive as preprocess  # noqa: E402

pytestmark = pytest.mark.pacs


def _in_orthanc(orthanc, uid: str) -> dict | None:
    """Return Orthanc's simplified tags of the instance with SOPInstanceUID ``uid``, if stored."""
    base = f"http://127.0.0.1:{orthanc.http_port}"
    found = requests.post(f"{base}/tools/lookup", data=uid, timeout=10).json()
    instances = [f for f in found if f["Type"] == "Instance"]
    if not instances:
        return None
    return requests.get(f"{base}/instances/{instances[0]['ID']}/simplified-tags", timeout=10).json()


def test_seg_and_sr_reach_the_pacs(orthanc, small_cohort, tmp_path, monkeypatch, capsys):
    archive, manifest = small_cohort
    session = manifest.sessions[0]
    preprocess(archive, session, {"n4_iterations": (10, 10), "n4_target_voxels": 20_000})
    staged = stage_session(archive, session, tmp_path / "input", assessors=False, resources=True)
    monkeypatch.setattr(cli, "COMMANDS", ("sarcoma_xnat.commands.radiomics",))
    out = tmp_path / "out"
    assert cli.main(["radiomics", "--input", str(staged), "--output", str(out),
                     "--send-to", f"127.0.0.1:{orthanc.dicom_port}",
                     "--called-ae", orthanc.aet]) == 0
    assert "sent SEG and SR (2 instances)" in capsys.readouterr().out
    for name, modality in (("seg.dcm", "SEG"), ("sr.dcm", "SR")):
        ds = pydicom.dcmread(out / name)
        tags = _in_orthanc(orthanc, str(ds.SOPInstanceUID))
        assert tags is not None, f"{name} is not in the PACS"
        assert tags["Modality"] == modality
        assert tags["StudyInstanceUID"] == str(ds.StudyInstanceUID)  # filed with its study


def test_a_pacs_that_is_not_there_is_an_error(orthanc, tmp_path):  # type: ignore[no-untyped-def]
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    ds = pydicom.Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.66.4"
    ds.SOPInstanceUID = pydicom.uid.generate_uid()
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    path = tmp_path / "x.dcm"
    ds.save_as(path, enforce_file_format=True)
    node = PacsNode("127.0.0.1", port, orthanc.aet)
    with pytest.raises(PacsError, match="cannot associate"):
        store_files(node, [path], timeout=3)
