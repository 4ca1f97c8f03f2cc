"""Container Service commands, their validation and labels, and the local runner.

``xnat-commands/<step>.json`` is the single source of truth for how XNAT runs a step;
this package checks those files the way XNAT does, generates the image label from
them, and runs them locally exactly as XNAT would: through the Docker API (Docker or
a private Podman service), or in-process when no engine is available.
"""

from sarcoma_xnat.containers.command import Command, find_command_file, load_command
from sarcoma_xnat.containers.engines import DockerEngine, InProcessEngine, LaunchSpec, docker_url
from sarcoma_xnat.containers.label import LABEL_KEY, command_label, commands_from_label
from sarcoma_xnat.containers.resolve import ResolvedCommand, resolve
from sarcoma_xnat.containers.runner import (
    RunResult,
    available_engine,
    open_engine,
    run_command,
    run_step,
)
from sarcoma_xnat.containers.validate import check_command, command_errors

__all__ = [
    "Command",
    "DockerEngine",
    "InProcessEngine",
    "LABEL_KEY",
    "LaunchSpec",
    "ResolvedCommand",
    "RunResult",
    "available_engine",
    "check_command",
    "command_errors",
    "command_label",
    "commands_from_label",
    "docker_url",
    "find_command_file",
    "load_command",
    "open_engine",
    "resolve",
    "run_command",
    "run_step",
]
