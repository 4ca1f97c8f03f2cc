"""Error messages say what is wrong and what to do (issue 13's list of misleading ones)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from sarcoma_xnat.cli import EXIT_ERROR, main
from sarcoma_xnat.errors import ModelError


def test_an_empty_model_file_says_it_is_empty(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from sarcoma_xnat.fl.checkpoint import load_checkpoint

    path = tmp_path / "model.pt"
    path.write_bytes(b"")
    with pytest.raises(ModelError, match="is empty") as exc:
        load_checkpoint(path)
    assert "cannot read model file:  " not in str(exc.value)


def test_a_corrupt_model_file_never_relays_the_weights_only_advice(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from sarcoma_xnat.fl.checkpoint import load_checkpoint

    path = tmp_path / "model.pt"
    path.write_bytes(b"PK\x03\x04 this is not a model" * 10)
    with pytest.raises(ModelError, match="not a readable sarcoma-xnat model") as exc:
        load_checkpoint(path)
    assert "weights_only" not in str(exc.value)


def test_model_train_on_too_few_subjects_counts_the_split(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    import sarcoma_xnat.fl.dataset as dataset
    import sarcoma_xnat.fl.site as site

    cohort = SimpleNamespace(data=SimpleNamespace(os_event=np.array([1, 1, 0, 0])),
                             sessions=["E1", "E2", "E3", "E4"], subjects=["S1", "S2", "S3", "S4"],
                             skipped=[], excluded=[], follow_ups=[])
    monkeypatch.setattr(site, "open_archive", lambda spec: object())
    monkeypatch.setattr(dataset, "load_cohort", lambda *a, **k: cohort)
    code = main(["model", "train", "--archive", "xnat", "--project", "P", "--mode", "clinical",
                 "--test-fraction", "0.5", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == EXIT_ERROR
    assert "4 usable session(s)" in err and "holds out 2" in err and "leaving 2" in err
    assert "lower --test-fraction" in err


def test_a_session_without_dicom_says_so(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    session = tmp_path / "session"
    (session / "SCANS" / "2" / "DICOM").mkdir(parents=True)
    (session / "SCANS" / "2" / "DICOM" / "b.dcm").write_text("not DICOM at all")
    code = main(["preprocess", "--input", str(session), "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == EXIT_ERROR
    assert "no readable DICOM header" in err and "(- / -)" not in err


def test_os_errors_and_missing_extras_are_errors_not_tracebacks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import errno

    import sarcoma_xnat.steps.preprocess as step

    session = tmp_path / "DOE_JOHN"  # an export folder named after the patient
    (session / "SCANS").mkdir(parents=True)
    (session / "SCANS" / "x").write_text("x")

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(session / "SCANS" / "x"))

    monkeypatch.setattr(step, "run", full)
    argv = ["preprocess", "--input", str(session), "--output", str(tmp_path / "out")]
    assert main(argv) == EXIT_ERROR
    err = capsys.readouterr().err
    assert err.startswith("error: No space left on device") and "DOE_JOHN" not in err

    def no_torch(*args: object, **kwargs: object) -> None:
        raise ModuleNotFoundError("No module named 'torch'", name="torch")

    monkeypatch.setattr(step, "run", no_torch)
    assert main(argv) == EXIT_ERROR
    assert "pip install 'sarcoma-xnat[fl]'" in capsys.readouterr().err
