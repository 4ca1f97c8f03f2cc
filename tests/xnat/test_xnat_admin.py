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
    assert record["status"] == "Complete" and record["environment-variables"]["XNAT_PASS"] == "******"
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


def test_subscription_create_verify_list_delete(client, commands):
    cid = client.containers.install_command(_preprocess(commands))
    wid = next(w["id"] for w in client.containers.command(cid)["xnat"]
               if w["name"] == "sarcoma-preprocess-roi")
    body = subscription_body("on roi", "ImageAssessorEvent", "UPDATED", action_key(wid), ["P"])
    sid = client.events.create(body)
    assert client.events.verify(sid)["name"] == "on roi"
    assert [s["id"] for s in client.events.subscriptions()] == [sid]
    client.events.delete(sid)
    assert client.events.subscriptions() == []


def test_subscription_that_never_fires_is_caught(client, commands):
    cid = client.containers.install_command(_preprocess(commands))
    wid = client.containers.command(cid)["xnat"][0]["id"]
    typo = subscription_body("typo", "ImageAssesorEvent", "CREATED", action_key(wid))
    sid = client.events.create(typo)  # XNAT stores it without complaint
    with pytest.raises(ConfigurationError, match="unknown to this XNAT"):
        client.events.verify(sid)
    ghost = client.events.create(subscription_body("ghost", "ImageAssessorEvent", "CREATED",
                                                   action_key(999999)))
    with pytest.raises(ConfigurationError, match="is not offered"):
        client.events.verify(ghost)


def test_install_is_idempotent_and_dry_run_changes_nothing(emulator, client, commands):
    client.objects.create(ObjectRef("SARC"), "xnat:projectData")
    dry = install_suite(client, "SARC", commands, dry_run=True, sink=lambda s: None)
    assert client.containers.commands() == [] and client.events.subscriptions() == []
    first = install_suite(client, "SARC", commands, sink=lambda s: None)
    assert [str(c) for c in first] == [str(c) for c in dry]
    wrappers = sum(len(c["xnat"]) for c in commands)
    assert sum(c.action == "enable wrapper" for c in first) == 2 * wrappers
    subs = client.events.subscriptions()
    assert sorted(s["event-filter"]["status"] for s in subs) == ["CREATED", "UPDATED"]
    assert all(s["event-filter"]["project-ids"] == ["SARC"] for s in subs)
    assert install_suite(client, "SARC", commands, sink=lambda s: None) == []
    assert len(client.containers.commands()) == len(commands)
    assert len(client.events.subscriptions()) == 2


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
    assert capsys.readouterr().out.count("  ok") == 2


def test_cli_wrong_password_exit_code(emulator, monkeypatch, capsys):
    monkeypatch.setenv("XNAT_PASS", "nope-nope")
    assert main(["xnat", "whoami", "--host", emulator.url, "--user", "admin"]) == 2
    err = capsys.readouterr().err
    assert "wrong user name or password" in err and "nope-nope" not in err
