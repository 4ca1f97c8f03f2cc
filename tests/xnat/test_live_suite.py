"""The live tier: the suite on a real XNAT with the Container Service and the OHIF ROI plugin.

Skipped cleanly unless ``SARCOMA_XNAT_LIVE_URL``/``_USER``/``_PASS`` are set (see the
``live`` fixture for the one command that runs it). The server needs the suite's
images on its docker host (``sarcoma-xnat images build``), the Event Service enabled,
and a scratch project (``SARCOMA_XNAT_LIVE_PROJECT``, default ``SXTEST``) the user owns.
The deid launch imports into a study project (``SARCOMA_XNAT_LIVE_STUDY_PROJECT``, default
the scratch project's ID + ``S``; made when missing) and needs the site secret as XNAT's
JVM system property (``-Dsarcoma.xnat.site-secret=...``, Container Service 3.3+).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import requests

from sarcoma_xnat.archive import ObjectRef
from sarcoma_xnat.archive.xnat import XnatArchive
from sarcoma_xnat.synthetic import generate_cohort
from sarcoma_xnat.xnat import ResourceRef
from sarcoma_xnat.xnat.bulk import is_terminal
from sarcoma_xnat.xnat.install import install_suite, load_suite_commands

pytestmark = [pytest.mark.live, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
WAIT = 1800.0


@pytest.fixture(scope="module")
def commands() -> list[dict]:
    return load_suite_commands(ROOT / "xnat-commands")


@pytest.fixture
def cohort(live, tmp_path: Path) -> ObjectRef:
    """One synthetic subject written through the import service and the ROI API."""
    generate_cohort(XnatArchive(live.client), project=live.project, n_subjects=1, seed=0,
                    preset="small", truth_dir=tmp_path / "truth")
    return ObjectRef(live.project, "SYN001", "SYN001_MR1")


def _installed(live, commands) -> None:
    install_suite(live.client, live.project, commands, sink=lambda s: None)


def test_install_twice_changes_nothing_the_second_time(live, commands):
    _installed(live, commands)
    assert install_suite(live.client, live.project, commands, sink=lambda s: None) == []
    assert install_suite(live.client, live.project, commands, dry_run=True, sink=lambda s: None) == []


def test_subscriptions_read_back(live, commands):
    _installed(live, commands)
    ours = [s for s in live.client.events.subscriptions()
            if "CommandActionProvider" in str(s.get("action-key"))]
    assert ours, "install made no Event Service subscription"
    for sub in ours:
        assert live.client.events.verify(int(sub["id"]))["id"] == sub["id"]


def _wrapper(commands, name: str) -> dict:
    return next(w for c in commands for w in c["xnat"] if w["name"] == name)


def _installed_wrapper_id(live, name: str) -> int:
    for command in live.client.containers.commands():
        for wrapper in command.get("xnat", []):
            if wrapper.get("name") == name:
                return int(wrapper["id"])
    raise AssertionError(f"wrapper {name} not installed")


@pytest.mark.parametrize("wrapper", ["sarcoma-preprocess-session", "sarcoma-deid-session",
                                     "sarcoma-prognosis-session"])
def test_launch_each_command(live, commands, cohort, wrapper):
    _installed(live, commands)
    root = _wrapper(commands, wrapper)["external-inputs"][0]["name"]
    session_id = live.client.objects.accession_id(cohort)
    params = {}
    if "deid" in wrapper:  # the secret comes from the server's -Dsarcoma.xnat.site-secret
        study = os.environ.get("SARCOMA_XNAT_LIVE_STUDY_PROJECT", f"{live.project}S")
        if not live.client.objects.exists(ObjectRef(study)):
            live.client.objects.create(ObjectRef(study), "xnat:projectData")
        params = {"study_project": study}
    report = live.client.containers.launch(_installed_wrapper_id(live, wrapper), root,
                                           f"/archive/experiments/{session_id}",
                                           project=live.project, **params)
    record = live.client.containers.wait(report, timeout=WAIT, poll=5)
    assert is_terminal(record["status"])
    if "prognosis" not in wrapper:  # prognosis needs the project's PROGNOSIS_MODEL
        assert record["status"].startswith("Complete"), live.client.containers.logs(record["id"])


def test_roi_upload_triggers_preprocessing(live, commands, cohort, tmp_path: Path):
    _installed(live, commands)
    wid = _installed_wrapper_id(live, "sarcoma-preprocess-roi")
    before = {str(r["id"]) for r in live.client.containers.containers(live.project)}
    seg = live.client.roi.download(live.project, "SYN001_MR1_SEG", tmp_path, "SEG")
    live.client.roi.upload(cohort, "LIVE_ANNOT", seg, "SEG", overwrite=True)
    deadline = time.monotonic() + WAIT
    mine: list[dict] = []
    while time.monotonic() < deadline:
        mine = [r for r in live.client.containers.containers(live.project)
                if str(r["id"]) not in before and int(r.get("wrapper-id") or -1) == wid]
        if mine and all(is_terminal(r.get("status")) for r in mine):
            break
        time.sleep(5)
    assert mine, "the ROI save launched no preprocessing"
    assert any(r["status"].startswith("Complete") for r in mine)


def test_interrupted_download_leaves_nothing_and_retries(live, cohort, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch):
    files = live.client.files
    res = ResourceRef(cohort.child(scan="1"), "DICOM")
    row = files.files(res)[0]
    real = requests.Response.iter_content
    calls = {"n": 0}

    def cut(self, chunk_size=1, decode_unicode=False):
        calls["n"] += 1
        for i, block in enumerate(real(self, chunk_size, decode_unicode)):
            if calls["n"] == 1 and i == 0:
                yield block[: len(block) // 2]
                raise requests.ConnectionError("cut by the test")
            yield block

    monkeypatch.setattr(requests.Response, "iter_content", cut)
    target = tmp_path / "one.dcm"
    files.download_file(str(row["URI"]), target, int(row["Size"]), row.get("digest") or None)
    assert calls["n"] == 2 and target.stat().st_size == int(row["Size"])
    assert [p.name for p in tmp_path.iterdir()] == ["one.dcm"]  # no .partial left
