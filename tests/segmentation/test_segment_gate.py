"""The validation gate: a worse model is rejected and the previous version kept; rollback restores it."""

from __future__ import annotations

from pathlib import Path

import pytest

from sarcoma_xnat.cli import main
from sarcoma_xnat.errors import ConfigurationError
from sarcoma_xnat.segmentation.gate import collect_cases, split_cases, train_gated
from sarcoma_xnat.segmentation.registry import fetch_models, read_registry, use_version


def _registry(archive, project: str, tmp: Path) -> dict:
    return read_registry(fetch_models(archive, project, tmp))


def test_gate_rejects_a_worse_model_and_rollback_restores(trained, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    archive, manifest, first = trained
    project = manifest.project
    cases = collect_cases(archive, project)
    assert len(cases) == 5  # every session has a human annotation: all count as reviewed
    train_part, held = split_cases(cases)
    assert [c.session for c in held] == first["validation"]["sessions"]  # the same held-out set
    bad = train_gated(archive, project, epochs=12, tolerance=0.02, cases=cases, shuffle_masks=True,
                      seed=1)
    assert bad["decision"] == "rejected", bad["validation"]
    assert bad["validation"]["new"]["mean_dice"] < bad["validation"]["current"]["mean_dice"] - 0.02
    reg = _registry(archive, project, tmp_path / "r1")
    assert reg["current"] == "1" and [v["version"] for v in reg["versions"]] == ["1", "2"]
    assert reg["versions"][1]["decision"] == "rejected" and (tmp_path / "r1" / "2").is_dir()
    with pytest.raises(ConfigurationError, match="rejected"):
        use_version(archive, project, "2")
    # a fine-tune accepted with a wide tolerance becomes current; rollback brings 1 back
    good = train_gated(archive, project, epochs=2, tolerance=1.0, cases=cases, seed=2)
    assert good["decision"] == "accepted" and good["parent"] == "1"
    assert _registry(archive, project, tmp_path / "r2")["current"] == "3"
    assert main(["segment", "model", "use", "--archive", str(archive.root), "--project", project,
                 "1"]) == 0
    reg = _registry(archive, project, tmp_path / "r3")
    assert reg["current"] == "1" and reg["history"][-1] == {**reg["history"][-1], "action": "use",
                                                            "version": "1", "previous": "3"}
    capsys.readouterr()
    assert main(["segment", "model", "list", "--archive", str(archive.root), "--project", project]) == 0
    listing = capsys.readouterr().out
    assert "rejected" in listing and "accepted" in listing
