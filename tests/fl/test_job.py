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
