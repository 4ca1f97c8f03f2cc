"""A loopback XNAT: ThreadingHTTPServer, authentication, routing and fault injection.

Behaviour follows XNAT's documented REST answers (see shared/reference/xnat-rest.md):
JSESSION login and ``User 'x' is logged in``, 401 pages with an ``<h3>`` message,
ResultSet JSON with string counts and ``items`` JSON. Data lives in a
:class:`~sarcoma_xnat.archive.LocalArchive` so tests can seed and inspect it directly.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import shutil
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, unquote, urlsplit

from sarcoma_xnat.archive import LocalArchive

__all__ = ["Fault", "Request", "Response", "XnatEmulator"]


@dataclass
class Fault:
    """A failure to inject: answer ``status`` or cut a download after ``truncate_after`` bytes."""

    method: str
    pattern: str
    status: int | None = None
    times: int = 1
    truncate_after: int | None = None


@dataclass
class Request:
    """What a route handler sees of a request."""

    method: str
    path: str
    query: dict[str, str]
    headers: Any
    user: str | None
    handler: BaseHTTPRequestHandler
    fault: Fault | None = None
    _consumed: bool = False

    @property
    def length(self) -> int:
        return int(self.headers.get("Content-Length") or 0)

    def body(self) -> bytes:
        """Read the whole body (small bodies only: JSON, XML, forms)."""
        self._consumed = True
        return self.handler.rfile.read(self.length) if self.length else b""

    def json(self) -> Any:
        raw = self.body()
        return json.loads(raw) if raw else {}

    def stream_to(self, path: Path, block: int = 1 << 20) -> int:
        """Copy the body to ``path`` block by block; return the byte count."""
        self._consumed = True
        remaining, total = self.length, 0
        with open(path, "wb") as fh:
            while remaining > 0:
                chunk = self.handler.rfile.read(min(block, remaining))
                if not chunk:
                    raise ConnectionError("client closed the connection mid-upload")
                fh.write(chunk)
                remaining -= len(chunk)
                total += len(chunk)
        return total


@dataclass
class Response:
    """A complete answer: status, body and headers (files are streamed separately)."""

    status: int = 200
    body: bytes | str | Any = b""
    content_type: str = "text/plain;charset=UTF-8"
    headers: dict[str, str] = field(default_factory=dict)
    file: Path | None = None
    cleanup: Path | None = None

    @classmethod
    def json(cls, data: Any, status: int = 200) -> Response:
        return cls(status, json.dumps(data).encode(), "application/json;charset=UTF-8")

    @classmethod
    def text(cls, text: str, status: int = 200) -> Response:
        return cls(status, text.encode())

    @classmethod
    def error(cls, status: int, message: str) -> Response:
        html = (f"<html><head><title>Status page</title></head><body><h3>{message}</h3>"
                "</body></html>")
        return cls(status, html.encode(), "text/html;charset=UTF-8")


Route = Callable[[Request, re.Match[str]], Response]


class XnatEmulator:
    """An XNAT on ``http://127.0.0.1:<port>`` backed by a LocalArchive.

    Parameters
    ----------
    root : path
        Folder for the archive, prearchive and build space.
    users : dict
        ``{user: password}``.
    """

    def __init__(self, root: Path, users: dict[str, str] | None = None) -> None:
        from xnat_emulator import admin_routes, archive_routes, cs_routes, event_routes, roi_routes, services

        self.root = Path(root)
        self.archive = LocalArchive(self.root / "archive")
        self.users = dict(users or {"admin": "admin-pass"})
        self.sessions: dict[str, str] = {}
        self.tokens: dict[str, tuple[str, str]] = {}
        self.faults: list[Fault] = []
        self.log: list[tuple[str, str, int]] = []
        self.lock = threading.RLock()
        self.routes: list[tuple[str, re.Pattern[str], Route]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        for module in (services, archive_routes, roi_routes, cs_routes, event_routes, admin_routes):
            module.register(self)

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> XnatEmulator:
        """Start serving on a free loopback port; return self."""
        emu = self

        class Handler(_Handler):
            emulator = emu

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="xnat-emulator")
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and wait for background launches."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        pool = getattr(self, "launch_pool", None)
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    @property
    def url(self) -> str:
        """Return the server URL."""
        assert self._server is not None, "emulator not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- helpers for route modules and tests -------------------------------------------
    def route(self, method: str, pattern: str, func: Route) -> None:
        """Add a route: ``pattern`` is a regex matched against the whole decoded path."""
        self.routes.append((method, re.compile(pattern + r"/?$"), func))

    def add_fault(self, method: str, pattern: str, status: int | None = None, times: int = 1,
                  truncate_after: int | None = None) -> Fault:
        """Make the next ``times`` requests matching ``method`` and ``pattern`` fail."""
        fault = Fault(method.upper(), pattern, status, times, truncate_after)
        with self.lock:
            self.faults.append(fault)
        return fault

    def count(self, method: str, pattern: str) -> int:
        """Return how many requests matching ``method`` and ``pattern`` were received."""
        rx = re.compile(pattern)
        return sum(1 for m, p, _ in list(self.log) if m == method.upper() and rx.search(p))

    def new_session(self, user: str) -> str:
        """Open a JSESSION for ``user``; return its id."""
        jsession = uuid.uuid4().hex.upper()
        with self.lock:
            self.sessions[jsession] = user
        return jsession

    def issue_token(self, user: str) -> tuple[str, str]:
        """Issue an alias token for ``user``; return (alias, secret)."""
        alias, secret = str(uuid.uuid4()), secrets.token_urlsafe(24)
        with self.lock:
            self.tokens[alias] = (secret, user)
        return alias, secret


class _Handler(BaseHTTPRequestHandler):
    """Parse, authenticate, apply faults, dispatch, and write the answer."""

    protocol_version = "HTTP/1.1"
    emulator: XnatEmulator

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet in tests
        return

    def _user(self) -> tuple[str | None, bool]:
        """Return (user, basic_auth_failed) from the JSESSIONID cookie or basic auth."""
        emu = self.emulator
        cookie = self.headers.get("Cookie") or ""
        match = re.search(r"JSESSIONID=([^;\s]+)", cookie)
        if match and match.group(1) in emu.sessions:
            return emu.sessions[match.group(1)], False
        auth = self.headers.get("Authorization") or ""
        if auth.startswith("Basic "):
            name, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            if emu.users.get(name) == password:
                return name, False
            token = emu.tokens.get(name)
            if token and token[0] == password:
                return token[1], False
            return None, True
        return None, False

    def _handle(self) -> None:
        emu = self.emulator
        split = urlsplit(self.path)
        path = unquote(split.path).rstrip("/") or "/"
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        user, failed = self._user()
        request = Request(self.command, path, query, self.headers, user, self)
        fault = self._fault(path)
        status = 0
        try:
            if fault is not None and fault.status is not None:
                response = Response.error(fault.status, f"{fault.status} injected by the emulator")
            elif failed or (user is None and path not in ("/", "/data/JSESSION")
                            and not path.startswith("/data/services/auth")):
                response = Response.error(401, "Login attempt failed. Please try again.")
            else:
                request.fault = fault
                response = self._dispatch(request, path)
            status = response.status
            self._send(request, response)
        finally:
            emu.log.append((self.command, path, status))

    def _fault(self, path: str) -> Fault | None:
        emu = self.emulator
        with emu.lock:
            for fault in emu.faults:
                if fault.times > 0 and fault.method == self.command and re.search(fault.pattern, path):
                    fault.times -= 1
                    return fault
        return None

    def _dispatch(self, request: Request, path: str) -> Response:
        for method, pattern, func in self.emulator.routes:
            if method == request.method:
                match = pattern.match(path)
                if match:
                    return func(request, match)
        if any(p.match(path) for _, p, _ in self.emulator.routes):
            return Response.error(405, f"Method {request.method} not allowed")
        return Response.error(404, f"The resource {path} was not found")

    def _send(self, request: Request, response: Response) -> None:
        if not request._consumed and request.length:
            # drain an unread body (e.g. an injected 503 on an upload) to keep the socket sane
            remaining = request.length
            while remaining > 0:
                chunk = self.rfile.read(min(1 << 20, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
        self.send_response(response.status)
        for key, value in response.headers.items():
            self.send_header(key, value)
        if response.file is not None:
            try:
                self._send_file(request, response.file)
            finally:
                if response.cleanup is not None:
                    shutil.rmtree(response.cleanup, ignore_errors=True)
            return
        body = response.body if isinstance(response.body, bytes) else str(response.body).encode()
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_file(self, request: Request, path: Path) -> None:
        size = path.stat().st_size
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        limit = request.fault.truncate_after if request.fault else None
        sent = 0
        with open(path, "rb") as fh:
            while True:
                block = fh.read(1 << 20)
                if not block:
                    break
                if limit is not None and sent + len(block) > limit:
                    self.wfile.write(block[: max(0, limit - sent)])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(block)
                sent += len(block)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle
