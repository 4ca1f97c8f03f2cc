"""Credentials (arguments, ``XNAT_*`` environment, ``.netrc``), JSESSION login and alias tokens."""

from __future__ import annotations

import netrc
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sarcoma_xnat.errors import ConfigurationError, XnatAuthError, XnatError
from sarcoma_xnat.xnat.session import XnatSession

__all__ = [
    "AliasToken",
    "Credentials",
    "invalidate_token",
    "is_alias_token",
    "issue_token",
    "login",
    "logout",
    "resolve_credentials",
    "validate_token",
]

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


@dataclass(frozen=True)
class Credentials:
    """Where and who: server URL, user (or token alias) and password (or token secret)."""

    host: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    source: str = "arguments"

    def __repr__(self) -> str:
        hidden = "***" if self.password else None
        return f"Credentials(host={self.host!r}, user={self.user!r}, password={hidden!r}, source={self.source!r})"


def _split_userinfo(host: str) -> tuple[str, str | None, str | None]:
    """Remove ``user:pass@`` from a URL so that it never reaches a log or an error."""
    parts = urlsplit(host if "://" in host else f"https://{host}")
    user, password = parts.username, parts.password
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    clean = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
    return clean, user, password


def resolve_credentials(
    host: str | None = None,
    user: str | None = None,
    password: str | None = None,
    netrc_file: str | os.PathLike[str] | None = None,
) -> Credentials:
    """Return credentials from arguments, then ``XNAT_HOST/USER/PASS``, then ``.netrc``.

    The Container Service injects ``XNAT_HOST``, ``XNAT_USER`` (an alias token) and
    ``XNAT_PASS`` into every container it launches, so code inside a container can
    call this with no arguments.
    """
    source = "arguments"
    if host is None:
        host = os.environ.get("XNAT_HOST")
        source = "environment"
    if not host:
        raise ConfigurationError("no XNAT server given: pass --host or set XNAT_HOST")
    host, url_user, url_password = _split_userinfo(host)
    user = user or url_user
    password = password or url_password
    if user is None and os.environ.get("XNAT_USER"):
        user, source = os.environ["XNAT_USER"], "environment"
    if password is None and user is not None and os.environ.get("XNAT_PASS") and \
            os.environ.get("XNAT_USER") in (None, "", user):
        password = os.environ["XNAT_PASS"]
    if user is None or password is None:
        found = _from_netrc(host, netrc_file)
        if found is not None:
            user = user or found[0]
            password = password or found[1]
            source = "netrc"
    return Credentials(host=host, user=user, password=password, source=source)


def _from_netrc(host: str, netrc_file: str | os.PathLike[str] | None) -> tuple[str, str] | None:
    path = Path(netrc_file) if netrc_file else Path(os.environ.get("NETRC", Path.home() / ".netrc"))
    if not path.is_file():
        return None
    try:
        entries = netrc.netrc(str(path))
    except (netrc.NetrcParseError, OSError) as exc:
        raise ConfigurationError(f"cannot read {path}: {exc.__class__.__name__}") from None
    hostname = urlsplit(host).hostname or host
    auth = entries.authenticators(hostname)
    if auth is None:
        return None
    login_name, _account, secret = auth
    return (login_name, secret) if login_name and secret else None


def is_alias_token(user: str | None) -> bool:
    """Return whether a user name is an alias token (a UUID), as the Container Service issues."""
    return bool(user and _UUID.match(user))


def login(session: XnatSession, creds: Credentials) -> str:
    """Open a JSESSION with ``creds`` and check who XNAT says is logged in; return the user.

    Ordinary users log in with ``POST /data/JSESSION`` (basic auth); alias tokens are
    sent the same way, and XNAT answers with the token owner's session. The
    ``GET /data/auth`` check turns a wrong password into :class:`XnatAuthError`
    rather than a later confusing error.
    """
    if not creds.user or creds.password is None:
        raise ConfigurationError(
            f"no credentials for {creds.host}: give --user and set XNAT_PASS (or set XNAT_USER "
            "and XNAT_PASS), or add the host to ~/.netrc (--netrc FILE for another file); "
            "a password is never taken from the command line"
        )
    session.http.auth = (creds.user, creds.password)
    try:
        response = session.post("/data/JSESSION", ok=(200,), idempotent=True)
    except XnatAuthError as exc:
        raise XnatAuthError(f"login as {creds.user!r} failed: wrong user name or password",
                            method=exc.method, url=exc.url, status=exc.status) from None
    jsession = response.text.strip()
    if jsession and "JSESSIONID" not in session.http.cookies:
        session.http.cookies.set("JSESSIONID", jsession)
    session.http.auth = None  # from now on the cookie authenticates; drop the password
    who = session.get("/data/auth").text
    match = re.search(r"User '([^']+)' is logged in", who)
    if not match:
        raise XnatAuthError(f"login as {creds.user!r} failed: unexpected answer {who[:80]!r}",
                            method="GET", url=session.url("/data/auth"), status=200)
    return match.group(1)


def logout(session: XnatSession) -> None:
    """Close the JSESSION on the server (``DELETE /data/JSESSION``); errors are ignored."""
    try:
        session.delete("/data/JSESSION", ok=(200, 204, 401))
    except XnatError:
        pass
    session.http.cookies.clear()


@dataclass(frozen=True)
class AliasToken:
    """An alias token: use ``alias`` as user name and ``secret`` as password."""

    alias: str
    secret: str = field(repr=False)
    user: str | None = None
    expires: Any = None


def issue_token(session: XnatSession, for_user: str | None = None) -> AliasToken:
    """Issue an alias token for the logged-in user (or, as admin, for ``for_user``)."""
    path = "/data/services/tokens/issue" + (f"/user/{for_user}" if for_user else "")
    data = session.decode_json(session.get(path), "GET")
    return AliasToken(alias=data["alias"], secret=data["secret"], user=data.get("xdatUserId"),
                      expires=data.get("estimatedExpirationTime"))


def validate_token(session: XnatSession, token: AliasToken) -> str | None:
    """Return the user name a token belongs to, or None when XNAT says it is not valid."""
    try:
        response = session.get(f"/data/services/tokens/validate/{token.alias}/{token.secret}",
                               secret=token.secret)
    except XnatError as exc:
        if exc.status in (401, 403, 404):
            return None
        raise
    data = session.decode_json(response, "GET")
    valid = data.get("valid")
    return str(valid) if valid else None


def invalidate_token(session: XnatSession, token: AliasToken) -> None:
    """Invalidate an alias token."""
    session.get(f"/data/services/tokens/invalidate/{token.alias}/{token.secret}",
                secret=token.secret)
