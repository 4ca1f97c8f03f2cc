"""A reviewer's corrected SEG saved through the ROI API gives one PREPROCESSED result made from it.

The emulated ROI PUT fires the ICR plugin's events (``DefaultCollectionStorage.storeImpl``)
and the suite's UPDATED subscription launches preprocessing, as in
``tests/xnat/test_xnat_events_e2e.py``. Here the session first gets an AI draft from the
segment command (itself uploaded through ``/xapi/roi``), then the reviewer's correction.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest

from sarcoma_xnat.archive import ObjectRef
from sarcoma_xnat.segmentation.registry import RESOURCE_LABEL, fetch_models
from sarcoma_xnat.segmentation.review import review_session
from sarcoma_xnat.synthetic import generate_cohort

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))  # tests/ holds xnat_emulator

SESSION = ObjectRef("SEGX", "SYN001", "SYN001_MR1")
REVIEWED = "SYN001_MR1_REVIEWED"


def _wait_all(client, deliveries) -> None:
    for d in deliveries:
        if d.get("launch") is not None:
            record = client.containers.wait(d["launch"], timeout=300, poll=0.1)
            assert record["exit-code"] == 0, client.containers.logs(record["id"])[-400:]


def _mask(path: Path, uids: list[str]) -> np.ndarray:
    seg = hd.seg.segread(path)
    return np.asarray(seg.get_pixels_by_source_instance(
        uids, segment_numbers=[1], combine_segments=True, assert_missing_frames_are_empty=True)) > 0


@pytest.mark.slow
def test_corrected_save_gives_one_preprocessed_result_from_the_review(trained, tmp_path: Path) -> None:
    from xnat_emulator import XnatEmulator

    from sarcoma_xnat.xnat import connect
    from sarcoma_xnat.xnat.install import install_suite, load_suite_commands

    archive, manifest, _ = trained
    emu = XnatEmulator(tmp_path / "xnat", users={"admin": "admin-pass"}).start()
    try:
        client = connect(emu.url, "admin", "admin-pass", backoff=0.01)
        generate_cohort(emu.archive, project="SEGX", n_subjects=1, seed=4, preset="small")
        # the phantom's own SEG plays the reviewer's correction; the session starts unannotated
        human = emu.archive.resource_path(SESSION.child(assessor="SYN001_MR1_SEG"), "SEG")
        corrected = tmp_path / f"{REVIEWED}.dcm"
        shutil.copyfile(next(human.glob("*.dcm")), corrected)
        for assessor in emu.archive.children(SESSION, "assessor"):
            emu.archive.delete(assessor.ref)
        emu.archive.store_resource(ObjectRef("SEGX"), RESOURCE_LABEL,
                                   fetch_models(archive, manifest.project, tmp_path / "models"))
        install_suite(client, "SEGX", load_suite_commands(ROOT / "xnat-commands"), sink=lambda s: None)
        stores: list[int] = []
        real_store = emu.archive.store_resource

        def store(ref, label, *args, **kwargs):
            if label == "PREPROCESSED":
                stores.append(len(emu.deliveries))
            return real_store(ref, label, *args, **kwargs)

        emu.archive.store_resource = store
        segment = client.containers.find_command("sarcoma-segment")
        wid = next(w["id"] for w in segment["xnat"] if w["name"] == "sarcoma-segment-session")
        first = len(emu.deliveries)
        report = client.containers.launch(wid, "session", f"/experiments/{emu.archive.get(SESSION).id}",
                                          project="SEGX", device="cpu")
        record = client.containers.wait(report, timeout=300, poll=0.2)
        assert record["status"] == "Complete", client.containers.logs(record["id"])
        _wait_all(client, emu.deliveries[first:])  # the draft's own save preprocessed it
        draft_stores = len(stores)

        # the reviewer's save, in the worst case: each launch runs to its end before the next save
        # (not for the draft: its PUT comes from inside the segment container)
        emu.event_state["settle"] = True
        first = len(emu.deliveries)
        client.roi.upload(SESSION, REVIEWED, corrected, "SEG")
        fired = emu.deliveries[first:]
        assert fired and {d["status"] for d in fired} == {"UPDATED"}
        _wait_all(client, fired)
        assert len(stores) - draft_stores == 1  # one effective run for the reviewer's save
        folder = emu.archive.resource_path(SESSION, "PREPROCESSED")
        used = json.loads((folder / "measurements.json").read_text())["annotation"]
        assert used["assessor"] == REVIEWED and used["kind"] == "SEG"

        review = review_session(emu.archive, SESSION)
        assert review.state == "reviewed" and review.reviewed == REVIEWED
        assert review.draft == "SYN001_MR1_AI-1" and review.model_version == "1"
        t1 = emu.archive.resource_path(SESSION.child(scan="1"), "DICOM")
        uids = [pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID for p in t1.rglob("*.dcm")]
        draft_file = next(emu.archive.resource_path(SESSION.child(assessor=review.draft), "SEG")
                          .glob("*.dcm"))
        a, b = _mask(draft_file, uids), _mask(corrected, uids)
        dice = 2 * (a & b).sum() / (a.sum() + b.sum())
        assert 0 < dice < 1 and review.metrics["dice"] == pytest.approx(dice, abs=1e-3)
        client.close()
    finally:
        emu.stop()
