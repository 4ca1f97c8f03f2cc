"""The org.nrg.commands label: generated from the JSON files, parsed back unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sarcoma_xnat.cli import main
from sarcoma_xnat.containers.command import load_command
from sarcoma_xnat.containers.label import command_label, commands_from_label
from sarcoma_xnat.errors import ConfigurationError

ROOT = Path(__file__).resolve().parents[2]
COMMAND_FILES = sorted((ROOT / "xnat-commands").glob("*.json"))


@pytest.mark.parametrize("path", COMMAND_FILES, ids=[p.stem for p in COMMAND_FILES])
def test_label_round_trip(path: Path) -> None:
    label = command_label(load_command(path))
    parsed = json.loads(label)
    assert isinstance(parsed, list) and len(parsed) == 1  # XNAT wants a list, even for one
    assert parsed[0] == json.loads(path.read_text())
    assert commands_from_label(label)[0].data == json.loads(path.read_text())


def test_label_of_several_commands_is_one_list() -> None:
    commands = [load_command(p) for p in COMMAND_FILES]
    assert [c["name"] for c in json.loads(command_label(commands))] == [c.name for c in commands]


@pytest.mark.parametrize("value", [None, "", "{not json", '{"name": "x"}', "[1, 2]"])
def test_bad_labels_are_refused(value: str | None) -> None:
    with pytest.raises(ConfigurationError):
        commands_from_label(value, "img:1")


@pytest.mark.parametrize("path", COMMAND_FILES, ids=[p.stem for p in COMMAND_FILES])
def test_dockerfile_takes_the_label_from_the_build_not_a_copy(path: Path) -> None:
    dockerfile = (ROOT / "containers" / path.stem / "Dockerfile").read_text()
    assert 'org.nrg.commands="${COMMANDS_LABEL}"' in dockerfile
    assert load_command(path).data["command-line"] not in dockerfile  # no hand-synced copy


def test_cli_label(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["command", "label", str(COMMAND_FILES[0])]) == 0
    assert json.loads(capsys.readouterr().out) == [json.loads(COMMAND_FILES[0].read_text())]
