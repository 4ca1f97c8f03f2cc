"""Container Service commands: load, look up and locate the ``xnat-commands/*.json`` files.

A command is kept as the JSON object XNAT stores (a ``dict``), wrapped in
:class:`Command` for named look-ups; the JSON file stays the single source of truth.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sarcoma_xnat.errors import ConfigurationError

__all__ = ["Command", "PACKAGED_SUITE", "commands_dir", "find_command_file", "load_command",
           "project_root"]


@dataclass(frozen=True)
class Command:
    """One Container Service command (the parsed JSON) with look-up helpers.

    Attributes
    ----------
    data : dict
        The command JSON as XNAT stores it.
    source : str
        Where it came from (a file path or ``label:<image>``), for messages.
    """

    data: dict[str, Any]
    source: str = "<memory>"

    @property
    def name(self) -> str:
        """Return the command name."""
        return str(self.data.get("name", ""))

    @property
    def image(self) -> str:
        """Return the image reference, ``repo/name:tag``."""
        return str(self.data.get("image", ""))

    @property
    def mounts(self) -> dict[str, dict[str, Any]]:
        """Return mounts by name."""
        return {m["name"]: m for m in self.data.get("mounts", [])}

    @property
    def inputs(self) -> list[dict[str, Any]]:
        """Return the command inputs."""
        return list(self.data.get("inputs", []))

    @property
    def outputs(self) -> dict[str, dict[str, Any]]:
        """Return outputs by name."""
        return {o["name"]: o for o in self.data.get("outputs", [])}

    @property
    def wrappers(self) -> list[dict[str, Any]]:
        """Return the XNAT wrappers (the ``xnat`` list)."""
        return list(self.data.get("xnat", []))

    def wrapper(self, name: str | None = None) -> dict[str, Any]:
        """Return wrapper ``name``; without a name, the only wrapper (error if several)."""
        wrappers = self.wrappers
        if name is None:
            if len(wrappers) == 1:
                return wrappers[0]
            raise ConfigurationError(
                f"command {self.name!r} has {len(wrappers)} wrappers; name one of "
                f"{[w.get('name') for w in wrappers]}", file=self.source)
        for wrapper in wrappers:
            if wrapper.get("name") == name:
                return wrapper
        raise ConfigurationError(
            f"command {self.name!r} has no wrapper {name!r}; known: "
            f"{[w.get('name') for w in wrappers]}", file=self.source)


def load_command(source: str | os.PathLike[str] | Mapping[str, Any]) -> Command:
    """Load a command from a JSON file path, a JSON string, or a mapping (not validated)."""
    if isinstance(source, Mapping):
        return Command(dict(source))
    text = str(source)
    if text.lstrip().startswith("{"):
        data, origin = _parse(text, "<string>"), "<string>"
    else:
        path = Path(text)
        try:
            raw = path.read_text()
        except OSError as exc:
            raise ConfigurationError(f"cannot read command file: {exc.strerror}", file=path) from exc
        data, origin = _parse(raw, str(path)), str(path)
    if not isinstance(data, dict):
        raise ConfigurationError("a command must be a JSON object", file=origin)
    return Command(data, origin)


def _parse(text: str, origin: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"command is not valid JSON: {exc}", file=origin) from exc


#: where an installed wheel carries the repository's ``xnat-commands/`` and
#: ``containers/`` (copied there at build time by ``setup.py``; one source, no copies
#: in the repository)
PACKAGED_SUITE = Path(__file__).resolve().parents[1] / "_suite"


def project_root(start: str | os.PathLike[str] | None = None) -> Path:
    """Return the folder that holds ``xnat-commands/`` and ``containers/``.

    Looks at ``SARCOMA_XNAT_ROOT``, then upwards from ``start`` when given, then the
    checkout beside the package (a source tree or an editable install), then the
    copy packaged in an installed wheel (:data:`PACKAGED_SUITE`), and last upwards
    from the working directory.
    """
    candidates: list[Path] = []
    if os.environ.get("SARCOMA_XNAT_ROOT"):
        candidates.append(Path(os.environ["SARCOMA_XNAT_ROOT"]))
    if start is not None:
        here = Path(start).resolve()
        candidates += [here, *here.parents]
    cwd = Path.cwd().resolve()
    candidates += [Path(__file__).resolve().parents[2], PACKAGED_SUITE, cwd, *cwd.parents]
    for candidate in candidates:
        if (candidate / "xnat-commands").is_dir() and (candidate / "containers").is_dir():
            return candidate
    raise ConfigurationError(
        "cannot find the suite's xnat-commands/ and containers/ (neither packaged with this "
        "installation nor in a checkout); reinstall sarcoma-xnat or set SARCOMA_XNAT_ROOT "
        "to a checkout")


def commands_dir(root: str | os.PathLike[str] | None = None) -> Path:
    """Return the ``xnat-commands`` folder of the checkout."""
    return (Path(root) if root else project_root()) / "xnat-commands"


def find_command_file(name: str, root: str | os.PathLike[str] | None = None) -> Path:
    """Return the JSON file for a step name (``preprocess``) or command name, or a path as is."""
    path = Path(name)
    if path.suffix == ".json" or path.is_file():
        return path
    folder = commands_dir(root)
    direct = folder / f"{name}.json"
    if direct.is_file():
        return direct
    for candidate in sorted(folder.glob("*.json")):
        if load_command(candidate).name == name:
            return candidate
    raise ConfigurationError(f"no command {name!r} in {folder}")
