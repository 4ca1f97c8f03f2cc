"""Workers are not forked from a process that has loaded gRPC (its threads do not survive fork)."""

from __future__ import annotations

import os
import sys
import types

import pytest

from sarcoma_xnat.deid import jobs


def _pid(_: object) -> int:
    return os.getpid()


def test_a_process_with_grpc_does_the_work_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "grpc._cython.cygrpc", raising=False)
    assert not jobs._fork_is_unsafe()
    assert set(jobs.map_files(_pid, list(range(8)), 2)) != {os.getpid()}  # workers
    monkeypatch.setitem(sys.modules, "grpc._cython.cygrpc", types.ModuleType("cygrpc"))
    assert jobs._fork_is_unsafe()
    assert set(jobs.map_files(_pid, list(range(8)), 2)) == {os.getpid()}
    assert list(jobs.map_files(abs, [-3, -1, -2, 4], 2)) == [3, 1, 2, 4]
