"""The one HTTP choke point of the SDK: every request to XNAT goes through :class:`XnatSession`.

It joins paths to the server URL, retries idempotent calls on connection errors
and on 502/503/504 with exponential backoff, checks the status, detects an HTML
page where JSON was expected (a login page or a proxy error), and turns every
failure into an :class:`~sarcoma_xnat.errors.XnatError` that names the method,
the URL and the status, and never the password.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any

import requests

from sarcoma_xnat.errors import XnatAuthError, XnatError, XnatNotFoundError

__all__ = ["IDEMPOTENT_METHODS", "RETRY_STATUSES", "XnatSession"]

log = logging.getLogger("sarcoma_xnat.xnat")

#: methods that may be repeated safely after a connection error or a 502/503/504
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
#: statuses that mean "a proxy or the server is busy, try again"
RETRY_STATUSES = frozenset({502, 503, 504})

_H3 = re.compile(r"<h3>(.*?)</h3>", re.I | re.S)
_TITLE = re.compile(r"<title>(.*?)</title>", re.I | re.S)


def _snippet(response: requests.Response, limit: int = 200) -> str:
    """Return a short, single-line excerpt of an error body (HTML reduced to its heading)."""
    try:
        text = response.text
    except Exception:  # noqa: BLE001 - a body we cannot decode says nothing useful
        return ""
    match = _H3.search(text) or _TITLE.search(text)
    if match:
        text = match.group(1)
    text = re.sub(r"<[^>]+>", " ", text)
    text = " ".join(text.split())
    return text[:limit]


class XnatSession:
    """HTTP conversation with one XNAT server.

    Parameters
    ----------
    base_url : str
        Server root, e.g. ``https://xnat.example.org`` or ``http://host/xnat``.
    http : requests.Session, optional
        An existing session to reuse (e.g. xnatpy's ``session.interface``).
    retries : int
        How many times an idempotent call is repeated after a transient failure.
    backoff : float
        First pause in seconds between retries; doubled each time.
    timeout : float
        Seconds to wait for the server to answer (connect and between bytes).
    """

    def __init__(
        self,
        base_url: str,
        http: requests.Session | None = None,
        retries: int = 3,
        backoff: float = 0.5,
        timeout: float = 120.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http if http is not None else requests.Session()
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"XnatSession({self.base_url!r})"

    def url(self, path: str) -> str:
        """Return the absolute URL of a server path such as ``/data/projects``."""
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    # -- the choke point ------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        ok: Iterable[int] = (200,),
        idempotent: bool | None = None,
        stream: bool = False,
        secret: str | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send one request and return the response, or raise ``XnatError``.

        Parameters
        ----------
        method, path : str
            HTTP verb and server path (or absolute URL).
        params : mapping, optional
            Query parameters.
        ok : iterable of int
            Statuses accepted as success.
        idempotent : bool, optional
            Whether the call may be retried; defaults to the method's nature.
        stream : bool
            Leave the body unread (for downloads); the caller must close the response.
        secret : str, optional
            A secret that is part of the path (a token); shown as ``***`` in logs and errors.
        **kwargs
            Passed to :meth:`requests.Session.request` (``data``, ``json``, ``headers``...).
            A seekable ``data`` file is rewound before each retry.
        """
        method = method.upper()
        url = self.url(path)
        shown = url.replace(secret, "***") if secret else url
        accepted = set(ok)
        retry = (method in IDEMPOTENT_METHODS) if idempotent is None else idempotent
        attempts = 1 + (self.retries if retry else 0)
        body = kwargs.get("data")
        start = body.tell() if hasattr(body, "seek") and hasattr(body, "tell") else None
        kwargs.setdefault("timeout", self.timeout)
        for attempt in range(1, attempts + 1):
            if start is not None and attempt > 1:
                body.seek(start)  # type: ignore[union-attr]
            log.debug("%s %s", method, shown)  # every request only when asked (-vv)
            try:
                response = self.http.request(method, url, params=params, stream=stream, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt < attempts:
                    self._pause(attempt, method, shown, type(exc).__name__)
                    continue
                raise XnatError(f"cannot reach XNAT: {type(exc).__name__}",
                                method=method, url=shown) from None
            if response.status_code in RETRY_STATUSES and attempt < attempts:
                response.close()
                self._pause(attempt, method, shown, str(response.status_code))
                continue
            if response.status_code not in accepted:
                self._raise(response, method, shown)
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _pause(self, attempt: int, method: str, url: str, why: str) -> None:
        delay = self.backoff * (2 ** (attempt - 1))
        log.warning("%s %s failed (%s); retrying in %.1fs", method, url, why, delay)
        time.sleep(delay)

    @staticmethod
    def _raise(response: requests.Response, method: str, url: str) -> None:
        """Turn an unexpected status into the right ``XnatError`` subclass."""
        status = response.status_code
        detail = _snippet(response)
        response.close()
        if status in (401, 403):
            what = "XNAT refused the credentials" if status == 401 else "permission denied"
            raise XnatAuthError(f"{what}: {detail}" if detail else what,
                                method=method, url=url, status=status)
        if status == 404:
            raise XnatNotFoundError(f"not found on XNAT: {detail}" if detail else "not found on XNAT",
                                    method=method, url=url, status=status)
        raise XnatError(f"XNAT answered {status}: {detail}" if detail else f"XNAT answered {status}",
                        method=method, url=url, status=status)

    # -- conveniences ---------------------------------------------------------------
    def get(self, path: str, **kwargs: Any) -> requests.Response:
        """GET a path (200 expected)."""
        return self.request("GET", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        """PUT to a path (200 or 201 expected)."""
        kwargs.setdefault("ok", (200, 201))
        return self.request("PUT", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        """POST to a path (200 or 201 expected); never retried unless asked."""
        kwargs.setdefault("ok", (200, 201))
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        """DELETE a path (200 or 204 expected)."""
        kwargs.setdefault("ok", (200, 204))
        return self.request("DELETE", path, **kwargs)

    def get_json(self, path: str, params: Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
        """GET a path and decode JSON; an HTML page instead is an error, not a parse crash."""
        query = dict(params or {})
        if path.startswith("/data") or "/data/" in path:
            query.setdefault("format", "json")
        response = self.request("GET", path, params=query, **kwargs)
        return self.decode_json(response, "GET")

    def decode_json(self, response: requests.Response, method: str) -> Any:
        """Decode a response body as JSON, naming the URL when it is not JSON."""
        ctype = response.headers.get("Content-Type", "")
        text = response.text
        if "html" in ctype.lower() or text.lstrip()[:15].lower().startswith(("<!doctype", "<html")):
            raise XnatError(
                "XNAT answered an HTML page where JSON was expected (a login page or a proxy "
                f"error?): {_snippet(response)}",
                method=method, url=response.url, status=response.status_code,
            )
        try:
            return response.json()
        except ValueError:
            raise XnatError(f"XNAT answered invalid JSON: {text[:120]!r}", method=method,
                            url=response.url, status=response.status_code) from None

    def close(self) -> None:
        """Close the underlying connection pool."""
        self.http.close()
