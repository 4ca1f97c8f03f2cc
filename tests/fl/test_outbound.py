"""The outbound gate at every site: only the manifest leaves; everything else is refused and logged."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("nvflare")

from sarcoma_xnat.fl.outbound import OutboundGate, OutboundManifest  # noqa: E402

NETWORK = {"mode": "clinical", "clinical_hidden": 8, "n_clinical": 19}


def _weights(fedbn: bool = True) -> dict[str, np.ndarray]:
    from sarcoma_xnat.models.networks import MultimodalSurvivalNet

    state = MultimodalSurvivalNet(**NETWORK).state_dict()
    return {k: v.numpy() for k, v in state.items()
            if not (fedbn and k.endswith(("running_mean", "running_var", "num_batches_tracked")))}


def test_manifest_accepts_the_agreed_update_and_names_everything_else() -> None:
    manifest = OutboundManifest.for_network(NETWORK)
    meta = {"NUM_STEPS_CURRENT_ROUND": 4, "initial_metrics": {"c_index_os": 0.61, "c_index": float("nan")}}
    assert manifest.check("WEIGHTS", _weights(), meta) == []
    problems = manifest.check("WEIGHTS", _weights(fedbn=False), meta)  # statistics under FedBN
    assert problems and all("running" in p or "num_batches" in p for p in problems)
    bad = dict(_weights(), **{"head.weight": np.zeros((3, 12), np.float32)})
    assert manifest.check("WEIGHTS", bad, {}) == ["entry head.weight is float32[3, 12], "
                                                  "the manifest says float32[2, 12]"]
    wrong_dtype = dict(_weights(), **{"head.bias": np.zeros(2, np.float64)})
    assert "float64" in manifest.check("WEIGHT_DIFF", wrong_dtype, {})[0]
    assert manifest.check("WEIGHTS", {"cohort_mean_age": np.zeros(1)}, {}) == [
        "entry 'cohort_mean_age' is not in the manifest"]


def test_manifest_refuses_text_unknown_metrics_and_counts_that_are_not_counts() -> None:
    manifest = OutboundManifest.for_network(NETWORK)
    assert manifest.check("METRICS", {"c_index_os": 0.7}, {}) == []
    assert "not in the manifest" in manifest.check("METRICS", {"mean_age": 54.2}, {})[0]
    assert "not a C-index" in manifest.check("METRICS", {"c_index": 3.5}, {})[0]
    assert "not a number" in manifest.check("METRICS", {"c_index": "SITEA001 died"}, {})[0]
    assert "not in the manifest" in manifest.check("WEIGHTS", _weights(), {"note": "patient X"})[0]
    assert "filter class names" in manifest.check(
        "WEIGHTS", _weights(), {"filter_history": ["Jane Doe, born 1960-01-01"]})[0]
    assert "non-negative integer" in manifest.check(
        "WEIGHTS", _weights(), {"NUM_STEPS_CURRENT_ROUND": "48 patients"})[0]
    assert "may not leave" in manifest.check("STATISTICS", {}, {})[0]


def test_filter_raises_content_blocked_and_passes_the_agreed_result() -> None:
    from nvflare.apis.dxo import DXO, DataKind
    from nvflare.apis.filter import ContentBlockedException
    from nvflare.apis.fl_context import FLContext

    gate = OutboundGate(network=NETWORK)
    good = DXO(DataKind.WEIGHTS, data=_weights(), meta={"NUM_STEPS_CURRENT_ROUND": 2}).to_shareable()
    assert gate.process(good, FLContext()) is good
    leaky = DXO(DataKind.WEIGHTS, data=_weights(fedbn=False), meta={}).to_shareable()
    with pytest.raises(ContentBlockedException, match="running_mean"):
        gate.process(leaky, FLContext())
    assert OutboundGate(network=NETWORK, fedbn=False).process(leaky, FLContext()) is leaky


def test_job_puts_the_gate_last_on_every_client_task(tmp_path) -> None:
    import json

    from sarcoma_xnat.fl.job import FLSettings, SurvivalFedRecipe

    SurvivalFedRecipe(FLSettings(mode="clinical", dp_clip=1.0)).export(str(tmp_path))
    app = next(tmp_path.glob("*/app*"))
    config = json.loads((app / "config" / "config_fed_client.json").read_text())
    chains = config["task_result_filters"]
    tasks = {t for chain in chains for t in chain["tasks"]}
    assert {"train", "validate", "submit_model"} <= tasks
    for chain in chains:
        assert chain["filters"][-1]["path"] == "sarcoma_xnat.fl.outbound.OutboundGate"
        assert chain["filters"][-1]["args"].get("fedbn", True) is True  # defaults are left out


def test_site_summary_counts_leave_only_rounded_or_suppressed() -> None:
    manifest = OutboundManifest.for_network(NETWORK)
    rounded = {"c_index_os": 0.64, "n_subjects": 45, "n_os_events": 10, "n_dm_events": -1,
               "n_excluded_qc": -1, "os_median_follow_up_months": 24, "dm_median_follow_up_months": 21}
    assert manifest.check("METRICS", rounded, {}) == []
    assert manifest.check("WEIGHTS", _weights(), {"initial_metrics": {"n_subjects": 50}}) == []
    for name, exact in (("n_subjects", 47), ("n_os_events", 3), ("n_dm_events", 0),
                        ("n_subjects", 45.5), ("n_subjects", "45"), ("n_skipped", -5)):
        problems = manifest.check("METRICS", {**rounded, name: exact}, {})
        assert len(problems) == 1 and f"count {name} = " in problems[0], (name, exact, problems)
    problems = manifest.check("METRICS", {**rounded, "os_median_follow_up_months": 25.4}, {})
    assert len(problems) == 1 and "3-month grid" in problems[0]
    assert "not in the manifest" in manifest.check("METRICS", {"n_patients": 45}, {})[0]


def test_filter_refuses_an_exact_count_in_a_validation_result() -> None:
    from nvflare.apis.dxo import DXO, DataKind
    from nvflare.apis.filter import ContentBlockedException
    from nvflare.apis.fl_context import FLContext

    gate = OutboundGate(network=NETWORK)
    good = DXO(DataKind.METRICS, data={"c_index_os": 0.6, "n_subjects": 25}).to_shareable()
    assert gate.process(good, FLContext()) is good
    exact = DXO(DataKind.METRICS, data={"c_index_os": 0.6, "n_subjects": 23}).to_shareable()
    with pytest.raises(ContentBlockedException, match="n_subjects = 23 is not rounded"):
        gate.process(exact, FLContext())
