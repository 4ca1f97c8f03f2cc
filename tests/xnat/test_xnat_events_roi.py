"""An OHIF save fires the ROI plugin's real sequence of ImageAssessorEvents, at the real moments.

Emulator behaviour: ICR OHIF-XNAT plugin ``process/DefaultCollectionStorage.java``
(``storeImpl``: createCollectionData, createAndInsertCatalog, createAndInsertResource +
saveCollectionData; ``clearCollectData`` on overwrite) and ``xapi/OhifRoiApi.java``
(``storeAlternateTypes``: RTSTRUCT -> AIM); payload ``uri`` from xnat-web
``eventservice/model/xnat/Assessor.java``; launch value from container-service
``CommandActionProvider.processEvent`` (``UriParserUtils.getArchiveUri``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sarcoma_xnat.archive import ObjectRef
from sarcoma_xnat.synthetic import generate_cohort
from sarcoma_xnat.xnat import action_key, subscription_body
from sarcoma_xnat.xnat.install import install_suite, load_suite_commands

ROOT = Path(__file__).resolve().parents[2]
SESSION = ObjectRef("SYNTH", "SYN001", "SYN001_MR1")


@pytest.fixture
def seen(emulator, client):
    """The cohort, the preprocess ROI wrapper enabled for SYNTH, and a launcher that records
    what the annotation's resources held when each launched container ran."""
    generate_cohort(emulator.archive, project="SYNTH", n_subjects=1, seed=0, preset="small")
    commands = load_suite_commands(ROOT / "xnat-commands")
    cid = client.containers.install_command(next(c for c in commands if "preprocess" in c["name"]))
    wrapper = next(w for w in client.containers.command(cid)["xnat"] if w["name"] == "sarcoma-preprocess-roi")
    client.containers.enable(cid, wrapper["name"])
    client.containers.enable(cid, wrapper["name"], "SYNTH")
    records: list[dict] = []

    def launcher(ctx):
        assessor = next(a for a in emulator.archive.children(SESSION, "assessor")
                        if ctx.value == f"/archive/experiments/{a.id}")
        records.append({"label": assessor.label, "resources": [
            (r.label, r.files) for r in emulator.archive.resources(assessor.ref)]})
        return 0, "recorded"

    emulator.launcher = launcher
    emulator.event_state["settle"] = True  # each launch runs before the plugin saves again
    return {"records": records, "wrapper": wrapper, "commands": commands}


def _subscribe_all(client, wrapper: dict) -> None:
    for status in ("CREATED", "UPDATED"):
        client.events.create(subscription_body(f"all {status}", "ImageAssessorEvent", status,
                                               action_key(wrapper["id"]), ["SYNTH"],
                                               payload_filter='@.xsiType == "icr:roiCollectionData"'))


def _source(emulator, kind: str) -> Path:
    label = f"SYN001_MR1_{kind}"
    return emulator.archive.resource_path(SESSION.child(assessor=label), kind) / f"{label}.dcm"


def test_seg_save_fires_created_then_catalog_then_file(emulator, client, seen):
    _subscribe_all(client, seen["wrapper"])
    client.roi.upload(SESSION, "OHIF_SEG", _source(emulator, "SEG"), "SEG")
    assert [d["status"] for d in emulator.deliveries] == ["CREATED", "UPDATED", "UPDATED"]
    assert [r["resources"] for r in seen["records"]] == [
        [], [("SEG", ())], [("SEG", ("OHIF_SEG.dcm",))]]


def test_rtstruct_save_also_stores_the_aim_copy(emulator, client, seen):
    _subscribe_all(client, seen["wrapper"])
    client.roi.upload(SESSION, "OHIF_RT", _source(emulator, "RTSTRUCT"), "RTSTRUCT")
    assert [d["status"] for d in emulator.deliveries] == ["CREATED"] + ["UPDATED"] * 4
    rt = ("RTSTRUCT", ("OHIF_RT.dcm",))
    assert [r["resources"] for r in seen["records"]] == [
        [], [("RTSTRUCT", ())], [rt], [("AIM", ()), rt], [("AIM", ("OHIF_RT.xml",)), rt]]


def test_overwrite_clears_then_saves_again(emulator, client, seen):
    client.roi.upload(SESSION, "OHIF_SEG", _source(emulator, "SEG"), "SEG")
    _subscribe_all(client, seen["wrapper"])
    client.roi.upload(SESSION, "OHIF_SEG", _source(emulator, "SEG"), "SEG", overwrite=True)
    assert [d["status"] for d in emulator.deliveries] == ["UPDATED"] * 4
    assert [r["resources"] for r in seen["records"]] == [
        [], [], [("SEG", ())], [("SEG", ("OHIF_SEG.dcm",))]]


def test_payload_and_launch_use_xnat_ids(emulator, client, seen):
    _subscribe_all(client, seen["wrapper"])
    ident = client.roi.upload(SESSION, "OHIF_SEG", _source(emulator, "SEG"), "SEG")
    session_id = emulator.archive.get(SESSION).id
    assert {d["uri"] for d in emulator.deliveries} == {f"/experiments/{session_id}/assessors/{ident}"}
    assert {d["value"] for d in emulator.deliveries} == {f"/archive/experiments/{ident}"}


def test_installed_trigger_launches_on_updated_only(emulator, client, seen):
    install_suite(client, "SYNTH", seen["commands"], sink=lambda s: None)
    client.roi.upload(SESSION, "OHIF_SEG", _source(emulator, "SEG"), "SEG")
    assert [d["status"] for d in emulator.deliveries] == ["UPDATED", "UPDATED"]
    assert all(d["launch"]["status"] == "success" for d in emulator.deliveries)
    assert [r["resources"] for r in seen["records"]] == [[("SEG", ())], [("SEG", ("OHIF_SEG.dcm",))]]
