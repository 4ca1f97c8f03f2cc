"""Checks on the folders a command reads and writes, made before any work starts.

A mistyped flag must never cost data. Every command that writes calls these first:

* :func:`check_input_folder` — the input exists, is a folder and is not empty;
* :func:`check_output_folder` — the output is not the input, does not contain it and
  does not lie inside it (symbolic links resolved); an existing non-empty output is
  replaced only when it is recognisably the suite's own (it holds ``provenance.json``
  or the marker file :data:`MARKER_FILE`); its nearest existing folder is writable;
* :func:`check_archive` — a local archive exists (or, for commands that create one,
  its parent exists and the folder is new, empty or already an archive);
* :func:`provisional_folder` — a folder made for a run that stored nothing is removed
  again, so that a failed ``ingest`` leaves no empty archive behind.

Messages name the option and the path (paths the user typed, not DICOM content).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from sarcoma_xnat.errors import ConfigurationError, InputDataError

__all__ = [
    "MARKER_FILE",
    "OWN_FILES",
    "check_archive",
    "check_input_folder",
    "check_output_folder",
    "check_writable",
    "is_archive",
    "is_own_folder",
    "mark_own_folder",
    "provisional_folder",
    "refuse_foreign_folder",
]

#: marker file the suite writes into folders it creates that hold no ``provenance.json``
MARKER_FILE = ".sarcoma-xnat.json"
#: files whose presence marks a folder as written by the suite
OWN_FILES = ("provenance.json", MARKER_FILE)

PathLike = str | os.PathLike[str]


def _resolve(path: PathLike) -> Path:
    return Path(path).expanduser().resolve()


def is_own_folder(path: PathLike) -> bool:
    """Return whether ``path`` holds ``provenance.json`` or the suite's marker file."""
    folder = Path(path)
    return any((folder / name).is_file() for name in OWN_FILES)


def is_archive(path: PathLike) -> bool:
    """Return whether ``path`` is a local archive (a folder with ``projects/``)."""
    return (Path(path) / "projects").is_dir()


def mark_own_folder(path: PathLike, kind: str) -> Path:
    """Create ``path`` if needed and write the marker that makes it the suite's own."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / MARKER_FILE
    if not marker.exists():
        marker.write_text(json.dumps({"written_by": "sarcoma-xnat", "kind": kind}) + "\n")
    return marker


def check_input_folder(path: PathLike, option: str = "--input") -> Path:
    """Return the resolved input folder; refuse one that is missing, not a folder or empty.

    Raises
    ------
    ConfigurationError
        When the folder does not exist or is a file.
    InputDataError
        When the folder is empty (nothing to process is an error, not "0 files").
    """
    folder = _resolve(path)
    if not folder.exists():
        raise ConfigurationError(f"{option} {folder} does not exist; check the path")
    if not folder.is_dir():
        raise ConfigurationError(f"{option} {folder} is a file; expected a folder")
    if not any(folder.iterdir()):
        raise InputDataError(f"{option} {folder} is empty: nothing to process")
    return folder


def check_writable(path: PathLike, option: str = "--output") -> Path:
    """Return the resolved ``path`` if it, or the nearest folder above it, is writable."""
    target = _resolve(path)
    existing = target
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigurationError(f"{option} {target}: {existing} is a file, not a folder")
    try:  # a real probe: permissions, read-only file systems, /proc and the like
        os.rmdir(tempfile.mkdtemp(prefix=".sarcoma-xnat-probe-", dir=existing))
    except OSError as exc:
        raise ConfigurationError(f"{option} {target}: cannot write to {existing} "
                                 f"({exc.strerror or exc}); choose another folder") from None
    return target


def refuse_foreign_folder(path: PathLike, option: str = "--output",
                          own: Callable[[Path], bool] = is_own_folder) -> None:
    """Refuse to replace ``path`` when it is a non-empty folder the suite did not write.

    ``own`` tells the suite's folders (default: :func:`is_own_folder`).
    """
    folder = Path(path)
    if folder.is_dir() and any(folder.iterdir()) and not own(folder):
        raise ConfigurationError(
            f"{option} {folder} is a folder with files that sarcoma-xnat did not write (no "
            f"{OWN_FILES[0]}); it would be replaced: give a new or empty folder")


def check_output_folder(path: PathLike, option: str = "--output",
                        inputs: Mapping[str, PathLike | None] | None = None,
                        replaces: bool = True,
                        own: Callable[[Path], bool] = is_own_folder) -> Path:
    """Return the resolved output folder after the checks of the module docstring.

    Parameters
    ----------
    path : path-like
        The output folder (it may not exist yet).
    option : str
        The option that named it, for messages.
    inputs : mapping, optional
        Option name -> folder the command reads (``None`` values are skipped).
    replaces : bool
        Whether the command replaces (or writes into) an existing folder; when true a
        non-empty folder must be the suite's own.
    own : callable
        Tells the suite's own folders (default: :func:`is_own_folder`).
    """
    out = _resolve(path)
    for name, value in (inputs or {}).items():
        if value is None:
            continue
        source = _resolve(value)
        if out == source:
            raise ConfigurationError(f"{option} {out} is the {name} folder: the output must be "
                                     "a different folder, outside the input")
        if source in out.parents:
            raise ConfigurationError(f"{option} {out} lies inside the {name} folder {source}: "
                                     "choose an output outside the input")
        if out in source.parents:
            raise ConfigurationError(f"{option} {out} contains the {name} folder {source}: "
                                     "it would be replaced; choose an output outside the input")
    if out.exists() and not out.is_dir():
        raise ConfigurationError(f"{option} {out} is a file; expected a folder")
    if replaces:
        refuse_foreign_folder(out, option, own)
    return check_writable(out, option)


def check_archive(path: PathLike, option: str = "--archive", create: bool = False) -> Path:
    """Return the resolved archive folder; refuse a typo rather than create a new archive.

    Without ``create`` the archive must exist (a folder with ``projects/``). With
    ``create`` (commands documented to make an archive: ``synth``, ``demo``,
    ``ingest``) the folder may be new — its parent must exist — or empty, or an archive.
    """
    root = _resolve(path)
    if root.exists():
        if not root.is_dir():
            raise ConfigurationError(f"{option} {root} is a file; expected an archive folder")
        if not is_archive(root) and (not create or any(root.iterdir())):
            raise ConfigurationError(f"{option} {root} is not a sarcoma-xnat archive (no "
                                     "projects/ folder); check the path")
    elif not create:
        raise ConfigurationError(f"{option} {root} does not exist; check the path (write an "
                                 "archive with 'sarcoma-xnat synth' or 'ingest')")
    elif not root.parent.is_dir():
        raise ConfigurationError(f"{option} {root}: the folder above it, {root.parent}, does "
                                 "not exist; check the path")
    return check_writable(root, option) if create else root


@contextlib.contextmanager
def provisional_folder(path: PathLike) -> Iterator[Path]:
    """Yield ``path``; if it did not exist before and holds no file afterwards, remove it."""
    folder = _resolve(path)
    existed = folder.exists()
    try:
        yield folder
    finally:
        if not existed and folder.is_dir() and not any(p.is_file() or p.is_symlink()
                                                       for p in folder.rglob("*")):
            shutil.rmtree(folder, ignore_errors=True)
