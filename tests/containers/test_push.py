"""``images push``: tag and push through the real docker SDK against a fake Docker Engine API.

No registry can run offline here (podman cannot pull a registry image), so the Docker API is a
small HTTP server speaking the Engine API endpoints the SDK calls (``/_ping``, ``/version``,
``GET /images/{name}/json``, ``POST /images/{name}/tag``, ``POST /images/{name}/push``); it
records every call, and answers push the way dockerd does: HTTP 200 with a JSON progress stream
whose last entry carries either the digest or an ``errorDetail``.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from sarcoma_xnat import __version__
from sarcoma_xnat.cli import main
from sarcoma_xnat.containers.engines import DockerEngine
from sarcoma_xnat.containers.push import push_images, remote_ref
from sarcoma_xnat.errors import ConfigurationError, ContainerError

REGISTRY = "111122223333.dkr.ecr.eu-west-2.amazonaws.com"
_PATH = re.compile(r"^/v[\d.]+/images/(?P<name>.+)/(?P<op>json|tag|push)$")


def _image_id(name: str) -> str:
    return "sha256:" + hashlib.sha256(name.encode()).hexdigest()


class FakeDockerApi(BaseHTTPRequestHandler):
    """Docker Engine API subset; state lives on the server object."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _send(self, code, body, ctype="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = urlsplit(self.path).path
        if path.endswith("/_ping"):
            return self._send(200, b"OK", "text/plain")
        if path.endswith("/version"):
            return self._send(200, {"ApiVersion": "1.41", "Version": "24.0.0", "MinAPIVersion": "1.12"})
        match = _PATH.match(path)
        if match and match["op"] == "json":
            name = unquote(match["name"])
            if name in self.server.local_images:
                return self._send(200, {"Id": _image_id(name), "RepoTags": [name]})
            return self._send(404, {"message": f"No such image: {name}"})
        return self._send(404, {"message": "not found"})

    def do_POST(self):
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        match = _PATH.match(url.path)
        if not match:
            return self._send(404, {"message": "not found"})
        name = unquote(match["name"])
        if match["op"] == "tag":
            self.server.calls.append(("tag", name, query.get("repo"), query.get("tag")))
            return self._send(201, b"", "text/plain")
        header = self.headers.get("X-Registry-Auth")
        auth = json.loads(base64.urlsafe_b64decode(header + "==")) if header else None
        self.server.calls.append(("push", name, query.get("tag"), auth))
        ref = f"{name}:{query.get('tag')}"
        lines = [{"status": f"The push refers to repository [{name}]"}]
        if ref in self.server.refuse:
            lines.append({"errorDetail": {"message": self.server.refuse[ref]}, "error": self.server.refuse[ref]})
        else:
            lines.append({"status": f"{query.get('tag')}: digest: sha256:{'cd' * 32} size: 1234",
                          "aux": {"Tag": query.get("tag"), "Digest": "sha256:" + "cd" * 32, "Size": 1234}})
        # chunked, one JSON object per chunk, as dockerd streams progress
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for line in lines:
            data = json.dumps(line).encode() + b"\r\n"
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.write(b"0\r\n\r\n")


@pytest.fixture
def api():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeDockerApi)
    server.calls, server.refuse = [], {}
    server.local_images = {f"sarcoma-xnat/{n}:{__version__}" for n in (
        "preprocess", "deid", "radiomics", "prognosis", "segment", "segment-train", "model-train",
        "fl-client")}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _engine(api):
    return DockerEngine(f"tcp://127.0.0.1:{api.server_address[1]}")


def test_push_tags_each_step_image_under_its_command_name_and_pushes_it(api):
    pushed = push_images(_engine(api), REGISTRY, ["preprocess", "deid"])
    repo = f"{REGISTRY}/sarcoma-xnat/preprocess"
    assert api.calls[:2] == [
        ("tag", _image_id(f"sarcoma-xnat/preprocess:{__version__}"), repo, __version__),
        ("push", repo, __version__, None),
    ]
    assert [c[1] for c in api.calls if c[0] == "push"] == [repo, f"{REGISTRY}/sarcoma-xnat/deid"]
    assert [p.remote for p in pushed] == [f"{repo}:{__version__}", f"{REGISTRY}/sarcoma-xnat/deid:{__version__}"]
    assert all(p.digest == "sha256:" + "cd" * 32 for p in pushed)


def test_default_is_every_step_image_and_no_base(api):
    pushed = push_images(_engine(api), "localhost:5000")
    assert [p.name for p in pushed] == ["preprocess", "deid", "radiomics", "prognosis", "segment",
                                        "segment-train", "model-train", "fl-client"]
    assert not [c for c in api.calls if "base-" in c[1]]


def test_a_refusal_inside_the_progress_stream_is_an_error(api):
    # dockerd answers 200 and reports e.g. an immutable ECR tag only in the stream
    api.refuse[f"{REGISTRY}/sarcoma-xnat/deid:{__version__}"] = "tag invalid: the image tag already exists"
    with pytest.raises(ContainerError, match="already exists"):
        push_images(_engine(api), REGISTRY, ["deid"])


def test_an_image_that_was_not_built_is_named(api):
    api.local_images.discard(f"sarcoma-xnat/deid:{__version__}")
    with pytest.raises(ContainerError, match="images build deid"):
        push_images(_engine(api), REGISTRY, ["deid"])
    assert api.calls == []


@pytest.mark.parametrize("registry", ["https://registry.example.org", "registry.example.org/", "Registry:5000", ""])
def test_registry_must_be_a_bare_host(registry):
    with pytest.raises(ConfigurationError):
        remote_ref(registry, "deid")


def test_unknown_image_name_is_refused(api):
    with pytest.raises(ConfigurationError, match="unknown image"):
        push_images(_engine(api), REGISTRY, ["nope"])


def test_cli_passes_the_password_from_stdin_as_registry_auth(api, monkeypatch, capsys):
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{api.server_address[1]}")
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cr3t-token\n"))
    rc = main(["images", "push", "--registry", REGISTRY, "--username", "AWS", "--password-stdin", "prognosis"])
    assert rc == 0
    [push] = [c for c in api.calls if c[0] == "push"]
    assert push[1] == f"{REGISTRY}/sarcoma-xnat/prognosis" and push[3]["username"] == "AWS"
    assert push[3]["password"] == "s3cr3t-token"
    out = capsys.readouterr().out
    assert f"{REGISTRY}/sarcoma-xnat/prognosis:{__version__}" in out and "s3cr3t" not in out
