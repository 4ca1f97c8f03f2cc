"""The prognosis step on a Container-Service-style session folder and on an archive."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sarcoma_xnat.archive import LocalArchive, ObjectRef
from sarcoma_xnat.errors import InputDataError

pytest.importorskip("torch")
pytest.importorskip("monai")
pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def model_file(curated_site: LocalArchive, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sarcoma_xnat.fl.checkpoint import save_checkpoint
    from sarcoma_xnat.fl.dataset import load_cohort
    from sarcoma_xnat.fl.workflow import train_model
    from sarcoma_xnat.models.training import TrainConfig

    data = load_cohort(curated_site, "SITEA", image_size=32).data
    trained = train_model(data, "tiny", "multimodal", TrainConfig(epochs=1, batch_size=24), 32,
                          ensemble=2)  # `model train` writes an ensemble by default
    return save_checkpoint(tmp_path_factory.mktemp("model") / "model.pt", trained.model, trained.meta)


def test_prognosis_on_session_folder_and_archive(curated_site: LocalArchive, model_file: Path,
                                                 tmp_path: Path, capsys) -> None:
    from sarcoma_xnat.cli import main

    session = ObjectRef("SITEA", "SITEA001", "SITEA001_MR1")
    staged = tmp_path / "input" / "RESOURCES" / "PREPROCESSED" / "files"
    curated_site.fetch_resource(session, "PREPROCESSED", staged)
    clinical = tmp_path / "clinical.json"
    clinical.write_text(json.dumps(curated_site.get(session.parent).fields))
    out = tmp_path / "output"
    assert main(["prognosis", "--input", str(tmp_path / "input"), "--output", str(out),
                 "--model", str(model_file), "--clinical", str(clinical)]) == 0
    result = json.loads((out / "prognosis.json").read_text())
    curve = result["endpoints"]["os"]["curve"]["survival"]
    assert all(a >= b for a, b in zip(curve, curve[1:])) and 0 <= curve[-1] <= 1
    assert result["endpoints"]["dm"]["risk_group"] in ("low", "intermediate", "high")
    assert (out / "survival_curve.png").is_file() and (out / "provenance.json").is_file()
    assert "OS: log-hazard" in capsys.readouterr().out

    archive = LocalArchive(tmp_path / "copy")
    import shutil

    shutil.copytree(curated_site.root, archive.root, dirs_exist_ok=True)
    assert main(["prognosis", "--archive", str(archive.root), "--session", session.uri,
                 "--model", str(model_file)]) == 0
    stored = json.loads((archive.resource_path(session, "PROGNOSIS") / "prognosis.json").read_text())
    assert stored["endpoints"]["os"]["log_hazard"] == pytest.approx(
        result["endpoints"]["os"]["log_hazard"], abs=1e-5)


def test_prognosis_refuses_missing_inputs(model_file: Path, tmp_path: Path) -> None:
    from sarcoma_xnat.steps.prognosis import run

    with pytest.raises(InputDataError, match="clinical fields"):
        run(tmp_path, tmp_path / "out", model_file, None)
    assert not (tmp_path / "out").exists()
