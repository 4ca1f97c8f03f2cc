"""Fixtures for the XNAT tests: a loopback emulator, and the opt-in live tier.

Tests that take ``xnat`` run against the emulator and, when
``SARCOMA_XNAT_LIVE_URL``/``_USER``/``_PASS`` are set, against that real XNAT too
(in a throw-away project ``SARCOMA_XNAT_LIVE_PROJECT``, default ``SXTEST``).
Tests that need to seed or break the server take ``emulator`` and run only there.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ holds xnat_emulator

from xnat_emulator import XnatEmulator  # noqa: E402

from sarcoma_xnat.archive import ObjectRef  # noqa: E402
from sarcoma_xnat.xnat import XnatClient, connect  # noqa: E402

LIVE_VARS = ("SARCOMA_XNAT_LIVE_URL", "SARCOMA_XNAT_LIVE_USER", "SARCOMA_XNAT_LIVE_PASS")
ADMIN = ("admin", "admin-pass")


@dataclass
class Server:
    """A server under test: its URL, credentials, a logged-in client and a scratch project."""

    kind: str
    url: str
    user: str
    password: str
    client: XnatClient
    project: str
    emulator: XnatEmulator | None = None


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[XnatEmulator]:
    """A fresh emulator with one admin user, stopped after the test."""
    emu = XnatEmulator(tmp_path / "xnat", users={ADMIN[0]: ADMIN[1], "bob": "bob-pass"}).start()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def client(emulator: XnatEmulator) -> Iterator[XnatClient]:
    """A client logged in to the emulator as admin (fast retries)."""
    with connect(emulator.url, *ADMIN, backoff=0.01) as c:
        yield c


def _live_params() -> list[object]:
    missing = [v for v in LIVE_VARS if not os.environ.get(v)]
    live = pytest.param("live", marks=[pytest.mark.live, pytest.mark.skipif(
        bool(missing), reason=f"live XNAT tier: set {', '.join(missing)} to run against a real XNAT")])
    return ["emulator", live]


@pytest.fixture(params=_live_params())
def xnat(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """The same SDK test against the emulator and (opt-in) a live XNAT, with a scratch project."""
    if request.param == "emulator":
        emu = XnatEmulator(tmp_path / "xnat", users={ADMIN[0]: ADMIN[1]}).start()
        c = connect(emu.url, *ADMIN, backoff=0.01)
        c.objects.create(ObjectRef("SXTEST"), "xnat:projectData")
        server = Server("emulator", emu.url, *ADMIN, c, "SXTEST", emu)
    else:
        url, user, password = (os.environ[v] for v in LIVE_VARS)
        project = os.environ.get("SARCOMA_XNAT_LIVE_PROJECT", "SXTEST")
        c = connect(url, user, password)
        if not c.objects.exists(ObjectRef(project)):
            c.objects.create(ObjectRef(project), "xnat:projectData")
        server = Server("live", url, user, password, c, project)
    try:
        yield server
    finally:
        server.client.close()
        if server.emulator is not None:
            server.emulator.stop()


@pytest.fixture
def unique() -> str:
    """A short unique label, so live runs never collide with earlier ones."""
    return "T" + uuid.uuid4().hex[:8].upper()


@pytest.fixture
def live() -> Iterator[Server]:
    """A live XNAT only (``SARCOMA_XNAT_LIVE_URL``/``_USER``/``_PASS``); skipped cleanly without.

    Run the live tier with one command::

        SARCOMA_XNAT_LIVE_URL=https://xnat.example.org SARCOMA_XNAT_LIVE_USER=admin \\
        SARCOMA_XNAT_LIVE_PASS=... .venv/bin/python -m pytest -m live tests/xnat -p no:cacheprovider
    """
    missing = [v for v in LIVE_VARS if not os.environ.get(v)]
    if missing:
        pytest.skip(f"live XNAT tier: set {', '.join(missing)} to run against a real XNAT")
    url, user, password = (os.environ[v] for v in LIVE_VARS)
    project = os.environ.get("SARCOMA_XNAT_LIVE_PROJECT", "SXTEST")
    c = connect(url, user, password)
    if not c.objects.exists(ObjectRef(project)):
        c.objects.create(ObjectRef(project), "xnat:projectData")
    try:
        yield Server("live", url, user, password, c, project)
    finally:
        c.close()
