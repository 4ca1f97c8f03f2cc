"""'Run container' of the preprocess command: scan types and rules from XNAT, fields set on the session."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sarcoma_xnat.archive import ObjectRef

ROOT = Path(__file__).resolve().parents[2]


def _install(client: Any, project: str) -> dict[str, Any]:
    command = json.loads((ROOT / "xnat-commands" / "preprocess.json").read_text())
    cid = client.containers.install_command(command)
    wrapper = next(w for w in client.containers.command(cid)["xnat"]
                   if w["name"] == "sarcoma-preprocess-session")
    client.containers.enable(cid, wrapper["name"])
    client.containers.enable(cid, wrapper["name"], project)
    return wrapper


def test_scan_types_rules_and_fields_through_the_container_service(emulator: Any, client: Any,
                                                                  tmp_path: Path) -> None:
    """CS gives the session URI (derived input) and XNAT_HOST/USER/PASS; the step uses the API."""
    from sarcoma_xnat.synthetic import generate_cohort

    archive = emulator.archive
    manifest = generate_cohort(archive, n_subjects=1, seed=5, preset="small")
    session = manifest.sessions[0]
    # scan types only XNAT knows (not in the DICOM), and project rules that match nothing else
    for scan, scan_type in (("1", "SARCPICKT1"), ("2", "SARCPICKT2")):
        archive.create(session.child(scan=scan), attrs={"type": scan_type})
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "series_rules.json").write_text(json.dumps(
        {"t1": {"include": "SARCPICKT1"}, "t2": {"include": "SARCPICKT2"}}))
    archive.store_resource(ObjectRef(session.project), "SERIES_RULES", rules)
    wrapper = _install(client, session.project)
    eid = archive.get(session).id
    report = client.containers.launch(wrapper["id"], "session", f"/experiments/{eid}",
                                      project=session.project)
    record = client.containers.wait(report, timeout=300, poll=0.2)
    log = client.containers.logs(record["id"])
    assert record["status"] == "Complete", log
    assert f"--xnat-session /archive/experiments/{eid}" in log
    folder = archive.resource_path(session, "PREPROCESSED")
    provenance = json.loads((folder / "provenance.json").read_text())
    assert provenance["inputs"]["t1"]["scan_type"] == "SARCPICKT1"
    assert provenance["inputs"]["t2"]["scan_type"] == "SARCPICKT2"
    assert provenance["parameters"]["series_rules"]["t1"]["include"] == "SARCPICKT1"
    saved = json.loads((folder / "measurements.json").read_text())
    fields = archive.get(session).fields
    assert float(fields["tumour_volume_ml"]) == round(saved["tumour"]["volume_mm3"] / 1000, 3)
    assert fields["tumour_size_check"] == "ok"
    assert float(fields["t1_roi_mean"]) == round(saved["intensity"]["t1"]["mean"], 4)


def test_without_xnat_credentials_the_uri_is_ignored(tmp_path: Path, monkeypatch: Any) -> None:
    """Outside XNAT (no XNAT_HOST/USER/PASS) the step works on the mount alone."""
    from sarcoma_xnat.steps.preprocess_xnat import connect_session

    for key in ("XNAT_HOST", "XNAT_USER", "XNAT_PASS"):
        monkeypatch.delenv(key, raising=False)
    assert connect_session("/archive/experiments/XNAT_E00001") is None
    assert connect_session(None, {"XNAT_HOST": "http://x", "XNAT_USER": "u", "XNAT_PASS": "p"}) is None


def test_a_session_not_on_that_xnat_is_not_used(emulator: Any) -> None:
    """A local run in a shell with XNAT_* set: the local session's URI is not on that XNAT."""
    from conftest import ADMIN

    from sarcoma_xnat.steps.preprocess_xnat import connect_session

    env = {"XNAT_HOST": emulator.url, "XNAT_USER": ADMIN[0], "XNAT_PASS": ADMIN[1]}
    assert connect_session("/archive/experiments/LOCAL_E0000", env) is None
