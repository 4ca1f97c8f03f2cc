"""The ``org.nrg.commands`` image label: generated from the command JSON, parsed back.

XNAT reads the label as a JSON *list* of commands (even for one command) when an
image is pulled or saved, and overwrites the image name from the actual image.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from sarcoma_xnat.containers.command import Command
from sarcoma_xnat.errors import ConfigurationError

__all__ = ["LABEL_KEY", "command_label", "commands_from_label"]

LABEL_KEY = "org.nrg.commands"


def command_label(commands: Command | Mapping[str, Any] | Iterable[Command | Mapping[str, Any]]) -> str:
    """Return the label value for one or several commands: compact JSON, one list."""
    if isinstance(commands, (Command, Mapping)):
        commands = [commands]
    items = [c.data if isinstance(c, Command) else dict(c) for c in commands]
    return json.dumps(items, separators=(",", ":"), ensure_ascii=False)


def commands_from_label(value: str | None, image: str = "<image>") -> list[Command]:
    """Parse a label value back into commands; an absent or bad label is an error."""
    if not value:
        raise ConfigurationError(f"image {image} has no {LABEL_KEY} label")
    try:
        items = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"{LABEL_KEY} label of {image} is not JSON: {exc}") from exc
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ConfigurationError(f"{LABEL_KEY} label of {image} must be a JSON list of commands")
    return [Command(item, f"label:{image}") for item in items]
