"""``--device auto|cpu|cuda``: auto picks the CPU without a GPU, cuda is refused clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from sarcoma_xnat.errors import ConfigurationError  # noqa: E402
from sarcoma_xnat.models.device import resolve_device  # noqa: E402

no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is visible here")


@no_gpu
def test_auto_is_cpu_and_cuda_is_refused_without_a_gpu() -> None:
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ConfigurationError, match="--device cuda: no CUDA GPU is usable"):
        resolve_device("cuda")
    with pytest.raises(ConfigurationError, match="one of auto, cpu, cuda"):
        resolve_device("tpu")


@no_gpu
def test_commands_refuse_cuda_before_any_work(tmp_path: Path, capsys) -> None:
    from sarcoma_xnat.archive import LocalArchive, ObjectRef
    from sarcoma_xnat.cli import main

    archive = LocalArchive(tmp_path / "a")
    archive.create(ObjectRef("P"))
    rc = main(["model", "train", "--archive", str(archive.root), "--project", "P",
               "--output", str(tmp_path / "out"), "--device", "cuda"])
    err = capsys.readouterr().err
    assert rc == 2 and "no CUDA GPU is usable" in err
    assert "no curated session" not in err  # refused before the cohort was read
    assert not (tmp_path / "out").exists()
    (tmp_path / "in").mkdir()
    rc = main(["prognosis", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "p"),
               "--model", str(tmp_path / "missing.pt"), "--device", "cuda"])
    assert rc == 2 and "no CUDA GPU is usable" in capsys.readouterr().err


def test_training_and_prediction_follow_the_model_device() -> None:
    import numpy as np

    from sarcoma_xnat.models.networks import build_network
    from sarcoma_xnat.models.survival import SurvivalArrays
    from sarcoma_xnat.models.training import TrainConfig, fit, model_inputs, predict

    rng = np.random.default_rng(0)
    n = 12
    data = SurvivalArrays(rng.normal(size=(n, 19)).astype(np.float32), None,
                          rng.uniform(1, 50, n), rng.integers(0, 2, n).astype(float),
                          rng.uniform(1, 50, n), rng.integers(0, 2, n).astype(float))
    model = build_network("tiny", mode="clinical").to(resolve_device("auto"))
    fit(model, data, TrainConfig(epochs=1, batch_size=6))
    clinical, _ = model_inputs(model, data, np.arange(3))
    assert clinical.device == next(model.parameters()).device
    assert predict(model, data).shape == (n, 2)
