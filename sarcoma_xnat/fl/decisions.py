"""The gate's decisions reach the sites they concern, and only those.

The server's :class:`GateDecisionFilter` (an NVFlare task-data filter, run for each client
on that client's own copy of the task) adds to the next task a site receives the gate's
decision on that site's last update (:func:`site_decision`: round, accepted or rejected,
reason, change of the validation C-index and its interval), read from the run's
``gate_log.json``. Nothing about other sites goes with it. NVFlare runs server task-data
filters on a per-client copy whose content dict is the client's own
(``nvflare/apis/impl/wf_comm_server.py``: ``make_copy(task_data)`` per client;
``nvflare/private/fed/server/server_runner.py``: ``apply_filters`` after it), so
replacing the DXO there changes what that client gets only.

At the site, :class:`GateDecisionLog` (a task-data filter) writes the decision to the
site's ``log.txt`` and as a JSON line ``{"round", "gate_decision"}`` to the run folder's
``outbound_log.jsonl`` (beside what the site sent, :mod:`.outbound`), and takes it out of
the task so nothing of it can travel back.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

__all__ = ["DECISION_KEY", "GateDecisionFilter", "GateDecisionLog", "read_gate_log", "site_decision",
           "write_gate_log"]

#: DXO meta key of the decision a site receives with its next task
DECISION_KEY = "gate_decision"
GATE_LOG = "gate_log.json"


def write_gate_log(run_dir: str, records: list[dict]) -> None:
    """Write the gate's records to ``run_dir/gate_log.json`` atomically."""
    path = os.path.join(run_dir, GATE_LOG)
    tmp = f"{path}.tmp"
    with open(tmp, "w") as fh:
        json.dump(records, fh, indent=2, default=float)
    os.replace(tmp, path)


def read_gate_log(run_dir: str) -> list[dict]:
    """Return the records of ``run_dir/gate_log.json`` ([] when there is none yet)."""
    try:
        with open(os.path.join(run_dir, GATE_LOG)) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return []


def site_decision(record: Mapping[str, Any], site: str) -> dict[str, Any] | None:
    """Return what ``site`` may see of a round's record: its own decision only (None: it had none)."""
    for d in record.get("decisions", []):
        if d.get("site") == site:
            return {"round": int(record["round"]), "accepted": bool(d["accepted"]),
                    "reason": str(d["reason"]), "score_change": d.get("change"),
                    "interval": d.get("interval"), "test": str(record.get("test", ""))}
    return None


try:
    from nvflare.apis.dxo import DXO, from_shareable
    from nvflare.apis.filter import Filter
except ImportError:  # pragma: no cover - the filters run inside NVFlare only
    Filter = object  # type: ignore[assignment,misc]


def _run_dir(fl_ctx: Any) -> str | None:
    try:
        return fl_ctx.get_engine().get_workspace().get_run_dir(fl_ctx.get_job_id())
    except Exception:  # no workspace (unit tests)
        return None


class GateDecisionFilter(Filter):  # type: ignore[misc,valid-type]
    """Server task-data filter: add the receiving site's own last gate decision to its task."""

    def process(self, shareable: Any, fl_ctx: Any) -> Any:
        """Put the peer site's decision on its last update into the task's DXO meta."""
        peer = fl_ctx.get_peer_context()
        site = peer.get_identity_name() if peer is not None else None
        run_dir = _run_dir(fl_ctx)
        records = read_gate_log(run_dir) if site and run_dir else []
        decision = site_decision(records[-1], site) if records else None
        if decision is None:
            return shareable
        try:
            dxo = from_shareable(shareable)
        except ValueError:
            return shareable
        # a new DXO (and meta dict): the per-client copy shares its content with the others
        DXO(dxo.data_kind, data=dxo.data, meta={**dict(dxo.meta or {}), DECISION_KEY: decision}
            ).update_shareable(shareable)
        return shareable


class GateDecisionLog(Filter):  # type: ignore[misc,valid-type]
    """Site task-data filter: log the gate's decision on this site's update, then drop it."""

    def process(self, shareable: Any, fl_ctx: Any) -> Any:
        """Write a received decision to ``log.txt`` and ``outbound_log.jsonl``; remove it from the task."""
        try:
            dxo = from_shareable(shareable)
        except ValueError:
            return shareable
        meta = dict(dxo.meta or {})
        decision = meta.pop(DECISION_KEY, None)
        if decision is None:
            return shareable
        verdict = "ACCEPTED" if decision.get("accepted") else "REJECTED"
        self.log_info(fl_ctx, f"validation gate: this site's round {decision.get('round')} update "
                              f"was {verdict}: {decision.get('reason')}")
        run_dir = _run_dir(fl_ctx)
        if run_dir:
            with open(os.path.join(run_dir, "outbound_log.jsonl"), "a") as fh:
                fh.write(json.dumps({"round": decision.get("round"), DECISION_KEY: decision},
                                    default=float) + "\n")
        DXO(dxo.data_kind, data=dxo.data, meta=meta).update_shareable(shareable)
        return shareable
