from __future__ import annotations

from pathlib import Path

import pytest

from sarcoma_xnat import __version__
from sarcoma_xnat.archive import LocalArchive
from sarcoma_xnat.cli import EXIT_ERROR, main


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and __version__ in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "synth" in out and "demo" in out


def test_synth_writes_an_archive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["synth", "--subjects", "1", "--seed", "4", "--preset", "small",
                 "--out", str(tmp_path / "a"), "--project", "TEST1"]) == 0
    archive = LocalArchive(tmp_path / "a")
    assert [p.label for p in archive.children(None, "project")] == ["TEST1"]
    assert "wrote 1 subjects" in capsys.readouterr().out


def test_bad_arguments_give_a_clear_error_and_no_output(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["synth", "--subjects", "0", "--out", str(tmp_path / "a")])
    assert code == EXIT_ERROR
    assert "--subjects must be at least 1" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()  # nothing created, not even an empty archive
