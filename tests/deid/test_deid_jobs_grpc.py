"""Workers do not fork a process that has loaded gRPC (its threads do not survive fork)."""

from __future__ import annotations

import sys
import types

import pytest

from sarcoma_xnat.deid import jobs


def test_a_process_with_grpc_starts_workers_from_a_server(monkeypatch: pytest.MonkeyPatch) -> None:
    if "forkserver" not in jobs.multiprocessing.get_all_start_methods():
        pytest.skip("no forkserver on this platform")
    monkeypatch.delitem(sys.modules, "grpc._cython.cygrpc", raising=False)
    assert jobs._start_method() == "fork"
    monkeypatch.setitem(sys.modules, "grpc._cython.cygrpc", types.ModuleType("cygrpc"))
    assert jobs._start_method() == "forkserver"
    assert list(jobs.map_files(abs, [-3, -1, -2, 4], 2)) == [3, 1, 2, 4]
