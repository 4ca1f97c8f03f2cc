"""A private, writable copy of a startup kit that arrives read-only (a Container Service mount).

The ``fl-client`` command (``xnat-commands/fl-client.json``) gets the site's startup kit
from the project resource ``FL_KIT``, which the Container Service mounts **read-only**:
an input mount is the resource's archive directory itself, mounted directly
(``NrgXnat/container-service:src/main/java/org/nrg/containers/services/impl/CommandResolutionServiceImpl.java``
``resolveCommandMount``; mount options in
``NrgXnat/container-service:src/main/java/org/nrg/containers/api/DockerControlApi.java``).
Two consequences:

* the files are as readable as they are in the archive: the container user can read
  them only if the archive files are readable by that uid (the docker server's
  ``container-user`` setting, else the image's ``USER``), which in practice means
  readable by others on the XNAT host — and every project member who may read project
  resources can download ``client.key`` through the REST API. That is the trade-off of
  launching a site's client from XNAT; a site that cannot accept it runs
  ``sarcoma-xnat fl client`` as a host service instead (``terraform/modules/nvflare_*``);
* NVFlare writes into its kit (``local/``, the run folders) and the client refuses a
  private key readable by others, so the kit cannot be used in place.

:func:`private_copy` therefore copies the kit into a fresh folder of the container's own
file system (mode 0700, every file 0600, scripts 0700), which disappears with the
container; the key is never written back to the archive.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

from sarcoma_xnat.errors import ConfigurationError

__all__ = ["private_copy"]

_SKIP = ("_catalog.xml",)  # XNAT's catalog of the resource folder (xnat-web DefaultCatalogService)


def _kit_root(source: Path) -> Path:
    """Return the kit folder inside ``source`` (the mount root, or its one subfolder holding ``startup/``)."""
    if (source / "startup").is_dir():
        return source
    nested = [p for p in source.iterdir() if p.is_dir() and (p / "startup").is_dir()]
    if len(nested) == 1:
        return nested[0]
    raise ConfigurationError(f"{source} holds no startup kit (a folder with startup/); upload the "
                             "site's kit folder to the project resource FL_KIT", file=str(source))


def private_copy(source: str | os.PathLike[str], parent: str | os.PathLike[str] | None = None) -> Path:
    """Copy the kit in ``source`` into a new private folder under ``parent``; return the copy.

    Folders are mode 0700, files 0600 (shell scripts 0700). XNAT's ``*_catalog.xml`` files
    are left out.
    """
    root = _kit_root(Path(source))
    dest = Path(tempfile.mkdtemp(prefix="sarcoma-fl-kit-", dir=parent)) / root.name
    dest.mkdir(mode=0o700)
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        target = dest / rel
        if path.is_dir():
            target.mkdir(mode=0o700, exist_ok=True)
            target.chmod(0o700)
        elif path.is_file() and not path.name.endswith(_SKIP):
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            target.chmod(stat.S_IRWXU if path.suffix == ".sh" else 0o600)
    dest.parent.chmod(0o700)
    return dest
