"""The project-level ``model-train`` command, resolved and run by the local runner (in-process engine).

The command reads the project through the XNAT API (``--archive xnat``): here the XNAT
emulator over the same archive folder, as a Container Service launch would.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("monai")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ holds xnat_emulator

from fl_fixtures import make_site  # noqa: E402
from xnat_emulator import XnatEmulator  # noqa: E402

from sarcoma_xnat.archive import ObjectRef  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_model_train_command_stores_the_model_as_a_project_resource(tmp_path: Path) -> None:
    from sarcoma_xnat.containers.command import load_command
    from sarcoma_xnat.containers.engines import InProcessEngine
    from sarcoma_xnat.containers.runner import run_command
    from sarcoma_xnat.containers.validate import check_command

    emu = XnatEmulator(tmp_path / "xnat", users={"admin": "admin-pass"}).start()
    try:
        archive = make_site(emu.archive.root, "TRAIN", 16, seed=3)
        command = check_command(load_command(ROOT / "xnat-commands" / "model-train.json"))
        result = run_command(command, archive, "/archive/projects/TRAIN", "sarcoma-model-train-project",
                             {"mode": "clinical", "epochs": "2", "ensemble": "1", "device": "cpu"},
                             InProcessEngine(),
                             {"XNAT_HOST": emu.url, "XNAT_USER": "admin", "XNAT_PASS": "admin-pass"})
    finally:
        emu.stop()
    line = result.resolved.command_line
    assert line.startswith("sarcoma-xnat model train --archive xnat --project TRAIN --output /output")
    assert "--mode clinical" in line and "--device cpu" in line and "--ensemble 1" in line
    assert result.exit_code == 0
    folder = archive.resource_path(ObjectRef("TRAIN"), "PROGNOSIS_TRAINING")
    for name in ("model.pt", "model_card.json", "model_card.md", "metrics.json", "provenance.json"):
        assert (folder / name).is_file(), name
    card = json.loads((folder / "model_card.json").read_text())
    assert card["data"]["project"] == "TRAIN" and card["model"]["mode"] == "clinical"
    assert card["data"]["train"]["subjects"] + card["data"]["test"]["subjects"] == 16
