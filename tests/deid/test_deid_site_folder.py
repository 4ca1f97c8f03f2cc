"""``--site-config FOLDER``: the one site configuration of a mounted XNAT resource, or none."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from sarcoma_xnat.cli import main

CONFIG = '[review]\nby = "PACS team"\ndate = "2026-01-05"\n'


def _run(session_dir: Path, out: Path, secret_file: Path, site: Path) -> int:
    return main(["deid", "run", "--input", str(session_dir), "--output", str(out),
                 "--secret-file", str(secret_file), "--jobs", "1", "--site-config", str(site)])


def _site_record(out: Path) -> object:
    records = [json.loads(line) for line in (out / "deid-audit.jsonl").read_text().splitlines()]
    return next(r for r in records if r["event"] == "deidentify-folder")["site_config"]


def test_a_mounted_resource_folder_gives_its_one_configuration(
        session_dir: Path, secret_file: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "deid-site.toml").write_text(CONFIG)
    (site / "DEID_SITE_catalog.xml").write_text("<cat:Catalog/>")  # XNAT's, beside the file
    assert _run(session_dir, tmp_path / "out", secret_file, site) == 0
    record = _site_record(tmp_path / "out")
    assert record["file"] == "deid-site.toml"
    assert record["sha256"] == hashlib.sha256(CONFIG.encode()).hexdigest()


def test_an_empty_folder_means_no_configuration(session_dir: Path, secret_file: Path,
                                                tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "site").mkdir()
    assert _run(session_dir, tmp_path / "out", secret_file, tmp_path / "site") == 0
    assert _site_record(tmp_path / "out") is None
    assert "no site configuration in" in capsys.readouterr().err


@pytest.mark.parametrize("names", [("a.toml", "b.json"), ("notes.txt",)])
def test_a_folder_without_exactly_one_configuration_is_refused(
        session_dir: Path, secret_file: Path, tmp_path: Path, names: tuple[str, ...],
        capsys: pytest.CaptureFixture[str]) -> None:
    site = tmp_path / "site"
    site.mkdir()
    for name in names:
        (site / name).write_text(CONFIG)
    assert _run(session_dir, tmp_path / "out", secret_file, site) != 0
    assert "needs exactly one" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
