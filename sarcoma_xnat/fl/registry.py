"""A project's prognosis models: every published ``model.pt`` kept with its model card, one current.

The project resource :data:`RESOURCE_LABEL` is a versioned resource
(:mod:`sarcoma_xnat.archive.versions`): ``registry.json`` and one folder per version
holding ``model.pt``, ``model_card.json``, ``model_card.md`` and ``model_card.html``.
``sarcoma-xnat model publish`` adds a version, ``model use`` changes which one is
current (every version is kept), and ``prognosis`` uses the current one when no model
is given: the Container Service mounts the resource at ``/model``
(``NrgXnat/container-service:src/main/java/org/nrg/containers/services/impl/CommandResolutionServiceImpl.java``
resolves a project ``Resource`` derived input into a mount), where
:func:`resolve_model` picks the current version. A resource with only ``model.pt`` at
its top (uploaded by hand, before versions) is used as an unversioned model.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sarcoma_xnat.archive import versions
from sarcoma_xnat.archive.base import Archive
from sarcoma_xnat.errors import ConfigurationError, ModelError

__all__ = ["MODEL_FILE", "RESOURCE_LABEL", "SPEC", "ResolvedModel", "fetch_models", "publish_model",
           "read_registry", "resolve_model", "use_model"]

RESOURCE_LABEL = "PROGNOSIS_MODEL"
MODEL_FILE = "model.pt"
#: the project resource of prognosis models
SPEC = versions.VersionedResource(
    label=RESOURCE_LABEL, kind="prognosis model", format="PYTORCH", content="PROGNOSIS_MODEL",
    hint="publish one with 'sarcoma-xnat model publish --project P --model model.pt'")
read_registry = versions.read_registry


@dataclass(frozen=True)
class ResolvedModel:
    """The model file chosen, with the version it is (None for a bare file) and its checksum."""

    path: Path
    version: str | None
    sha256: str


def _sha256(path: Path) -> str:
    from sarcoma_xnat.steps.base import file_sha256

    return file_sha256(path)


def resolve_model(location: str | os.PathLike[str], version: str | None = None) -> ResolvedModel:
    """Return the model at ``location``: a ``model.pt``, or a models folder's current (or given) version.

    Raises
    ------
    ConfigurationError
        When the folder holds no model, or no such version.
    ModelError
        When a version's file does not match the checksum the registry recorded.
    """
    root = Path(location)
    if root.is_file():
        if version is not None:
            raise ConfigurationError("a version can be chosen only in a models folder, not with a "
                                     f"model file ({root.name})")
        return ResolvedModel(root, None, _sha256(root))
    if (root / versions.REGISTRY_FILE).is_file() or version is not None:
        folder, chosen = versions.version_dir(root, SPEC, version)
        path = folder / MODEL_FILE
        entry = next(v for v in read_registry(root)["versions"] if str(v["version"]) == chosen)
        sha = _sha256(path) if path.is_file() else None
        if sha is None or sha != entry.get("sha256"):
            raise ModelError(f"prognosis model version {chosen} does not match the checksum in "
                             f"{versions.REGISTRY_FILE} ({'missing' if sha is None else 'changed'} "
                             f"{MODEL_FILE}): publish it again", file=str(path))
        return ResolvedModel(path, chosen, sha)
    if (root / MODEL_FILE).is_file():
        return ResolvedModel(root / MODEL_FILE, None, _sha256(root / MODEL_FILE))
    raise ConfigurationError(f"no prognosis model in {root} (neither {versions.REGISTRY_FILE} nor "
                             f"{MODEL_FILE}): {SPEC.hint}", file=str(root))


def fetch_models(archive: Archive, project: str, dest: str | os.PathLike[str]) -> Path:
    """Copy the project's prognosis models into ``dest`` (an empty registry when there are none)."""
    return versions.fetch_versions(archive, project, SPEC, dest)


def _record(card: dict[str, Any], sha: str, note: str | None) -> dict[str, Any]:
    m = card.get("model", {})
    metrics = card.get("metrics") or {}
    os_c = (metrics.get("os") or {}).get("harrell_c") if isinstance(metrics.get("os"), dict) else None
    return {"sha256": sha, "mode": m.get("mode"), "preset": m.get("preset"),
            "federated": m.get("federated"), "encoding_version": m.get("encoding_version"),
            "card_created_utc": card.get("created_utc"), "test_os_harrell_c": os_c,
            "note": note or ""}


def publish_model(archive: Archive, project: str, model_file: str | os.PathLike[str],
                  make_current: bool = True, note: str | None = None) -> dict[str, Any]:
    """Publish ``model_file`` with its model card as the next version; return the registry.

    The card (``model_card.json`` beside the model, written by ``model train`` or
    ``fl export``) must describe this very file (same sha256); its HTML page is made
    when absent. A file already published is refused (name its version with ``model use``).
    """
    import json

    from sarcoma_xnat.fl.checkpoint import check_private, load_checkpoint
    from sarcoma_xnat.fl.model_card import CARD_HTML, CARD_JSON, CARD_MD, write_html

    model_file = Path(model_file)
    _, meta = load_checkpoint(model_file)  # refuses what prognosis could not load
    check_private(meta)  # a format-1 file with per-subject data is never published
    sha = _sha256(model_file)
    card_path = model_file.with_name(CARD_JSON)
    if not card_path.is_file():
        raise ConfigurationError(f"no {CARD_JSON} beside {model_file.name}: every published version "
                                 "keeps its model card (written by 'model train' and 'fl export')",
                                 file=str(model_file))
    card = json.loads(card_path.read_text())
    if card.get("model", {}).get("sha256") != sha:
        raise ConfigurationError(f"{CARD_JSON} describes another file (sha256 "
                                 f"{str(card.get('model', {}).get('sha256'))[:12]}, {model_file.name} "
                                 f"is {sha[:12]}): write the card again", file=str(card_path))
    with tempfile.TemporaryDirectory(prefix="sarcoma-publish-") as tmp:
        registry = read_registry(fetch_models(archive, project, Path(tmp) / "old"))
        same = [str(v["version"]) for v in registry["versions"] if v.get("sha256") == sha]
        if same:
            raise ConfigurationError(f"{model_file.name} is published already as version {same[0]} "
                                     f"of project {project}; 'model use {same[0]}' makes it current",
                                     project=project)
        stage = Path(tmp) / "version"
        stage.mkdir()
        shutil.copy2(model_file, stage / MODEL_FILE)
        shutil.copy2(card_path, stage / CARD_JSON)
        for name in (CARD_MD, CARD_HTML):
            if model_file.with_name(name).is_file():
                shutil.copy2(model_file.with_name(name), stage / name)
        if not (stage / CARD_HTML).is_file():
            evaluated = any(isinstance(v, dict) and "harrell_c" in v
                            for v in (card.get("metrics") or {}).values())
            write_html(card, model_file.parent if evaluated else None, stage / CARD_HTML)
        return versions.publish_version(archive, project, SPEC, stage, _record(card, sha, note),
                                        make_current)


def use_model(archive: Archive, project: str, version: str) -> dict[str, Any]:
    """Make ``version`` the project's current prognosis model; every version is kept."""
    return versions.use_version(archive, project, SPEC, version)
