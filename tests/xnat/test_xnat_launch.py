"""Launches through the emulated Container Service: ID-form URIs, concurrency, statuses, mounts."""

from __future__ import annotations

import json
import os
import stat
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from sarcoma_xnat.archive import ObjectRef
from sarcoma_xnat.archive.base import locate
from sarcoma_xnat.archive.xnat import XnatArchive
from sarcoma_xnat.errors import ObjectNotFoundError

ROOT = Path(__file__).resolve().parents[2]


def _install(client: Any, command: dict[str, Any], project: str) -> dict[str, Any]:
    cid = client.containers.install_command(command)
    wrapper = client.containers.command(cid)["xnat"][0]
    client.containers.enable(cid, wrapper["name"])
    client.containers.enable(cid, wrapper["name"], project)
    return wrapper


def _seed_session(emulator: Any) -> ObjectRef:
    session = ObjectRef("P", "S1", "S1_MR")
    for ref in (ObjectRef("P"), session.parent, session):
        emulator.archive.create(ref)
    return session


def test_xnat_archive_finds_objects_by_id(emulator: Any, client: Any) -> None:
    """GET /data/experiments/{ID} and /data/subjects/{ID} give project and label."""
    session = _seed_session(emulator)
    archive = XnatArchive(client)
    eid, sid = emulator.archive.get(session).id, emulator.archive.get(session.parent).id
    assert archive.find_id("session", eid) == session
    assert archive.find_id("subject", sid) == session.parent
    assert locate(archive, f"/archive/experiments/{eid}") == (session, None)
    assert locate(archive, f"/experiments/{eid}/resources/X") == (session, "X")
    with pytest.raises(ObjectNotFoundError):
        archive.find_id("session", "XNAT_E99999")


def test_wait_stops_at_a_failed_variant(emulator: Any, client: Any) -> None:
    """ContainerUtils.statusIsTerminal: any status starting with Complete/Failed/Killed."""
    emulator.cs["containers"][77] = {"id": 77, "container-id": "c77", "status": "Failed (Staging)",
                                     "workflow-id": "w77", "project": "P", "history": [],
                                     "logs": {"stdout": "", "stderr": ""}}
    started = time.monotonic()
    record = client.containers.wait({"workflow-id": "w77"}, timeout=5, poll=0.05)
    assert record["status"] == "Failed (Staging)" and time.monotonic() - started < 4


def test_launches_run_concurrently(emulator: Any, client: Any) -> None:
    """Three launches meet at a barrier: only possible when they run at the same time."""
    session = _seed_session(emulator)
    barrier = threading.Barrier(3, timeout=10)
    emulator.launcher = lambda ctx: (barrier.wait(), (0, "met"))[1]
    command = json.loads((ROOT / "xnat-commands" / "prognosis.json").read_text())
    wrapper = _install(client, command, "P")
    reports = [client.containers.launch(wrapper["id"], "session", session.uri, project="P")
               for _ in range(3)]
    records = [client.containers.wait(r, timeout=30, poll=0.05) for r in reports]
    assert [r["status"] for r in records] == ["Complete"] * 3


def test_output_mount_is_owner_only_and_runs_as_the_caller(emulator: Any, client: Any,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """CommandResolutionServiceImpl: the output build folder is setWritable(true), owner only."""
    import sarcoma_xnat.containers.engines as engines

    seen: dict[str, Any] = {}

    class Probe:
        name = "probe"

        def run(self, spec: Any, sink: Any) -> int:
            for host, path, writable in spec.mounts:
                seen[path] = (stat.S_IMODE(os.stat(host).st_mode), writable,
                              sorted(p.name for p in Path(host).rglob("*")))
            seen["user"] = spec.user
            return 3  # nothing to upload

    monkeypatch.setattr(engines, "InProcessEngine", Probe)
    session = _seed_session(emulator)
    (emulator.root / "f").mkdir()
    (emulator.root / "f" / "1.dcm").write_bytes(b"not really DICOM")
    emulator.archive.create(session.child(scan="1"))
    emulator.archive.store_resource(session.child(scan="1"), "DICOM", emulator.root / "f")
    command = json.loads((ROOT / "xnat-commands" / "preprocess.json").read_text())
    wrapper = next(w for w in command["xnat"] if w["name"] == "sarcoma-preprocess-session")
    command["xnat"] = [wrapper]
    _install(client, command, "P")
    installed = client.containers.find_command(command["name"])
    report = client.containers.launch(installed["xnat"][0]["id"], "session", session.uri, project="P")
    record = client.containers.wait(report, timeout=30, poll=0.05)
    assert record["status"] == "Failed", client.containers.logs(record["id"])
    assert seen.get("/output", (None,))[:2] == (0o700, True), client.containers.logs(record["id"])
    # the input mount is the session folder with XNAT's catalog in each resource folder
    assert "scan_1_catalog.xml" in seen["/input"][2]
    assert seen["user"] == f"{os.getuid()}:{os.getgid()}"


def test_prognosis_launch_with_xnat_session_uri(emulator: Any, client: Any) -> None:
    """The Container Service gives the session as /archive/experiments/{ID}: prognosis must take it."""
    pytest.importorskip("torch")
    sys.path.insert(0, str(ROOT / "tests" / "fl"))
    from fl_fixtures import make_site

    from sarcoma_xnat.fl.checkpoint import save_checkpoint
    from sarcoma_xnat.fl.dataset import load_cohort
    from sarcoma_xnat.fl.workflow import train_model
    from sarcoma_xnat.models.training import TrainConfig

    site = make_site(emulator.archive.root, "PROG", 12, seed=2)
    data = load_cohort(site, "PROG", image_size=None).data
    trained = train_model(data, "tiny", "clinical", TrainConfig(epochs=1, batch_size=12))
    (emulator.root / "model").mkdir()
    save_checkpoint(emulator.root / "model" / "model.pt", trained.model, trained.meta)
    site.store_resource(ObjectRef("PROG"), "PROGNOSIS_MODEL", emulator.root / "model")
    session = ObjectRef("PROG", "PROG001", "PROG001_MR1")
    command = json.loads((ROOT / "xnat-commands" / "prognosis.json").read_text())
    wrapper = _install(client, command, "PROG")
    eid = emulator.archive.get(session).id
    report = client.containers.launch(wrapper["id"], "session", f"/experiments/{eid}", project="PROG")
    record = client.containers.wait(report, timeout=120, poll=0.1)
    log = client.containers.logs(record["id"])
    assert record["status"] == "Complete", log
    assert f"--target /archive/experiments/{eid}" in log
    stored = emulator.archive.resource_path(session, "PROGNOSIS") / "prognosis.json"
    assert json.loads(stored.read_text())["model_mode"] == "clinical"
