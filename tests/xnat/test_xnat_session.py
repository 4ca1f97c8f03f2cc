"""Connecting, logging in, the HTTP choke point's errors and retries, alias tokens."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from sarcoma_xnat.archive import ObjectRef
from sarcoma_xnat.errors import (
    ConfigurationError, ObjectNotFoundError, XnatAuthError, XnatError)
from sarcoma_xnat.xnat import XnatClient, connect
from sarcoma_xnat.xnat.auth import resolve_credentials, validate_token


def test_login_reports_who_is_logged_in(xnat):
    assert xnat.client.user == xnat.user
    assert xnat.client.version()


def test_wrong_password_is_a_clear_auth_error_without_the_password(xnat):
    with pytest.raises(XnatAuthError) as info:
        connect(xnat.url, xnat.user, "Wr0ng-S3cret!")
    text = str(info.value)
    assert f"login as {xnat.user!r} failed: wrong user name or password" in text
    assert "401" in text and "/data/JSESSION" in text
    assert "Wr0ng-S3cret!" not in text and "Wr0ng-S3cret!" not in repr(info.value.args)


def test_missing_session_is_not_found_naming_it(xnat):
    ref = ObjectRef(xnat.project, "NOSUCHSUBJ", "NOSUCHSESSION")
    with pytest.raises(ObjectNotFoundError) as info:
        xnat.client.objects.get(ref)
    assert "NOSUCHSESSION" in str(info.value) and "404" in str(info.value)
    assert info.value.context["session"] == "NOSUCHSESSION"
    assert not xnat.client.objects.exists(ref)


def test_credentials_from_environment(emulator, monkeypatch):
    monkeypatch.setenv("XNAT_HOST", emulator.url)
    monkeypatch.setenv("XNAT_USER", "bob")
    monkeypatch.setenv("XNAT_PASS", "bob-pass")
    with connect() as c:
        assert c.user == "bob"


def test_credentials_from_netrc(emulator, monkeypatch, tmp_path: Path):
    for var in ("XNAT_HOST", "XNAT_USER", "XNAT_PASS"):
        monkeypatch.delenv(var, raising=False)
    rc = tmp_path / "netrc"
    rc.write_text("machine 127.0.0.1 login bob password bob-pass\n")
    rc.chmod(0o600)
    creds = resolve_credentials(emulator.url, netrc_file=rc)
    assert (creds.user, creds.source) == ("bob", "netrc") and "bob-pass" not in repr(creds)
    with connect(emulator.url, netrc_file=rc) as c:
        assert c.user == "bob"


def test_no_credentials_is_a_configuration_error(emulator, monkeypatch, tmp_path: Path):
    for var in ("XNAT_HOST", "XNAT_USER", "XNAT_PASS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "none"))
    with pytest.raises(ConfigurationError, match="no credentials"):
        connect(emulator.url)
    with pytest.raises(ConfigurationError, match="no XNAT server"):
        connect()


def test_password_in_url_never_reaches_errors(emulator):
    host = emulator.url.replace("http://", "http://admin:admin-pass@")
    with connect(host) as c:
        assert "admin-pass" not in c.url
        with pytest.raises(ObjectNotFoundError) as info:
            c.objects.get(ObjectRef("NOPE"))
        assert "admin-pass" not in str(info.value)


def test_logout_ends_the_session(emulator):
    c = connect(emulator.url, "admin", "admin-pass")
    cookie = c.session.http.cookies.get("JSESSIONID")
    assert cookie in emulator.sessions
    c.close()
    assert cookie not in emulator.sessions


def test_503_is_retried_until_it_succeeds(emulator, client):
    emulator.add_fault("GET", r"^/data/projects$", status=503, times=2)
    assert client.objects.projects() == []
    assert emulator.count("GET", r"^/data/projects$") == 3


def test_503_gives_up_after_the_retries(emulator, client):
    emulator.add_fault("GET", r"^/data/projects$", status=503, times=10)
    with pytest.raises(XnatError) as info:
        client.objects.projects()
    assert info.value.status == 503 and "GET" in str(info.value)
    assert emulator.count("GET", r"^/data/projects$") == 1 + client.session.retries


def test_post_is_not_retried(emulator, client, tmp_path: Path):
    emulator.add_fault("POST", r"^/xapi/events/subscription$", status=503, times=1)
    from sarcoma_xnat.xnat import subscription_body

    with pytest.raises(XnatError) as info:
        client.events.create(subscription_body("s", "ProjectEvent", "CREATED", "x:1"))
    assert info.value.status == 503
    assert emulator.count("POST", r"^/xapi/events/subscription$") == 1


def test_connection_refused_is_retried_then_reported(emulator):
    url = emulator.url
    c = connect(url, "admin", "admin-pass", backoff=0.01, retries=1)
    emulator.stop()
    c.session.http.close()  # drop the kept-alive connection; the next one is refused
    with pytest.raises(XnatError, match="cannot reach XNAT") as info:
        c.objects.projects()
    assert info.value.url.startswith(url)


def test_html_instead_of_json_is_named(emulator, client):
    with pytest.raises(XnatError, match="HTML page where JSON was expected"):
        client.session.get_json("/")


def test_alias_token_logs_in_like_the_container_service_gives_it(client, emulator):
    token = client.issue_token()
    assert validate_token(client.session, token) == "admin"
    with connect(emulator.url, token.alias, token.secret) as c:
        assert c.user == "admin"
    from sarcoma_xnat.xnat.auth import invalidate_token

    invalidate_token(client.session, token)
    assert validate_token(client.session, token) is None
    with pytest.raises(XnatAuthError) as info:
        connect(emulator.url, token.alias, token.secret)
    assert token.secret not in str(info.value)


def test_reuses_an_xnatpy_session(emulator):
    xnat = pytest.importorskip("xnat")
    with xnat.connect(emulator.url, user="admin", password="admin-pass",
                      no_parse_model=True, loglevel="ERROR") as xs:
        client = connect(xnatpy_session=xs)
        assert isinstance(client, XnatClient)
        assert client.session.http is xs.interface
        client.objects.create(ObjectRef("PX"), "xnat:projectData")
        assert [p["ID"] for p in client.objects.projects()] == ["PX"]
        client.close()  # must not log xnatpy's session out
        assert xs.get("/data/projects", format="json").status_code == 200


def test_reusing_something_else_is_refused():
    with pytest.raises(ConfigurationError, match="xnatpy"):
        connect(xnatpy_session=requests.Session())
