"""Emulated XNAT site administration: users and roles, site settings, SMTP, project access and the
Container Service's Docker server (what a site bootstrap configures).

Registered by :class:`xnat_emulator.XnatEmulator` for every emulator. Accounts start from the
emulator's ``users`` (``admin`` is the site administrator, as XNAT's default account is); a test
sets its own with :func:`set_accounts`. Only enabled accounts log in. Each route follows the
XNAT source named beside it:

- users: ``NrgXnat/xnat-web:src/main/java/org/nrg/xapi/rest/users/UsersApi.java``
  (``GET /xapi/users`` -> list of logins; ``POST /xapi/users`` admin only, 201;
  ``PUT /xapi/users/{u}`` admin only, 304 when no attribute changed; ``GET /xapi/users/{u}/enabled``;
  ``PUT /xapi/users/{u}/enabled/{flag}`` admin only, a no-op when already so;
  ``GET /xapi/users/{u}/roles`` for the user or an admin; ``PUT /xapi/users/{u}/roles/{role}`` admin only).
  A disabled account can no longer log in.
- site settings: ``NrgXnat/xnat-web:src/main/java/org/nrg/xapi/rest/settings/SiteConfigApi.java``
  (``GET /xapi/siteConfig`` map; ``POST /xapi/siteConfig`` admin only, sets each key).
- SMTP: ``NrgXnat/xnat-reboot:src/main/java/org/nrg/xapi/rest/notifications/NotificationsApi.java``
  (``GET /xapi/notifications/smtp`` the SmtpServer properties; ``POST /xapi/notifications/smtp``
  with request parameters hostname, port (default -1), username, password, protocol replaces the
  whole configuration and answers with it; both need an administrator, ``isPermitted()``).
- project access: ``NrgXnat/xnat-reboot:src/main/java/org/nrg/xnat/restlet/resources/ProjectUserListResource.java``
  (ResultSet rows ``GROUP_ID, displayname, login, firstname, lastname, email`` of enabled accounts;
  site admins or project owners only) and ``ProjectMemberResource`` (``PUT
  /data/projects/{p}/users/{group display name}/{u}``: one group per project and account).
- Docker backend: ``NrgXnat/container-service:src/main/java/org/nrg/containers/rest/DockerRestApi.java``
  (``GET|POST /xapi/docker/server``; POST needs an authorizer, here an admin).
"""
from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs

from xnat_emulator.server import Request, Response, XnatEmulator

__all__ = ["GROUPS", "dump", "register", "set_accounts"]

# display name -> group ID suffix (XNAT's default project groups)
GROUPS = {"Owners": "owner", "Members": "member", "Collaborators": "collaborator"}


def set_accounts(emu: XnatEmulator, users: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Make ``users`` (login -> {password, roles, enabled}) the site's accounts; return the admin state.

    The dict is used as it is: the routes change it as XNAT would change its accounts.
    """
    state = emu.admin_state  # type: ignore[attr-defined]
    state["users"] = users
    _sync_logins(emu)
    return state


def _sync_logins(emu: XnatEmulator) -> None:
    # only enabled accounts authenticate (the emulator checks emu.users)
    for login, info in emu.admin_state["users"].items():  # type: ignore[attr-defined]
        if info.get("enabled", True):
            emu.users[login] = info["password"]
        else:
            emu.users.pop(login, None)


def register(emu: XnatEmulator) -> None:
    """Add the site-administration routes; accounts start from ``emu.users``."""
    state: dict[str, Any] = {
        "users": {login: {"password": password, "roles": ["Administrator"] if login == "admin" else [],
                          "enabled": True} for login, password in emu.users.items()},
        "site": {"initialized": False, "siteUrl": "", "adminEmail": "", "requireLogin": True,
                 "userRegistration": True},
        "smtp": {"host": "localhost", "port": 25, "protocol": "smtp", "username": ""},
        "project_users": {},
        "docker_server": {"id": 1, "name": "Local socket", "host": "unix:///var/run/docker.sock",
                          "cert-path": "", "swarm-mode": False},
    }
    emu.admin_state = state  # type: ignore[attr-defined]

    def sync_logins() -> None:
        _sync_logins(emu)

    def accounts() -> dict[str, dict[str, Any]]:
        return state["users"]

    def is_admin(req: Request) -> bool:
        return "Administrator" in accounts().get(req.user or "", {}).get("roles", [])

    def forbidden() -> Response:
        return Response.error(403, "Access Denied")

    def list_users(req: Request, m: Any) -> Response:
        return Response.json(sorted(accounts()))

    def create_user(req: Request, m: Any) -> Response:
        if not is_admin(req):
            return forbidden()
        body = req.json()
        login = body.get("username")
        if not login or login in accounts():
            return Response.error(400 if not login else 409, "invalid or existing user")
        accounts()[login] = {"password": body.get("password", ""), "roles": [], "enabled": bool(body.get("enabled")),
                             "email": body.get("email", "")}
        sync_logins()
        return Response.json({"username": login, "enabled": accounts()[login]["enabled"]}, status=201)

    def update_user(req: Request, m: Any) -> Response:
        if not is_admin(req):
            return forbidden()
        login, body = m.group(1), req.json()
        if login not in accounts():
            return Response.error(404, "User not found.")
        info, dirty = accounts()[login], False
        if body.get("password") and body["password"] != info["password"]:
            info["password"], dirty = body["password"], True
        if body.get("enabled") is not None and bool(body["enabled"]) != info.get("enabled", True):
            info["enabled"], dirty = bool(body["enabled"]), True
        if not dirty:
            return Response(304, b"")
        sync_logins()
        return Response.json({"username": login})

    def enabled_get(req: Request, m: Any) -> Response:
        if m.group(1) not in accounts():
            return Response.error(404, "User not found.")
        return Response.json(accounts()[m.group(1)].get("enabled", True))

    def enabled_put(req: Request, m: Any) -> Response:
        if not is_admin(req):
            return forbidden()
        if m.group(1) not in accounts():
            return Response.error(404, "User not found.")
        accounts()[m.group(1)]["enabled"] = m.group(2) == "true"
        sync_logins()
        return Response.text("")

    def roles_get(req: Request, m: Any) -> Response:
        if req.user != m.group(1) and not is_admin(req):
            return forbidden()
        if m.group(1) not in accounts():
            return Response.error(404, "User not found.")
        return Response.json(sorted(accounts()[m.group(1)].get("roles", [])))

    def role_put(req: Request, m: Any) -> Response:
        if not is_admin(req):
            return forbidden()
        if m.group(1) not in accounts():
            return Response.error(404, "User not found.")
        roles = accounts()[m.group(1)].setdefault("roles", [])
        if m.group(2) not in roles:
            roles.append(m.group(2))
        return Response.text("")

    def site_get(req: Request, m: Any) -> Response:
        return Response.json(state["site"])

    def site_post(req: Request, m: Any) -> Response:
        if not is_admin(req):
            return forbidden()
        state["site"].update(req.json())
        return Response.text("")

    def smtp_get(req: Request, m: Any) -> Response:
        return Response.json(state["smtp"]) if is_admin(req) else forbidden()

    def smtp_post(req: Request, m: Any) -> Response:
        if not is_admin(req):
            return forbidden()
        form = {k: v[-1] for k, v in parse_qs(req.body().decode(), keep_blank_values=True).items()}
        form.update(req.query)
        state["smtp"] = {"host": form.get("hostname", ""), "port": int(form.get("port", "-1")),
                         "protocol": form.get("protocol", ""), "username": form.get("username", ""),
                         "password": form.get("password", "")}
        return Response.json({k: v for k, v in state["smtp"].items() if k != "password"})

    def project_users(req: Request, m: Any) -> Response:
        project = m.group(1)
        if not _project(emu, project):
            return Response.error(404, f"The project ID {project} does not appear to be a valid project ID.")
        if not is_admin(req):
            return forbidden()
        members = state["project_users"].get(project, {})
        rows = [{"GROUP_ID": f"{project}_{GROUPS[g]}", "displayname": g, "login": u, "firstname": "",
                 "lastname": "", "email": accounts().get(u, {}).get("email", "")}
                for u, g in sorted(members.items()) if accounts().get(u, {}).get("enabled", True)]
        return Response.json({"ResultSet": {"Result": rows, "totalRecords": str(len(rows)), "title": "Projects"}})

    def project_user_put(req: Request, m: Any) -> Response:
        project, group, login = m.group(1), m.group(2), m.group(3)
        if not _project(emu, project):
            return Response.error(404, f"Unable to find project {project}")
        if not is_admin(req):
            return forbidden()
        if group not in GROUPS or login not in accounts():
            return Response.error(404, f"Unknown group {group} or user {login}")
        state["project_users"].setdefault(project, {})[login] = group
        return Response.text("")

    def docker_get(req: Request, m: Any) -> Response:
        return Response.json(state["docker_server"])

    def docker_post(req: Request, m: Any) -> Response:
        if not is_admin(req):
            return forbidden()
        state["docker_server"] = {"id": 1, **req.json()}
        return Response.json(state["docker_server"], status=201)

    added = [
        ("GET", r"/xapi/users", list_users), ("POST", r"/xapi/users", create_user),
        ("PUT", r"/xapi/users/([^/]+)", update_user),
        ("GET", r"/xapi/users/([^/]+)/enabled", enabled_get),
        ("PUT", r"/xapi/users/([^/]+)/enabled/(true|false)", enabled_put),
        ("GET", r"/xapi/users/([^/]+)/roles", roles_get),
        ("PUT", r"/xapi/users/([^/]+)/roles/([^/]+)", role_put),
        ("GET", r"/xapi/siteConfig", site_get), ("POST", r"/xapi/siteConfig", site_post),
        ("GET", r"/xapi/notifications/smtp", smtp_get), ("POST", r"/xapi/notifications/smtp", smtp_post),
        ("GET", r"/data/projects/([^/]+)/users", project_users),
        ("PUT", r"/data/projects/([^/]+)/users/([^/]+)/([^/]+)", project_user_put),
        ("GET", r"/xapi/docker/server", docker_get), ("POST", r"/xapi/docker/server", docker_post),
    ]
    # ahead of the emulator's catch-all /data/projects/... route
    emu.routes[:0] = [(method, re.compile(pattern + r"/?$"), func) for method, pattern, func in added]


def _project(emu: XnatEmulator, project: str) -> bool:
    from sarcoma_xnat.archive import ObjectRef

    return emu.archive.exists(ObjectRef(project))


def dump(state: dict[str, Any]) -> str:
    """Return the admin state as canonical JSON (to compare two runs)."""
    return json.dumps(state, sort_keys=True, default=str)
