"""The emulator's site-administration routes (tests/xnat_emulator/admin_routes.py), registered
for every emulator, each checked against the XNAT behaviour its docstring cites."""
from __future__ import annotations

import requests

from xnat_emulator import XnatEmulator
from xnat_emulator.admin_routes import set_accounts


def _emu(tmp_path):
    return XnatEmulator(tmp_path / "xnat", users={"admin": "admin-pass", "bob": "bob-pass"}).start()


def test_registered_by_default_with_admin_as_the_site_administrator(tmp_path):
    emu = _emu(tmp_path)
    try:
        admin, bob = ("admin", "admin-pass"), ("bob", "bob-pass")
        assert requests.get(f"{emu.url}/xapi/users", auth=admin).json() == ["admin", "bob"]
        assert requests.get(f"{emu.url}/xapi/users/admin/roles", auth=admin).json() == ["Administrator"]
        # UsersApi: creating accounts and reading another user's roles are admin-only
        new = {"username": "carol", "password": "c", "enabled": True}
        assert requests.post(f"{emu.url}/xapi/users", json=new, auth=bob).status_code == 403
        assert requests.get(f"{emu.url}/xapi/users/admin/roles", auth=bob).status_code == 403
        assert requests.post(f"{emu.url}/xapi/users", json=new, auth=admin).status_code == 201
        assert requests.post(f"{emu.url}/xapi/users", json=new, auth=admin).status_code == 409
    finally:
        emu.stop()


def test_a_disabled_account_no_longer_logs_in_and_a_repeat_changes_nothing(tmp_path):
    emu = _emu(tmp_path)
    try:
        admin = ("admin", "admin-pass")
        assert requests.post(f"{emu.url}/data/JSESSION", auth=("bob", "bob-pass")).status_code == 200
        assert requests.put(f"{emu.url}/xapi/users/bob/enabled/false", auth=admin).status_code == 200
        assert requests.get(f"{emu.url}/xapi/users/bob/enabled", auth=admin).json() is False
        assert requests.post(f"{emu.url}/data/JSESSION", auth=("bob", "bob-pass")).status_code == 401
        # PUT /xapi/users/{u} with no changed attribute answers 304
        assert requests.put(f"{emu.url}/xapi/users/bob", json={"enabled": False}, auth=admin).status_code == 304
    finally:
        emu.stop()


def test_smtp_takes_request_parameters_and_answers_without_the_password(tmp_path):
    emu = _emu(tmp_path)
    try:
        admin = ("admin", "admin-pass")
        params = {"hostname": "smtp.example.org", "port": "587", "username": "xnat", "password": "pw", "protocol": "smtp"}
        assert requests.post(f"{emu.url}/xapi/notifications/smtp", params=params, auth=("bob", "bob-pass")).status_code == 403
        reply = requests.post(f"{emu.url}/xapi/notifications/smtp", params=params, auth=admin).json()
        assert reply == {"host": "smtp.example.org", "port": 587, "protocol": "smtp", "username": "xnat"}
    finally:
        emu.stop()


def test_set_accounts_replaces_the_accounts_and_project_groups_are_one_per_user(tmp_path):
    emu = _emu(tmp_path)
    try:
        set_accounts(emu, {"root": {"password": "r", "roles": ["Administrator"], "enabled": True},
                           "reader": {"password": "x", "roles": [], "enabled": True}})
        root = ("root", "r")
        assert requests.put(f"{emu.url}/data/projects/NOPE/users/Collaborators/reader", auth=root).status_code == 404
        requests.put(f"{emu.url}/data/projects/P1", auth=root).raise_for_status()
        for group in ("Members", "Collaborators"):
            assert requests.put(f"{emu.url}/data/projects/P1/users/{group}/reader", auth=root).status_code == 200
        rows = requests.get(f"{emu.url}/data/projects/P1/users", auth=root).json()["ResultSet"]["Result"]
        assert [(r["login"], r["GROUP_ID"], r["displayname"]) for r in rows] == [("reader", "P1_collaborator", "Collaborators")]
    finally:
        emu.stop()
