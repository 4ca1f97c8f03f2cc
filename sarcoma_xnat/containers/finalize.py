"""Store a finished container's outputs into the archive through the wrapper's handlers.

As XNAT's Container Service does after exit 0: handlers are processed in order, each
output is the files at ``path`` (filtered by ``glob``) in its mount, and it is stored
as a resource on the wrapper input (or earlier handler) named by ``as-a-child-of``,
or, for an ``Assessor`` handler, created from the one XML file found. Every output
is checked before anything is stored, so a missing required output stores nothing.
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class StoredOutput:
    """What one handler stored: the object, and the resource label (None for an assessor)."""

    handler: str
    ref: ObjectRef
    label: str | None


def _files(root: Path, out: ResolvedOutput) -> tuple[Path, list[Path]]:
    """Return the base folder of an output and the files it uploads (relative to the base)."""
    source = root / out.path.strip("/") if out.path else root
    if source.is_file():
        return source.parent, [Path(source.name)]
    if not source.is_dir():
        return source, []
    found = source.glob(out.glob) if out.glob else source.rglob("*")
    return source, sorted(p.relative_to(source) for p in found if p.is_file())


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


def store_outputs(archive: Archive, resolved: ResolvedCommand,
                  mounts: dict[str, Path]) -> list[StoredOutput]:
    """Check every output, then store each through its handler; return what was stored."""
    plans = []
    for out in resolved.outputs:
        base, files = _files(mounts[out.mount], out)
        htype = out.handler.get("type", "Resource")
        if htype == "Assessor":
            files = [f for f in files if f.suffix == ".xml"]
            if len(files) != 1 and (files or out.required):
                raise ContainerError(f"output {out.name!r}: expecting precisely one xml file, "
                                     f"found {len(files)}; nothing stored")
        elif htype != "Resource":
            raise ContainerError(f"output handler type {htype!r} is not supported by the local runner")
        if not files and out.required:
            raise ContainerError(f"required output {out.name!r} is empty (nothing at "
                                 f"{out.path or '/'} in mount {out.mount!r}); nothing stored")
        plans.append((out, base, files))
    created: dict[str, ObjectRef] = {}
    stored = []
    for out, base, files in plans:
        if not files:
            continue
        handler = out.handler
        parent = created.get(out.parent)
        if parent is None:
            value = resolved.wrapper_values.get(out.parent)
            if not isinstance(value, XnatObject):
                raise ContainerError(f"handler {handler['name']!r}: no object for {out.parent!r}")
            parent = value.ref
        if handler.get("type", "Resource") == "Assessor":
            ref, xsi_type, attrs = _assessor_from_xml(base / files[0], parent)
            archive.create(ref, xsi_type, attrs=attrs)
            created[handler["name"]] = ref
            stored.append(StoredOutput(handler["name"], ref, None))
            continue
        with tempfile.TemporaryDirectory(prefix="sarcoma-xnat-upload-") as tmp:
            for rel in files:
                (Path(tmp) / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(base / rel, Path(tmp) / rel)
            archive.store_resource(parent, handler["label"], Path(tmp),
                                   format=handler.get("format"), content=handler.get("content"))
        created[handler["name"]] = parent
        stored.append(StoredOutput(handler["name"], parent, handler["label"]))
    return stored
