"""The outbound gate at every site: only what the study agreed may leave, and a log of what did.

:class:`OutboundGate` is the last NVFlare task-result filter of each client (after the
differential-privacy filter, so it sees exactly what is sent). Every result is checked
against an :class:`OutboundManifest`:

* model entries: parameter names, shapes and dtypes of the agreed network (without the
  batch-norm statistics under FedBN, the default);
* metrics: scalar C-indices by name (:data:`ALLOWED_METRICS`), finite or NaN, in [0, 1];
  and the site's training-data summary by name
  (:data:`~sarcoma_xnat.fl.site_summary.SUMMARY_COUNTS`: counts rounded to 5 and at least 5,
  or -1 for a suppressed one; :data:`~sarcoma_xnat.fl.site_summary.SUMMARY_MONTHS`: median
  follow-up on a 3-month grid, or -1), so an exact count is refused;
* meta: the keys NVFlare's Client API and filters use (:data:`ALLOWED_META`), with
  counts as non-negative integers;
* no text anywhere except filter class names in NVFlare's ``filter_history``.

Anything else is refused: the filter raises NVFlare's ``ContentBlockedException``, the
task fails and nothing of the result leaves the site; the refusal is logged. Each sent
result is logged (a one-line summary in the site's ``log.txt``, and every name, shape
and dtype as a JSON line in ``outbound_log.jsonl`` of the client's run folder).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sarcoma_xnat.fl.site_summary import (MIN_REPORTED, MONTHS_GRID, ROUND_TO, SUMMARY_COUNTS,
                                          SUMMARY_MONTHS, SUPPRESSED, is_reported_count,
                                          is_reported_months)

__all__ = ["ALLOWED_META", "ALLOWED_METRICS", "OutboundGate", "OutboundManifest", "describe"]

#: metric names a site may report (its C-index of the received model on its own data)
ALLOWED_METRICS = ("c_index", "c_index_dm", "c_index_os")
#: DXO meta keys of NVFlare's Client API and filters that may travel
ALLOWED_META = ("NUM_STEPS_CURRENT_ROUND", "current_round", "filter_history", "initial_metrics",
                "start_round", "total_rounds")
_CLASS_NAME = re.compile(r"^[A-Za-z_][\w.]{0,200}$")


@dataclass
class OutboundManifest:
    """What may leave a site: ``{name: (shape, dtype)}`` of the model, metric and meta names."""

    params: dict[str, tuple[tuple[int, ...], str]]
    metrics: tuple[str, ...] = ALLOWED_METRICS
    meta: tuple[str, ...] = ALLOWED_META
    #: the site's training-data summary: rounded or suppressed counts, follow-up on a grid
    counts: tuple[str, ...] = SUMMARY_COUNTS
    months: tuple[str, ...] = SUMMARY_MONTHS
    problems: list[str] = field(default_factory=list, repr=False)

    @classmethod
    def for_network(cls, network: Mapping[str, Any], fedbn: bool = True) -> OutboundManifest:
        """Return the manifest of the agreed network (without batch-norm statistics under FedBN)."""
        from sarcoma_xnat.models.networks import MultimodalSurvivalNet
        from sarcoma_xnat.models.training import BN_PATTERN

        local = re.compile(BN_PATTERN)
        state = MultimodalSurvivalNet(**network).state_dict()
        return cls({k: (tuple(v.shape), str(v.numpy().dtype)) for k, v in state.items()
                    if not (fedbn and local.search(k))})

    def _metric(self, where: str, name: Any, value: Any) -> str | None:
        if name in self.counts:
            return None if is_reported_count(value) else (
                f"{where}: count {name} = {str(value)[:20]} is not rounded to a multiple of "
                f"{ROUND_TO} of at least {MIN_REPORTED} (or suppressed, {SUPPRESSED})")
        if name in self.months:
            return None if is_reported_months(value) else (
                f"{where}: follow-up {name} = {str(value)[:20]} is not on the {MONTHS_GRID}-month "
                f"grid (or suppressed, {SUPPRESSED})")
        if name not in self.metrics:
            return f"{where}: metric {str(name)[:40]!r} is not in the manifest"
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)):
            return f"{where}: metric {name} is a {type(value).__name__}, not a number"
        if not (math.isnan(float(value)) or 0.0 <= float(value) <= 1.0):
            return f"{where}: metric {name} = {float(value):.4g} is not a C-index in [0, 1]"
        return None

    def check(self, kind: str, data: Mapping[str, Any], meta: Mapping[str, Any]) -> list[str]:
        """Return every reason ``kind``/``data``/``meta`` may not leave (empty: it may)."""
        out: list[str] = []
        if kind in ("WEIGHTS", "WEIGHT_DIFF"):
            for name, value in data.items():
                if name not in self.params:
                    out.append(f"entry {str(name)[:60]!r} is not in the manifest")
                    continue
                arr = np.asarray(value)
                shape, dtype = self.params[name]
                if tuple(arr.shape) != shape or str(arr.dtype) != dtype:
                    out.append(f"entry {name} is {arr.dtype}{list(arr.shape)}, "
                               f"the manifest says {dtype}{list(shape)}")
        elif kind == "METRICS":
            out += [p for k, v in data.items() if (p := self._metric("data", k, v))]
        else:
            out.append(f"data kind {kind} may not leave the site")
        for key, value in meta.items():
            if key not in self.meta:
                out.append(f"meta key {str(key)[:40]!r} is not in the manifest")
            elif key == "initial_metrics":
                if not isinstance(value, Mapping):
                    out.append("meta initial_metrics is not a mapping")
                else:
                    out += [p for k, v in value.items() if (p := self._metric("meta", k, v))]
            elif key == "filter_history":
                if not (isinstance(value, list) and len(value) <= 8
                        and all(isinstance(v, str) and _CLASS_NAME.match(v) for v in value)):
                    out.append("meta filter_history holds something other than filter class names")
            elif isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                out.append(f"meta {key} is not a non-negative integer count")
        return out


def describe(kind: str, data: Mapping[str, Any], meta: Mapping[str, Any]) -> dict[str, Any]:
    """Return exactly what a result holds: every entry's name, shape and dtype, metrics, meta keys."""
    entries = {}
    metrics = {}
    for name, value in data.items():
        arr = np.asarray(value)
        if kind == "METRICS":
            metrics[name] = float(value)
        else:
            entries[name] = [list(arr.shape), str(arr.dtype)]
    metrics.update({k: float(v) for k, v in dict(meta.get("initial_metrics") or {}).items()})
    return {"kind": kind, "entries": entries, "values": int(sum(np.prod(s) for s, _ in entries.values())),
            "metrics": metrics, "meta": sorted(meta)}


try:
    from nvflare.apis.dxo import from_shareable
    from nvflare.apis.filter import ContentBlockedException, Filter
except ImportError:  # pragma: no cover - the gate runs inside NVFlare only
    Filter = object  # type: ignore[assignment,misc]


class OutboundGate(Filter):  # type: ignore[misc,valid-type]
    """NVFlare task-result filter: refuse anything the manifest does not allow; log what is sent.

    Parameters
    ----------
    network : dict
        Constructor arguments of the agreed network.
    fedbn : bool
        Batch-norm statistics stay at the site (they are then not in the manifest).
    """

    def __init__(self, network: dict, fedbn: bool = True) -> None:
        super().__init__()
        self.network = network  # attribute names match the arguments: NVFlare's export reads them
        self.fedbn = fedbn
        self._manifest: OutboundManifest | None = None

    def _log_file(self, fl_ctx: Any) -> str | None:
        try:
            return os.path.join(fl_ctx.get_engine().get_workspace().get_run_dir(fl_ctx.get_job_id()),
                                "outbound_log.jsonl")
        except Exception:  # no workspace (unit tests)
            return None

    def process(self, shareable: Any, fl_ctx: Any) -> Any:
        """Check the result against the manifest; raise ContentBlockedException to refuse it."""
        if self._manifest is None:
            self._manifest = OutboundManifest.for_network(self.network, self.fedbn)
        round_ = shareable.get_header("current_round", None)
        try:
            dxo = from_shareable(shareable)
        except ValueError:  # an error reply without content: nothing leaves
            return shareable
        kind = str(getattr(dxo.data_kind, "value", dxo.data_kind))  # DataKind is a str enum
        data, meta = dxo.data or {}, dict(dxo.meta or {})
        problems = self._manifest.check(kind, data, meta)
        record = {"round": round_, "accepted": not problems, "problems": problems,
                  **describe(kind, data, meta)}
        path = self._log_file(fl_ctx)
        if path:
            with open(path, "a") as fh:
                fh.write(json.dumps(record, default=str) + "\n")
        if problems:
            self.log_error(fl_ctx, f"outbound gate round {round_}: REFUSED, nothing sent: "
                                   f"{'; '.join(problems[:5])}")
            raise ContentBlockedException("outbound gate: " + "; ".join(problems[:5]))
        self.log_info(fl_ctx, f"outbound gate round {round_}: sent {kind} with "
                              f"{len(record['entries'])} entries ({record['values']} values), "
                              f"metrics {record['metrics']}, meta keys {record['meta']}")
        return shareable
