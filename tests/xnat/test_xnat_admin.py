"""Container Service admin, Event Service subscriptions, and ``xnat install`` (idempotent)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sarcoma_xnat.archive import ObjectRef
from sarcoma_xnat.cli import main
from sarcoma_xnat.containers.label import command_label
from sarcoma_xnat.errors import ConfigurationError, ContainerError
from sarcoma_xnat.xnat import action_key, subscription_body
from sarcoma_xnat.xnat.install import install_suite, load_suite_commands

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def commands() -> list[dict]:
    return load_suite_commands(ROOT / "xnat-commands")


def _preprocess(commands: list[dict]) -> dict:
    return next(c for c in commands if "preprocess" in c["name"])


def test_install_enable_launch_wait_logs(emulator, client, commands):
    seen = []
    emulator.launcher = lambda ctx: (seen.append(ctx) or (0, f"ran {ctx.wrapper['name']}"))
    cmd = _preprocess(commands)
    cid = client.containers.install_command(cmd)
    installed = client.containers.find_command(cmd["name"], cmd.get("version"))
    assert installed["id"] == cid
    wrapper = next(w for w in installed["xnat"] if w["name"] == "sarcoma-preprocess-session")
    value = "/archive/projects/P/subjects/S/experiments/E"
    with pytest.raises(ContainerError, match="not enabled"):
        client.containers.launch(wrapper["id"], "session", value, project="P")
    client.containers.enable(cid, wrapper["name"])
    client.containers.enable(cid, wrapper["name"], "P")
    assert client.containers.is_enabled(cid, wrapper["name"], "P")
    report = client.containers.launch(wrapper["id"], "session", value, project="P")
    record = client.containers.wait(report, timeout=30, poll=0.05)
    assert record["status"] == "Complete" and record["env"]["XNAT_PASS"] == "******"
    assert client.containers.logs(record["id"]) == "ran sarcoma-preprocess-session"
    assert seen[0].value == value and seen[0].env["XNAT_HOST"] == emulator.url
    assert seen[0].env["XNAT_USER"] not in emulator.tokens  # token invalidated at finalisation
    bulk = client.containers.bulk_launch(wrapper["id"], "session", [value, value + "2"], project="P")
    assert len(bulk["successes"]) == 2 and bulk["failures"] == []
    client.containers.disable(cid, wrapper["name"], "P")
    assert not client.containers.is_enabled(cid, wrapper["name"], "P")


def test_invalid_command_is_refused_with_reasons(client):
    with pytest.raises(ConfigurationError, match="refused command"):
        client.containers.install_command({"name": "bad", "image": "no-tag", "type": "docker"})


def test_install_from_image_label(emulator, client, commands):
    cmd = _preprocess(commands)
    emulator.cs["images"][cmd["image"]] = {"org.nrg.commands": command_label([cmd])}
    (saved,) = client.containers.install_from_image(cmd["image"])
    assert saved["name"] == cmd["name"] and saved["id"]


def _roi_wrapper(client, commands, enable: bool = True) -> tuple[int, dict]:
    """Install the preprocess command; return its id and ROI wrapper (enabled for P)."""
    cid = client.containers.install_command(_preprocess(commands))
    wrapper = next(w for w in client.containers.command(cid)["xnat"]
                   if w["name"] == "sarcoma-preprocess-roi")
    if enable:
        client.containers.enable(cid, wrapper["name"])
        client.containers.enable(cid, wrapper["name"], "P")
    return cid, wrapper


def test_subscription_create_verify_list_delete(client, commands):
    _, wrapper = _roi_wrapper(client, commands)
    body = subscription_body("on roi", "ImageAssessorEvent", "UPDATED", action_key(wrapper["id"]),
                             ["P"], payload_filter='@.xsiType == "icr:roiCollectionData"')
    sid = client.events.create(body)
    assert client.events.verify(sid)["name"] == "on roi"
    assert [s["id"] for s in client.events.subscriptions()] == [sid]
    client.events.delete(sid)
    assert client.events.subscriptions() == []


def test_subscription_that_cannot_fire_is_refused_or_caught(client, commands):
    cid, wrapper = _roi_wrapper(client, commands)
    typo = subscription_body("typo", "ImageAssesorEvent", "UPDATED", action_key(wrapper["id"]), ["P"])
    with pytest.raises(ConfigurationError, match="refused subscription 'typo'.*ImageAssesorEvent"):
        client.events.create(typo)  # xnat-web validate(): Class.forName fails -> 424
    ghost = subscription_body("ghost", "ImageAssessorEvent", "UPDATED", action_key(999999), ["P"])
    with pytest.raises(ConfigurationError, match="refused subscription 'ghost'"):
        client.events.create(ghost)
    # stored while valid, broken later: XNAT reads it back valid=false, verify() says why
    sid = client.events.create(subscription_body("later", "ImageAssessorEvent", "UPDATED",
                                                 action_key(wrapper["id"]), ["P"]))
    client.containers.disable(cid, wrapper["name"], "P")
    with pytest.raises(ConfigurationError, match="would never fire.*invalid"):
        client.events.verify(sid)


def test_install_is_idempotent_and_dry_run_changes_nothing(emulator, client, commands):
    client.objects.create(ObjectRef("SARC"), "xnat:projectData")
    dry = install_suite(client, "SARC", commands, dry_run=True, sink=lambda s: None)
    assert client.containers.commands() == [] and client.events.subscriptions() == []
    first = install_suite(client, "SARC", commands, sink=lambda s: None)
    assert [str(c) for c in first] == [str(c) for c in dry]
    wrappers = sum(len(c["xnat"]) for c in commands)
    assert sum(c.action == "enable wrapper" for c in first) == 2 * wrappers
    (sub,) = client.events.subscriptions()  # one per triggered ROI wrapper, UPDATED only
    assert sub["event-filter"]["status"] == "UPDATED"
    assert sub["event-filter"]["payload-filter"] == '@.xsiType == "icr:roiCollectionData"'
    assert sub["event-filter"]["project-ids"] == ["SARC"]
    assert install_suite(client, "SARC", commands, sink=lambda s: None) == []
    assert install_suite(client, "SARC", commands, dry_run=True, sink=lambda s: None) == []
    assert len(client.containers.commands()) == len(commands)
    assert len(client.events.subscriptions()) == 1


def test_install_updates_a_changed_command(emulator, client, commands):
    install_suite(client, "SARC", commands, sink=lambda s: None)
    changed = json.loads(json.dumps(commands))
    _preprocess(changed)["description"] = "new description"
    again = install_suite(client, "SARC", changed, sink=lambda s: None)
    assert [c.action for c in again] == ["update command"]
    assert len(client.containers.commands()) == len(commands)


def test_cli_install_dry_run_then_install(emulator, monkeypatch, capsys):
    monkeypatch.setenv("XNAT_PASS", "admin-pass")
    base = ["xnat", "install", "--host", emulator.url, "--user", "admin", "--project", "SARC",
            "--commands", str(ROOT / "xnat-commands")]
    assert main(base + ["--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would install command" in out and emulator.cs["commands"] == {}
    assert main(base) == 0
    assert main(base) == 0
    assert "already installed" in capsys.readouterr().out
    assert main(["xnat", "subscriptions", "--host", emulator.url, "--user", "admin"]) == 0
    assert capsys.readouterr().out.count("  ok") == 1


def test_cli_wrong_password_exit_code(emulator, monkeypatch, capsys):
    monkeypatch.setenv("XNAT_PASS", "nope-nope")
    assert main(["xnat", "whoami", "--host", emulator.url, "--user", "admin"]) == 2
    err = capsys.readouterr().err
    assert "wrong user name or password" in err and "nope-nope" not in err
