"""``sarcoma-xnat model train|evaluate`` end to end on a small curated archive (tiny network)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sarcoma_xnat.archive import LocalArchive
from sarcoma_xnat.cli import main

pytest.importorskip("torch")
pytest.importorskip("monai")
pytest.importorskip("matplotlib")


def test_train_then_evaluate_writes_model_metrics_and_pngs(curated_site: LocalArchive,
                                                           tmp_path: Path, capsys) -> None:
    out = tmp_path / "train"
    rc = main(["model", "train", "--archive", str(curated_site.root), "--project", "SITEA",
               "--out", str(out), "--image-size", "32", "--epochs", "3", "--batch-size", "16",
               "--bootstrap", "20", "--lr", "3e-3"])
    assert rc == 0
    for name in ("model.pt", "metrics.json", "calibration_os.png", "km_os.png", "km_dm.png",
                 "skipped.json", "provenance.json"):
        assert (out / name).is_file(), name
    assert (out / "km_os.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    metrics = json.loads((out / "metrics.json").read_text())
    os_c = metrics["endpoints"]["os"]
    assert 0.0 <= os_c["harrell_c"]["ci_lower"] <= os_c["harrell_c"]["value"] <= os_c["harrell_c"]["ci_upper"]
    assert 0.0 <= os_c["uno_c"]["value"] <= 1.0
    # BROKEN2 lacks tumour_grade: imputed by default (--missing impute), so two are skipped
    assert len(json.loads((out / "skipped.json").read_text())) == 2
    assert "Harrell C" in capsys.readouterr().out

    ev = tmp_path / "eval"
    assert main(["model", "evaluate", "--archive", str(curated_site.root), "--project", "SITEA",
                 "--model", str(out / "model.pt"), "--out", str(ev), "--bootstrap", "20"]) == 0
    assert json.loads((ev / "metrics.json").read_text())["n"] == 49  # the model's imputation fills BROKEN2


def test_train_refuses_a_project_without_curated_sessions(tmp_path: Path, capsys) -> None:
    archive = LocalArchive(tmp_path / "a")
    from sarcoma_xnat.archive import ObjectRef

    archive.create(ObjectRef("NONE"))
    rc = main(["model", "train", "--archive", str(archive.root), "--project", "NONE",
               "--out", str(tmp_path / "o")])
    assert rc == 2
    assert "no curated session in project NONE" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
