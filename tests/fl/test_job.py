"""The exported job: the client finds its script in ``custom/`` on any machine, not by a build path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("nvflare")
pytest.importorskip("torch")


def test_exported_job_names_the_shipped_client_script(tmp_path: Path) -> None:
    from sarcoma_xnat.fl.job import CLIENT_SCRIPT, FLSettings, SurvivalFedRecipe

    SurvivalFedRecipe(FLSettings(mode="clinical", clinical_hidden=0)).export(str(tmp_path))
    app = next(tmp_path.glob("*/app*"))
    config = json.loads((app / "config" / "config_fed_client.json").read_text())
    (executor,) = config["executors"]
    args = executor["executor"]["args"]
    assert args["task_script_path"] == CLIENT_SCRIPT.name  # not an absolute build path
    assert "--clinical-hidden 0" in args["task_script_args"]
    shipped = [p for p in (app / "custom").rglob("*.py") if p.name == CLIENT_SCRIPT.name]
    assert len(shipped) == 1 and shipped[0].read_text() == CLIENT_SCRIPT.read_text()
    # the name is unique among the package modules NVFlare copies beside it
    assert all(p.name != CLIENT_SCRIPT.name for p in (app / "custom").rglob("*.py") if p != shipped[0])
    for name in ("config_fed_server.json", "config_fed_client.json"):  # no data locations in a job
        assert "archive" not in (app / "config" / name).read_text()


def _client_config(settings, tmp_path: Path) -> dict:
    from sarcoma_xnat.fl.job import SurvivalFedRecipe

    SurvivalFedRecipe(settings).export(str(tmp_path))
    app = next(tmp_path.glob("*/app*"))
    return json.loads((app / "config" / "config_fed_client.json").read_text())


def test_dp_filter_is_a_task_result_filter_on_every_client(tmp_path: Path) -> None:
    from sarcoma_xnat.fl.job import FLSettings

    config = _client_config(FLSettings(mode="clinical", dp_clip=2.0, dp_noise=0.5), tmp_path / "dp")
    (entry,) = config["task_result_filters"]
    # named tasks: NVFlare 2.9 does not expand "*" for filter chains (it would never run)
    assert sorted(entry["tasks"]) == ["submit_model", "train", "validate"]
    dp, gate = entry["filters"]  # the DP filter, then the outbound gate sees what is sent
    assert gate["path"] == "sarcoma_xnat.fl.outbound.OutboundGate"
    assert dp["path"] == "sarcoma_xnat.fl.privacy.GaussianDPFilter"
    assert dp["args"] == {"clip": 2.0, "noise_multiplier": 0.5}
    # inbound, only the log of the gate's decisions (sarcoma_xnat.fl.decisions): the DP
    # filter is not a task-data filter
    assert [f["path"] for c in config["task_data_filters"] for f in c["filters"]] == [
        "sarcoma_xnat.fl.decisions.GateDecisionLog"]
    args = config["executors"][0]["executor"]["args"]["task_script_args"].split()
    assert "--send-diff" in args and not any(a.startswith("--dp") for a in args)

    plain = _client_config(FLSettings(mode="clinical"), tmp_path / "plain")
    (entry,) = plain["task_result_filters"]  # the outbound gate only
    assert [f["path"] for f in entry["filters"]] == ["sarcoma_xnat.fl.outbound.OutboundGate"]
    assert "--send-diff" not in plain["executors"][0]["executor"]["args"]["task_script_args"]


def test_dp_noise_without_clip_is_a_configuration_error() -> None:
    from sarcoma_xnat.errors import ConfigurationError
    from sarcoma_xnat.fl.job import FLSettings, SurvivalFedRecipe

    with pytest.raises(ConfigurationError, match="--dp-noise needs --dp-clip"):
        FLSettings(dp_noise=1.0)
    with pytest.raises(ConfigurationError, match=">= 0"):
        FLSettings(dp_clip=-1.0)
    settings = FLSettings(mode="clinical")
    settings.dp_noise = 1.0  # changed after construction: the recipe checks again
    with pytest.raises(ConfigurationError, match="--dp-noise needs --dp-clip"):
        SurvivalFedRecipe(settings)


def test_cli_refuses_dp_noise_without_clip_before_making_sites(tmp_path: Path, capsys) -> None:
    from sarcoma_xnat.cli import main

    rc = main(["fl", "simulate", "--synthetic", "4", "--dp-noise", "1", "--workspace",
               str(tmp_path / "ws")])
    assert rc != 0
    assert "--dp-noise needs --dp-clip" in capsys.readouterr().err
    assert not (tmp_path / "ws" / "archives").exists()


def _server_controller(settings, tmp_path: Path) -> dict:
    from sarcoma_xnat.fl.job import SurvivalFedRecipe

    SurvivalFedRecipe(settings).export(str(tmp_path))
    app = next(tmp_path.glob("*/app*"))
    config = json.loads((app / "config" / "config_fed_server.json").read_text())
    (controller,) = [w for w in config["workflows"] if w["path"].endswith(".GatedFedAvg")]
    return controller["args"]


def test_fedbn_reaches_the_server_and_blending_is_opt_in(tmp_path: Path) -> None:
    from sarcoma_xnat.fl.controller import GatedFedAvg
    from sarcoma_xnat.fl.job import FLSettings

    assert FLSettings().blend is False and FLSettings().fedbn is True
    plain = FLSettings(mode="clinical")
    assert "--blend" not in plain.client_args().split() and "--no-fedbn" not in plain.client_args().split()
    assert _server_controller(plain, tmp_path / "plain").get("fedbn", True) is True
    assert GatedFedAvg(network={}).fedbn is True

    settings = FLSettings(mode="clinical", fedbn=False, blend=True)
    args = settings.client_args().split()
    assert "--blend" in args and "--no-fedbn" in args and "--no-blend" not in args
    assert _server_controller(settings, tmp_path / "shared")["fedbn"] is False
