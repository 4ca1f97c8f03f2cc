"""The command validator: every shipped command passes; each XNAT rule has a command that breaks it."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sarcoma_xnat import __version__
from sarcoma_xnat.cli import main
from sarcoma_xnat.containers.command import load_command
from sarcoma_xnat.containers.validate import check_command, command_errors
from sarcoma_xnat.errors import CommandValidationError

ROOT = Path(__file__).resolve().parents[2]
COMMAND_FILES = sorted((ROOT / "xnat-commands").glob("*.json"))


def good() -> dict[str, Any]:
    """A small valid command written out by hand (the reference's scan-level example)."""
    return {
        "name": "n4-scan", "version": "1.0", "schema-version": "1.0", "type": "docker",
        "image": "registry.local/suite/n4:0.1.0", "command-line": "step --in /input #SHRINK#",
        "mounts": [{"name": "in", "writable": False, "path": "/input"},
                   {"name": "out", "writable": True, "path": "/output"}],
        "inputs": [{"name": "shrink", "type": "number", "default-value": "4",
                    "replacement-key": "#SHRINK#", "command-line-flag": "--shrink"},
                   {"name": "mode", "type": "select-one", "select-values": ["a", "b"],
                    "default-value": "a"}],
        "outputs": [{"name": "files", "required": True, "mount": "out"}],
        "xnat": [{
            "name": "n4-on-scan", "contexts": ["xnat:imageScanData"],
            "external-inputs": [{"name": "scan", "type": "Scan", "required": True}],
            "derived-inputs": [
                {"name": "dicom", "type": "Resource", "derived-from-wrapper-input": "scan",
                 "matcher": "@.label == 'DICOM'", "provides-files-for-command-mount": "in"},
                {"name": "scan-id", "type": "string", "derived-from-wrapper-input": "scan",
                 "derived-from-xnat-object-property": "id"}],
            "output-handlers": [{"name": "n4", "accepts-command-output": "files",
                                 "as-a-child-of": "scan", "type": "Resource", "label": "N4"}],
        }],
    }


def _w(cmd: dict[str, Any]) -> dict[str, Any]:
    return cmd["xnat"][0]


# (rule, how to break it, words the error must contain)
BREAKERS: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("name required", lambda c: c.update(name=" "), "Command name cannot be blank"),
    ("image required", lambda c: c.pop("image"), "image name cannot be blank"),
    ("image tagged", lambda c: c.update(image="suite/n4"), "must include version tag"),
    ("known type", lambda c: c.update(type="singularity"), "Known types"),
    ("visibility", lambda c: c.update(visibility="secret"), "visibility"),
    ("ulimit format", lambda c: c.update(ulimits={"nofile": "1:2:3"}), "ulimit format"),
    ("mount path", lambda c: c["mounts"][0].update(path=""), "path cannot be blank"),
    ("mount names unique", lambda c: c["mounts"][1].update(name="in"), "mount name \"in\" is not unique"),
    ("input name charset", lambda c: c["inputs"][0].update(name="shr ink"), "may contain only"),
    ("input type", lambda c: c["inputs"][0].update(type="integer"), "unknown type \"integer\""),
    ("input delimiter", lambda c: c["inputs"][0].update({"multiple-delimiter": "tab"}), "multiple-delimiter"),
    ("select needs values", lambda c: c["inputs"][1].pop("select-values"), "has no select-values"),
    ("values need select", lambda c: c["inputs"][0].update({"select-values": ["1"]}), "not a select type"),
    ("default in values", lambda c: c["inputs"][1].update({"default-value": "z"}), "not one of its select-values"),
    ("input names unique", lambda c: c["inputs"][1].update(name="shrink", type="string",
                                                           **{"select-values": []}), "input name \"shrink\" is not unique"),
    ("output mount exists", lambda c: c["outputs"][0].update(mount="nowhere"), "unknown mount \"nowhere\""),
    ("output name charset", lambda c: c["outputs"][0].update(name="my files"), "may contain only"),
    ("wrapper name", lambda c: _w(c).update(name=""), "wrapper name cannot be blank"),
    ("wrapper names unique", lambda c: c["xnat"].append(copy.deepcopy(_w(c))), "wrapper name \"n4-on-scan\" is not unique"),
    ("wrapper input type", lambda c: _w(c)["external-inputs"][0].update(type="xnat:imageScanData"), "unknown type"),
    ("setup command needs mount", lambda c: _w(c)["external-inputs"][0].update(
        {"via-setup-command": "a/b:1"}), "setup command"),
    ("wrapper input names unique", lambda c: _w(c)["derived-inputs"][1].update(name="dicom"), "is not unique"),
    ("derived from itself", lambda c: _w(c)["derived-inputs"][0].update(
        {"derived-from-wrapper-input": "dicom"}), "derived from itself"),
    ("derived from known input", lambda c: _w(c)["derived-inputs"][0].update(
        {"derived-from-wrapper-input": "session"}), "unknown XNAT input \"session\""),
    ("no values for select inputs", lambda c: _w(c)["derived-inputs"][1].update(
        {"provides-value-for-command-input": "mode"}), "which is a select type"),
    ("multiple cannot mount", lambda c: _w(c)["derived-inputs"][0].update(multiple=True), "cannot provide files"),
    ("handler output known", lambda c: _w(c)["output-handlers"][0].update(
        {"accepts-command-output": "nope"}), "unknown command output \"nope\""),
    ("every output handled", lambda c: c["outputs"].append(
        {"name": "extra", "mount": "out", "required": False}), "\"extra\" is not handled"),
    ("handler parent known", lambda c: _w(c)["output-handlers"][0].update(
        {"as-a-child-of": "session"}), "known wrapper input or output"),
    ("handler parent not a property", lambda c: _w(c)["output-handlers"][0].update(
        {"as-a-child-of": "scan-id"}), "a \"uri\" is required"),
    ("handler type", lambda c: _w(c)["output-handlers"][0].update(type="File"), "unknown type \"File\""),
    ("resource handler label", lambda c: _w(c)["output-handlers"][0].pop("label"), "must have a label"),
    ("handler names unique", lambda c: _w(c)["output-handlers"].append(
        dict(_w(c)["output-handlers"][0])), "handler name \"n4\" is not unique"),
    ("setup commands are bare", lambda c: c.update(type="docker-setup"), "cannot declare any mounts"),
    ("strict: unknown key", lambda c: c.update({"comand-line": "x"}), "unknown key \"comand-line\""),
    ("strict: booleans", lambda c: c["mounts"][0].update(writable="false"), "must be a JSON boolean"),
]


def test_the_hand_written_command_is_valid() -> None:
    assert command_errors(good()) == []


@pytest.mark.parametrize("rule, breaker, words", BREAKERS, ids=[b[0] for b in BREAKERS])
def test_each_rule_has_a_bad_command(rule: str, breaker: Callable[[dict[str, Any]], None],
                                     words: str) -> None:
    cmd = good()
    breaker(cmd)
    errors = command_errors(cmd)
    assert any(words in e for e in errors), errors


def test_all_errors_are_reported_at_once() -> None:
    cmd = good()
    cmd["image"] = "suite/n4"
    cmd["outputs"][0]["mount"] = "nowhere"
    _w(cmd)["output-handlers"][0].pop("label")
    with pytest.raises(CommandValidationError) as info:
        check_command(cmd)
    assert len(info.value.errors) == 3
    assert "3 problems" in str(info.value)


def test_lenient_mode_keeps_only_xnat_rules() -> None:
    cmd = good()
    cmd["mounts"][0]["writable"] = "false"
    assert command_errors(cmd, strict=False) == []


@pytest.mark.parametrize("path", COMMAND_FILES, ids=[p.stem for p in COMMAND_FILES])
def test_shipped_commands_are_valid(path: Path) -> None:
    command = load_command(path)
    assert command_errors(command) == []
    assert command.image == f"sarcoma-xnat/{path.stem}:{__version__}"


def test_shipped_commands_exist_for_the_steps() -> None:
    assert {p.stem for p in COMMAND_FILES} >= {"preprocess", "deid"}


def test_cli_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = good()
    bad["image"] = "suite/n4"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    assert main(["command", "validate", *map(str, COMMAND_FILES)]) == 0
    assert main(["command", "validate", str(path)]) == 2
    assert "must include version tag" in capsys.readouterr().out
