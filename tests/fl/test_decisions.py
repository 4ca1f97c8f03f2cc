"""Gate decisions reach the sites they concern (only their own), and a running job shows them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("nvflare")

from nvflare.apis.dxo import DXO, DataKind, from_shareable  # noqa: E402
from nvflare.apis.fl_constant import ReservedKey  # noqa: E402
from nvflare.apis.fl_context import FLContext  # noqa: E402
from nvflare.apis.shareable import make_copy  # noqa: E402

from sarcoma_xnat.fl.decisions import (DECISION_KEY, GateDecisionFilter, GateDecisionLog,  # noqa: E402
                                       site_decision, write_gate_log)

RECORD = {"round": 4, "baseline": 0.71, "merged": True, "merged_score": 0.72, "delta_norm": 0.1,
          "test": "paired bootstrap: 1000 resamples of 12 validation subjects",
          "decisions": [
              {"site": "site-1", "accepted": True, "reason": "validation C-index change +0.0100 (…)",
               "score": 0.72, "change": 0.01, "interval": [-0.03, 0.05]},
              {"site": "hospital-b", "accepted": False, "reason": "non-finite values in fc.weight",
               "score": None, "change": None, "interval": None}]}


class _Workspace:
    def __init__(self, root: Path) -> None:
        self.root = root

    def get_run_dir(self, job_id: str) -> str:
        return str(self.root / job_id)


class _Engine:
    def __init__(self, root: Path) -> None:
        self.workspace = _Workspace(root)

    def get_workspace(self) -> _Workspace:
        return self.workspace


def _ctx(root: Path, peer: str | None = None) -> FLContext:
    ctx = FLContext()
    ctx.set_prop(ReservedKey.ENGINE, _Engine(root), private=True, sticky=False)
    ctx.set_prop(ReservedKey.RUN_NUM, "job-1", private=False, sticky=False)
    if peer:
        peer_ctx = FLContext()
        peer_ctx.set_prop(ReservedKey.IDENTITY_NAME, peer, private=False, sticky=False)
        ctx.set_peer_context(peer_ctx)
    return ctx


def test_a_site_sees_only_its_own_decision() -> None:
    mine = site_decision(RECORD, "site-1")
    assert mine == {"round": 4, "accepted": True, "reason": "validation C-index change +0.0100 (…)",
                    "score_change": 0.01, "interval": [-0.03, 0.05],
                    "test": "paired bootstrap: 1000 resamples of 12 validation subjects"}
    assert "hospital-b" not in json.dumps(mine) and "0.71" not in json.dumps(mine)
    assert site_decision(RECORD, "hospital-b")["accepted"] is False
    assert site_decision(RECORD, "site-3") is None  # not in the round: nothing to tell


def test_server_filter_puts_each_sites_own_decision_into_its_copy_of_the_task(tmp_path: Path) -> None:
    (tmp_path / "job-1").mkdir()
    write_gate_log(str(tmp_path / "job-1"), [{**RECORD, "round": 3}, RECORD])
    task = DXO(DataKind.WEIGHTS, data={"w": np.ones(3)}, meta={"current_round": 5}).to_shareable()
    sent = {}
    for site in ("site-1", "hospital-b", "site-3"):
        copy = make_copy(task)  # what NVFlare's WFCommServer hands each client
        sent[site] = GateDecisionFilter().process(copy, _ctx(tmp_path, site))
    meta = {site: from_shareable(s).meta for site, s in sent.items()}
    assert meta["site-1"][DECISION_KEY] == site_decision(RECORD, "site-1")
    assert meta["hospital-b"][DECISION_KEY]["reason"] == "non-finite values in fc.weight"
    assert DECISION_KEY not in meta["site-3"] and DECISION_KEY not in from_shareable(task).meta
    assert "hospital-b" not in json.dumps(meta["site-1"], default=str)
    assert meta["site-1"]["current_round"] == 5
    np.testing.assert_array_equal(from_shareable(sent["site-1"]).data["w"], np.ones(3))


def test_site_filter_logs_the_decision_and_takes_it_out_of_the_task(tmp_path: Path) -> None:
    (tmp_path / "job-1").mkdir()
    decision = site_decision(RECORD, "site-1")
    task = DXO(DataKind.WEIGHTS, data={"w": np.ones(3)}, meta={DECISION_KEY: decision}).to_shareable()
    out = GateDecisionLog().process(task, _ctx(tmp_path))
    assert DECISION_KEY not in from_shareable(out).meta
    lines = (tmp_path / "job-1" / "outbound_log.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [{"round": 4, DECISION_KEY: decision}]
    plain = DXO(DataKind.WEIGHTS, data={"w": np.ones(3)}, meta={}).to_shareable()
    assert GateDecisionLog().process(plain, _ctx(tmp_path)) is plain
    assert len((tmp_path / "job-1" / "outbound_log.jsonl").read_text().splitlines()) == 1


def test_a_running_jobs_stats_hold_the_gate_records() -> None:
    from nvflare.widgets.info_collector import GroupInfoCollector, InfoCollector

    from sarcoma_xnat.fl.admin import _stats_gate
    from sarcoma_xnat.fl.controller import STATS_GROUP, GatedFedAvg
    from sarcoma_xnat.fl.job import FLSettings

    controller = GatedFedAvg(network=FLSettings(mode="clinical").network_args(), num_rounds=5)
    controller._records, controller._round = [RECORD], 5
    collector = GroupInfoCollector()
    ctx = FLContext()
    ctx.set_prop(InfoCollector.CTX_KEY_STATS_COLLECTOR, collector, private=True, sticky=False)
    controller.handle_event(InfoCollector.EVENT_TYPE_GET_STATS, ctx)
    info = collector.info[STATS_GROUP]
    assert info == {"current_round": 5, "num_rounds": 5, "gate": [RECORD]}
    # the admin side finds the group in show_stats' reply, keyed by target
    reply = {"server": {"ServerRunner": {"status": "started"}, STATS_GROUP: info}}
    assert _stats_gate(reply)["gate"][0]["decisions"][1]["site"] == "hospital-b"
    assert _stats_gate({"server": {"ServerRunner": {}}}) is None
