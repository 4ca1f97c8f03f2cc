"""Event Service as xnat-web has it: predicate-only filters, 424 refusals, duplicate names,
a disabled service, and ``xnat install`` finding and cleaning its own subscriptions.

The emulator's behaviour here follows ``NrgXnat/xnat-web``
``eventservice/services/impl/EventSubscriptionEntityServiceImpl.java`` (``validate``),
``eventservice/rest/EventServiceRestApi.java`` and ``eventservice/services/impl/EventServiceImpl.java``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from sarcoma_xnat.archive import ObjectRef
from sarcoma_xnat.errors import ConfigurationError
from sarcoma_xnat.xnat import action_key, subscription_body
from sarcoma_xnat.xnat.install import install_suite, load_suite_commands

ROOT = Path(__file__).resolve().parents[2]
ADMIN = ("admin", "admin-pass")
ROI = '@.xsiType == "icr:roiCollectionData"'


@pytest.fixture
def commands() -> list[dict]:
    return load_suite_commands(ROOT / "xnat-commands")


@pytest.fixture
def wrapper(client, commands) -> dict:
    """The preprocess ROI wrapper, installed and enabled for the site and project P."""
    cmd = next(c for c in commands if "preprocess" in c["name"])
    cid = client.containers.install_command(cmd)
    found = next(w for w in client.containers.command(cid)["xnat"] if w["name"] == "sarcoma-preprocess-roi")
    client.containers.enable(cid, found["name"])
    client.containers.enable(cid, found["name"], "P")
    return dict(found, command_id=cid)


def _post(emulator, body: dict) -> requests.Response:
    return requests.post(emulator.url + "/xapi/events/subscription", json=body, auth=ADMIN, timeout=10)


def _body(wrapper: dict, **overrides) -> dict:
    body = subscription_body("s", "ImageAssessorEvent", "UPDATED", action_key(wrapper["id"]), ["P"],
                             payload_filter=ROI)
    body["event-filter"].update(overrides.pop("event_filter", {}))
    return {**body, **overrides}


def test_payload_filter_is_the_predicate_only(emulator, wrapper):
    for wrapped in ("$[?(@.xsiType == 'icr:roiCollectionData')]", "$.xsiType",
                    "@.label == 'x' || $[?(@.a)]"):
        response = _post(emulator, _body(wrapper, event_filter={"payload-filter": wrapped}))
        assert response.status_code == 424, wrapped
        assert "Filter string should include only predicate path" in response.text
    assert _post(emulator, _body(wrapper)).status_code == 201


def test_subscription_body_refuses_a_rooted_filter():
    with pytest.raises(ConfigurationError, match="predicate only"):
        subscription_body("s", "ImageAssessorEvent", "UPDATED", action_key(1),
                          payload_filter='$[?(@.xsiType == "icr:roiCollectionData")]')


def test_unknown_event_provider_or_disabled_action_is_refused(emulator, client, wrapper):
    cases = {
        "event type": _body(wrapper, event_filter={"event-type": "org.nrg.xnat.eventservice.events.NoSuchEvent"}),
        "provider": _body(wrapper, **{"action-key": f"org.nrg.NoProvider:{wrapper['id']}"}),
        "wrapper": _body(wrapper, **{"action-key": action_key(987654)}),
        "project": _body(wrapper, event_filter={"project-ids": ["OTHER"]}),  # not enabled there
    }
    for why, body in cases.items():
        assert _post(emulator, body).status_code == 424, why
    client.containers.disable(wrapper["command_id"], wrapper["name"])  # the site switch off
    assert _post(emulator, _body(wrapper)).status_code == 424  # the project alone is not enough
    assert emulator.subscriptions == {}


def test_subscription_names_are_not_unique(emulator, client, wrapper):
    first, second = (client.events.create(_body(wrapper, name="same")) for _ in range(2))
    assert first != second
    assert [s["id"] for s in client.events.find_all("same")] == [first, second]


def test_disabled_event_service(emulator, client, wrapper, commands):
    client.events.create(_body(wrapper))
    requests.put(emulator.url + "/xapi/events/prefs", json={"enabled": False}, auth=ADMIN, timeout=10)
    listing = requests.get(emulator.url + "/xapi/events/subscriptions", auth=ADMIN, timeout=10)
    assert listing.status_code == 200 and listing.content == b""
    assert client.events.subscriptions() == [] and client.events.enabled() is False
    assert _post(emulator, _body(wrapper)).status_code >= 400
    client.objects.create(ObjectRef("SARC"), "xnat:projectData")
    with pytest.raises(ConfigurationError, match="Event Service is disabled.*enable it"):
        install_suite(client, "SARC", commands, sink=lambda s: None)


def test_cli_subscriptions_says_the_service_is_disabled(emulator, monkeypatch, capsys):
    from sarcoma_xnat.cli import main

    requests.put(emulator.url + "/xapi/events/prefs", json={"enabled": False}, auth=ADMIN, timeout=10)
    monkeypatch.setenv("XNAT_PASS", ADMIN[1])
    assert main(["xnat", "subscriptions", "--host", emulator.url, "--user", "admin"]) == 2
    assert "Event Service is disabled" in capsys.readouterr().err


def test_install_finds_its_own_subscription_and_removes_duplicates(emulator, client, commands):
    client.objects.create(ObjectRef("SARC"), "xnat:projectData")
    install_suite(client, "SARC", commands, sink=lambda s: None)
    (ours,) = client.events.subscriptions()
    copy = {k: ours[k] for k in ("name", "active", "action-key", "attributes", "event-filter",
                                 "act-as-event-user")}
    client.events.create(copy)  # a second, identical one (an interrupted earlier install)
    stale = dict(copy, name=ours["name"].replace(" saved", " created"),
                 **{"event-filter": dict(copy["event-filter"], status="CREATED")})
    client.events.create(stale)  # the old installer's CREATED subscription
    foreign = dict(copy, name="someone else's")
    foreign_id = client.events.create(foreign)
    changes = install_suite(client, "SARC", commands, sink=lambda s: None)
    assert sorted(c.action for c in changes) == ["remove duplicate subscription",
                                                 "remove stale subscription"]
    assert sorted(s["id"] for s in client.events.subscriptions()) == [ours["id"], foreign_id]
    assert install_suite(client, "SARC", commands, sink=lambda s: None) == []


def test_project_enabled_report_makes_install_idempotent(emulator, client, commands):
    client.objects.create(ObjectRef("SARC"), "xnat:projectData")
    install_suite(client, "SARC", commands, sink=lambda s: None)
    cmd = client.containers.find_command(commands[0]["name"])
    wname = cmd["xnat"][0]["name"]
    raw = requests.get(f"{emulator.url}/xapi/projects/SARC/commands/{cmd['id']}/wrappers/{wname}/enabled",
                       auth=ADMIN, timeout=10).json()
    assert raw == {"enabled-for-site": True, "enabled-for-project": True, "project": "SARC"}
    assert client.containers.is_enabled(cmd["id"], wname, "SARC") is True
    assert install_suite(client, "SARC", commands, dry_run=True, sink=lambda s: None) == []
    client.containers.disable(cmd["id"], wname)  # site off: the project report says disabled too
    assert client.containers.is_enabled(cmd["id"], wname, "SARC") is False
    assert [str(c) for c in install_suite(client, "SARC", commands, sink=lambda s: None)] == [
        f"enable wrapper: {cmd['name']}/{wname} site-wide"]
