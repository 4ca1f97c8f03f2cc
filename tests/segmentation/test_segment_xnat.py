"""The segment command through the emulated Container Service: the draft arrives as an OHIF ROI collection."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import highdicom as hd

from sarcoma_xnat.archive import ObjectRef
from sarcoma_xnat.segmentation.registry import RESOURCE_LABEL, fetch_models
from sarcoma_xnat.synthetic import generate_cohort

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))  # tests/ holds xnat_emulator


def test_segment_launch_uploads_the_draft_through_xapi_roi(trained, tmp_path: Path) -> None:
    from xnat_emulator import XnatEmulator

    from sarcoma_xnat.xnat import connect

    archive, manifest, _ = trained
    emu = XnatEmulator(tmp_path / "xnat", users={"admin": "admin-pass"}).start()
    try:
        client = connect(emu.url, "admin", "admin-pass", backoff=0.01)
        generate_cohort(emu.archive, project="SEGX", n_subjects=1, seed=4, preset="small")
        models = fetch_models(archive, manifest.project, tmp_path / "models")
        emu.archive.store_resource(ObjectRef("SEGX"), RESOURCE_LABEL, models)
        command = json.loads((ROOT / "xnat-commands" / "segment.json").read_text())
        cid = client.containers.install_command(command)
        wrapper = client.containers.command(cid)["xnat"][0]
        client.containers.enable(cid, wrapper["name"])
        client.containers.enable(cid, wrapper["name"], "SEGX")
        session = ObjectRef("SEGX", "SYN001", "SYN001_MR1")
        eid = emu.archive.get(session).id
        report = client.containers.launch(wrapper["id"], "session", f"/experiments/{eid}",
                                          project="SEGX", device="cpu")
        record = client.containers.wait(report, timeout=300, poll=0.2)
        log = client.containers.logs(record["id"])
        assert record["status"] == "Complete", log
        cols = {c.label: c for c in client.roi.list(session)}
        draft = cols["SYN001_MR1_AI-1"]  # stored by the ROI plugin's PUT: OHIF lists it
        assert draft.collection_type == "SEG" and draft.series_uids == (
            emu.archive.get(session.child(scan="1")).attrs["UID"],)
        seg = hd.seg.segread(client.roi.download("SEGX", draft.label, tmp_path, "SEG"))
        assert seg.SegmentSequence[0].SegmentAlgorithmType == "AUTOMATIC"
        assert "SEGMENTATION" in {r.label for r in emu.archive.resources(session)}
        client.close()
    finally:
        emu.stop()
