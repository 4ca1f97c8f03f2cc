"""``xnat launch``: a wrapper over a project's sessions through the Container Service bulk launch."""

from __future__ import annotations

from pathlib import Path

import pytest

from sarcoma_xnat.archive import ObjectRef
from sarcoma_xnat.cli import main
from sarcoma_xnat.xnat.bulk import plan_bulk, run_bulk

COMMAND = {
    "name": "bulk-test", "image": "example/bulk:1.0", "type": "docker", "command-line": "run",
    "mounts": [{"name": "out", "writable": True, "path": "/out"}],
    "outputs": [{"name": "o", "mount": "out", "required": True}],
    "xnat": [{"name": "bulk-session", "contexts": ["xnat:imageSessionData"],
              "external-inputs": [{"name": "session", "type": "Session", "required": True}],
              "output-handlers": [{"name": "h", "accepts-command-output": "o",
                                   "as-a-child-of": "session", "type": "Resource",
                                   "label": "OUT"}]}],
}


@pytest.fixture(autouse=True)
def _password(monkeypatch: pytest.MonkeyPatch) -> None:
    """``xnat launch`` takes the password from XNAT_PASS, never from a flag."""
    monkeypatch.setenv("XNAT_PASS", "admin-pass")
    monkeypatch.delenv("XNAT_USER", raising=False)


@pytest.fixture
def project(emulator, client, tmp_path: Path):
    """Project P with sessions S1..S3; the command installed and enabled; a fake launcher.

    The launcher fails on S2 and stores resource OUT on the others.
    """
    from xnat_emulator.archive_routes import find_session

    client.objects.create(ObjectRef("P"), "xnat:projectData")
    for i in (1, 2, 3):
        client.objects.create_subject("P", f"SUB{i}")
        client.objects.create_session("P", f"SUB{i}", f"S{i}")
    cid = client.containers.install_command(COMMAND)
    client.containers.enable(cid, "bulk-session")
    client.containers.enable(cid, "bulk-session", "P")
    seen: list[str] = []
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "x.txt").write_text("x")

    def launcher(ctx):
        assert ctx.value.startswith("/archive/experiments/")
        ref = find_session(emulator.archive, ctx.value.rsplit("/", 1)[1])
        seen.append(ref.session)
        if ref.session == "S2":
            return 1, "boom"
        emulator.archive.store_resource(ref, "OUT", tmp_path / "out")
        return 0, "ok"

    emulator.launcher = launcher
    return seen


def test_bulk_launch_reports_failures_and_missing_skips_done(emulator, client, project, capsys):
    code = main(["xnat", "launch", "--host", emulator.url, "--user", "admin", "--project", "P",
                 "--wrapper", "bulk-session"])
    out = capsys.readouterr()
    assert code == 1  # S2 failed
    assert sorted(project) == ["S1", "S2", "S3"]
    assert "2 complete, 1 failed" in out.out
    assert "Failed" in out.err
    assert emulator.count("POST", r"/xapi/projects/P/wrappers/\d+/root/session/bulklaunch$") == 1
    project.clear()
    code = main(["xnat", "launch", "--host", emulator.url, "--user", "admin", "--project", "P",
                 "--wrapper", "bulk-session", "--missing"])
    out = capsys.readouterr()
    assert project == ["S2"] and code == 1
    assert "1 session(s) to run, 2 already have OUT" in out.out


def test_bulk_report_is_only_queued(emulator, client, project):
    plan = plan_bulk(client, "P", "bulk-session")
    assert plan.root == "session" and plan.resource == "OUT"
    assert sorted(plan.targets) == ["S1", "S2", "S3"]
    report = client.containers.bulk_launch(plan.wrapper_id, plan.root, list(plan.targets.values()),
                                           project="P")
    assert [s["workflow-id"] for s in report["successes"]] == ["To be assigned"] * 3


def test_run_bulk_waits_for_every_container(emulator, client, project):
    result = run_bulk(client, plan_bulk(client, "P", "bulk-session"), "P", poll=0.05, timeout=60)
    assert (result.launched, result.unfinished, result.ok) == (3, 0, False)
    assert [r["status"] for r in result.failed] == ["Failed"]


def test_nothing_to_do_launches_nothing(emulator, client, project, capsys):
    for i in (1, 2, 3):
        emulator.archive.store_resource(ObjectRef("P", f"SUB{i}", f"S{i}"), "OUT", _done(emulator))
    code = main(["xnat", "launch", "--host", emulator.url, "--user", "admin", "--project", "P",
                 "--wrapper", "bulk-session", "--missing"])
    assert code == 0 and "0 session(s) to run" in capsys.readouterr().out
    assert emulator.count("POST", r"bulklaunch$") == 0


def _done(emulator) -> Path:
    folder = emulator.root / "done-out"
    folder.mkdir(exist_ok=True)
    (folder / "y.txt").write_text("y")
    return folder
