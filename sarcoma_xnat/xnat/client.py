"""The SDK's entry point: :func:`connect` returns an :class:`XnatClient` with one API per concern."""

from __future__ import annotations

import os
from typing import Any

from sarcoma_xnat.errors import ConfigurationError
from sarcoma_xnat.xnat.assessors import AssessorsApi
from sarcoma_xnat.xnat.auth import AliasToken, Credentials, issue_token, login, logout, resolve_credentials
from sarcoma_xnat.xnat.containers import ContainersApi
from sarcoma_xnat.xnat.events import EventsApi
from sarcoma_xnat.xnat.files import FilesApi
from sarcoma_xnat.xnat.imports import ImportsApi
from sarcoma_xnat.xnat.objects import ObjectsApi
from sarcoma_xnat.xnat.roi import RoiApi
from sarcoma_xnat.xnat.session import XnatSession

__all__ = ["XnatClient", "connect"]


class XnatClient:
    """A logged-in conversation with one XNAT.

    Attributes
    ----------
    session : XnatSession
        The HTTP choke point (``client.session.get_json('/data/...')`` for anything else).
    user : str or None
        Who XNAT says is logged in.
    objects, files, imports, assessors, roi, containers, events
        One API object per concern.
    """

    def __init__(self, session: XnatSession, user: str | None = None, owns_login: bool = True) -> None:
        self.session = session
        self.user = user
        self._owns_login = owns_login
        self.objects = ObjectsApi(session)
        self.files = FilesApi(session)
        self.imports = ImportsApi(session)
        self.assessors = AssessorsApi(session, self.objects)
        self.roi = RoiApi(session, self.objects, self.files)
        self.containers = ContainersApi(session)
        self.events = EventsApi(session)

    def __repr__(self) -> str:
        return f"XnatClient({self.session.base_url!r}, user={self.user!r})"

    def __enter__(self) -> XnatClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def url(self) -> str:
        """Return the server URL."""
        return self.session.base_url

    def version(self) -> str:
        """Return XNAT's version (``/data/version``, else ``/xapi/siteConfig/buildInfo``)."""
        try:
            return self.session.get("/data/version").text.strip()
        except Exception:  # noqa: BLE001 - older/newer servers answer only one of the two
            info = self.session.decode_json(self.session.get("/xapi/siteConfig/buildInfo"), "GET")
            return str(info.get("version", ""))

    def issue_token(self, for_user: str | None = None) -> AliasToken:
        """Issue an alias token (what the Container Service gives a container)."""
        return issue_token(self.session, for_user)

    def keepalive(self) -> None:
        """Refresh the JSESSION (``GET /data/JSESSION``)."""
        self.session.get("/data/JSESSION")

    def close(self) -> None:
        """Log out (when this client logged in) and close connections."""
        if self._owns_login:
            logout(self.session)
            self.session.close()


def _from_xnatpy(xnatpy_session: Any, **options: Any) -> XnatClient:
    """Wrap an open ``xnat`` (xnatpy) session, reusing its HTTP session and login."""
    http = getattr(xnatpy_session, "interface", None)
    base = getattr(xnatpy_session, "_original_uri", None) or getattr(xnatpy_session, "url", None)
    if http is None or not base:
        raise ConfigurationError("expected an open xnatpy session (xnat.connect(...))")
    user = getattr(xnatpy_session, "logged_in_user", None)
    return XnatClient(XnatSession(str(base), http=http, **options), user=user, owns_login=False)


def connect(
    host: str | None = None,
    user: str | None = None,
    password: str | None = None,
    *,
    netrc_file: str | os.PathLike[str] | None = None,
    xnatpy_session: Any = None,
    verify: bool | str = True,
    retries: int = 3,
    backoff: float = 0.5,
    timeout: float = 120.0,
) -> XnatClient:
    """Log in to XNAT and return a client.

    Credentials come from the arguments, then ``XNAT_HOST``/``XNAT_USER``/``XNAT_PASS``
    (what the Container Service gives a container; ``XNAT_USER`` is then an alias
    token), then ``~/.netrc``. Pass ``xnatpy_session`` to reuse an open xnatpy
    session's HTTP session and login instead.

    Examples
    --------
    >>> with connect("https://xnat.example.org", "alice", "secret") as xnat:  # doctest: +SKIP
    ...     xnat.objects.subjects("SARC01")
    """
    options = {"retries": retries, "backoff": backoff, "timeout": timeout}
    if xnatpy_session is not None:
        return _from_xnatpy(xnatpy_session, **options)
    creds: Credentials = resolve_credentials(host, user, password, netrc_file)
    session = XnatSession(creds.host, **options)
    session.http.verify = verify
    who = login(session, creds)
    return XnatClient(session, user=who)
