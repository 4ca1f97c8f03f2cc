"""Store a finished container's outputs into the archive through the wrapper's handlers.

As XNAT's Container Service does after exit 0
(``NrgXnat/container-service:src/main/java/org/nrg/containers/services/impl/ContainerFinalizeServiceImpl.java``,
``uploadOutputs``/``uploadOutput``, release 3.7.3):

* handlers are processed in order, one by one; each output is what lies at its
  ``path`` in its mount — the top level of that folder, sub-folders whole. The
  output's ``glob`` is **ignored** (``matchGlob`` lists the folder whatever the glob);
* a ``Resource`` handler *adds* the files to the parent's resource of that label (the
  handler's ``label``, else the output's name): an existing resource is reused, same-named
  files are overwritten and the others stay (``insertResources`` →
  ``NrgXnat/xnat-web:src/main/java/org/nrg/xnat/services/archive/impl/legacy/DefaultCatalogService.java``
  ``createAndInsertResourceCatalog`` returns the existing catalog). Re-runs merge;
  readers rely on the step's manifest (:mod:`sarcoma_xnat.steps.manifest`);
* an ``Assessor`` handler creates the object from the one XML file found;
* nothing at ``path`` is an upload failure (``getFilesAsXnatResourceInfoMap`` throws
  ``FileNotFoundException``); an existing empty folder is not (an empty resource);
* a failing output that is ``required`` makes the container ``Failed (Upload)``, a
  failing optional one is only logged; either way the other handlers still run and
  what they stored stays. :func:`store_outputs` raises :class:`ContainerError`
  after the loop when a required output failed.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from sarcoma_xnat.archive.base import Archive
from sarcoma_xnat.archive.refs import ObjectRef
from sarcoma_xnat.containers.objects import XnatObject
from sarcoma_xnat.containers.resolve import ResolvedCommand, ResolvedOutput
from sarcoma_xnat.errors import ContainerError

__all__ = ["StoredOutput", "store_outputs"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredOutput:
    """What one handler stored: the object, and the resource label (None for an assessor)."""

    handler: str
    ref: ObjectRef
    label: str | None


def _files(root: Path, out: ResolvedOutput) -> tuple[Path, list[Path] | None]:
    """Return the base folder of an output and its files (relative), ``None`` when absent.

    The ``glob`` is not applied: XNAT's ``matchGlob`` ignores it.
    """
    source = root / out.path.strip("/") if out.path else root
    if source.is_file():
        return source.parent, [Path(source.name)]
    if not source.is_dir():
        return source, None
    return source, sorted(p.relative_to(source) for p in source.rglob("*") if p.is_file())


def _assessor_from_xml(xml: Path, parent: ObjectRef) -> tuple[ObjectRef, str, dict[str, str]]:
    """Read the label, xsiType and simple fields of an assessor XML document."""
    text = xml.read_text()
    tag = re.search(r"<\s*([A-Za-z_][\w.-]*:[A-Za-z_][\w.-]*)", re.sub(r"<\?.*?\?>", "", text))
    root = ET.fromstring(text)
    label = root.get("label") or root.get("ID")
    if not tag or not label:
        raise ContainerError(f"assessor XML {xml.name} needs a prefixed root element and a label")
    attrs = {child.tag.split("}")[-1]: (child.text or "").strip() for child in root
             if len(child) == 0 and (child.text or "").strip()}
    return parent.session_ref.child(assessor=label), tag.group(1), attrs


def _store_one(archive: Archive, resolved: ResolvedCommand, out: ResolvedOutput, base: Path,
               files: list[Path], created: dict[str, ObjectRef]) -> StoredOutput:
    """Store one output through its handler (merging into an existing resource)."""
    handler = out.handler
    htype = handler.get("type", "Resource")
    parent = created.get(out.parent)
    if parent is None:
        value = resolved.wrapper_values.get(out.parent)
        if not isinstance(value, XnatObject):
            raise ContainerError(f"handler {handler['name']!r}: no object for {out.parent!r}")
        parent = value.ref
    if htype == "Assessor":
        xml = [f for f in files if f.suffix == ".xml"]
        if len(files) != 1 or len(xml) != 1:
            raise ContainerError(f"output {out.name!r}: expecting precisely one xml file, "
                                 f"found {len(files)} files")
        ref, xsi_type, attrs = _assessor_from_xml(base / xml[0], parent)
        archive.create(ref, xsi_type, attrs=attrs)
        created[handler["name"]] = ref
        return StoredOutput(handler["name"], ref, None)
    if htype != "Resource":
        raise ContainerError(f"output handler type {htype!r} is not supported by the local runner")
    label = handler.get("label") or out.name
    with tempfile.TemporaryDirectory(prefix="sarcoma-xnat-upload-") as tmp:
        for rel in files:
            (Path(tmp) / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(base / rel, Path(tmp) / rel)
        archive.store_resource(parent, label, Path(tmp), format=handler.get("format"),
                               content=handler.get("content"), merge=True)
    created[handler["name"]] = parent
    return StoredOutput(handler["name"], parent, label)


def store_outputs(archive: Archive, resolved: ResolvedCommand,
                  mounts: dict[str, Path]) -> list[StoredOutput]:
    """Store each output through its handler, in order; return what was stored.

    Raises :class:`ContainerError` (XNAT: ``Failed (Upload)``) after trying every
    output when a required one could not be stored; what was stored stays.
    """
    stored: list[StoredOutput] = []
    created: dict[str, ObjectRef] = {}
    failures: list[str] = []
    for out in resolved.outputs:
        base, files = _files(mounts[out.mount], out)
        try:
            if files is None:
                raise ContainerError(f"required output {out.name!r} is empty: nothing at "
                                     f"{out.path or '/'} in mount {out.mount!r}" if out.required
                                     else f"optional output {out.name!r}: nothing at "
                                     f"{out.path or '/'} in mount {out.mount!r}")
            stored.append(_store_one(archive, resolved, out, base, files, created))
        except ContainerError as exc:
            if out.required:
                failures.append(exc.message)
            else:
                log.info("not stored (optional): %s", exc.message)
    if failures:
        kept = ", ".join(f"{s.handler}" for s in stored) or "nothing"
        raise ContainerError("Failed (Upload): " + "; ".join(failures) + f" (stored: {kept})")
    return stored
