"""Finalize as XNAT's Container Service does it: merge into the resource, ignore the glob, order.

XNAT source followed (container-service 3.7.3, xnat-web 1.8):
``ContainerFinalizeServiceImpl.uploadOutputs``/``uploadOutput``/``matchGlob`` and
``DefaultCatalogService.insertResources``/``createAndInsertResourceCatalog``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sarcoma_xnat.containers.command import Command, load_command
from sarcoma_xnat.containers.engines import InProcessEngine
from sarcoma_xnat.containers.finalize import store_outputs
from sarcoma_xnat.containers.resolve import resolve
from sarcoma_xnat.containers.runner import run_command
from sarcoma_xnat.errors import ContainerError, InputDataError
from sarcoma_xnat.fl.dataset import load_volumes
from sarcoma_xnat.steps.manifest import verified_files, write_manifest

ROOT = Path(__file__).resolve().parents[2]
PREPROCESS = ROOT / "xnat-commands" / "preprocess.json"


def _fake_result(folder: Path, seed: int, mask: bool) -> dict[str, bytes]:
    """Write a small preprocess-like result (NIfTI, provenance, manifest); return its bytes."""
    import nibabel as nib

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    shape = (8, 8, 8)
    for name in ("t1", "t2"):
        nib.save(nib.Nifti1Image(rng.normal(size=shape).astype(np.float32), np.eye(4)),
                 str(folder / f"{name}.nii.gz"))
    if mask:
        box = np.zeros(shape, np.uint8)
        box[2:5, 2:5, 2:5] = 1
        nib.save(nib.Nifti1Image(box, np.eye(4)), str(folder / "mask.nii.gz"))
    (folder / "provenance.json").write_text(json.dumps({"seed": seed}))
    write_manifest(folder, "preprocess", "test", f"inputs-{seed}")
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def _resource(archive: Any, session: Any) -> dict[str, bytes]:
    folder = archive.resource_path(session, "PREPROCESSED")
    return {p.name: p.read_bytes() for p in folder.iterdir()} if folder.is_dir() else {}


def test_rerun_merges_into_the_resource_and_readers_ignore_the_leftover(
        small_cohort: Any, tmp_path: Path) -> None:
    archive, manifest = small_cohort
    session = manifest.sessions[0]
    resolved = resolve(load_command(PREPROCESS), archive, session.uri, "sarcoma-preprocess-session")
    first = _fake_result(tmp_path / "run1" / "preprocessed", 1, mask=True)
    store_outputs(archive, resolved, {"out": tmp_path / "run1"})
    second = _fake_result(tmp_path / "run2" / "preprocessed", 2, mask=False)  # annotation removed
    store_outputs(archive, resolved, {"out": tmp_path / "run2"})
    stored = _resource(archive, session)
    # XNAT keeps the old mask beside the new files; same-named files are overwritten
    assert stored["mask.nii.gz"] == first["mask.nii.gz"]
    assert stored["t1.nii.gz"] == second["t1.nii.gz"] != first["t1.nii.gz"]
    assert stored["manifest.json"] == second["manifest.json"]
    folder = archive.resource_path(session, "PREPROCESSED")
    with pytest.raises(InputDataError, match="mask.nii.gz is missing.*left from an earlier run"):
        load_volumes(folder, session.session)
    assert set(verified_files(folder, ["t1.nii.gz", "t2.nii.gz"], "preprocess")) == \
        {"t1.nii.gz", "t2.nii.gz"}


def test_output_glob_is_ignored_like_xnat(small_cohort: Any, tmp_path: Path) -> None:
    archive, manifest = small_cohort
    session = manifest.sessions[0]
    command = load_command(PREPROCESS)
    command.data["outputs"][0]["glob"] = "*.nii.gz"
    resolved = resolve(command, archive, session.uri, "sarcoma-preprocess-session")
    written = _fake_result(tmp_path / "out" / "preprocessed", 3, mask=True)
    store_outputs(archive, resolved, {"out": tmp_path / "out"})
    assert sorted(_resource(archive, session)) == sorted(written)  # manifest.json too


def _two_outputs() -> Command:
    return Command({
        "name": "two", "image": "two:1", "command-line": "two",
        "mounts": [{"name": "out", "writable": True, "path": "/output"}],
        "outputs": [{"name": "a", "required": False, "mount": "out", "path": "a"},
                    {"name": "b", "required": True, "mount": "out", "path": "b"},
                    {"name": "c", "required": False, "mount": "out", "path": "c"}],
        "xnat": [{"name": "w", "contexts": ["xnat:imageSessionData"],
                  "external-inputs": [{"name": "session", "type": "Session", "required": True}],
                  "output-handlers": [
                      {"name": h, "accepts-command-output": h, "as-a-child-of": "session",
                       "type": "Resource", "label": h.upper()} for h in ("a", "b", "c")]}]})


def test_handlers_run_in_order_and_a_failed_required_one_keeps_the_others(
        small_cohort: Any, tmp_path: Path) -> None:
    archive, manifest = small_cohort
    session = manifest.sessions[0]
    resolved = resolve(_two_outputs(), archive, session.uri)
    out = tmp_path / "out"
    for name in ("a", "c"):
        (out / name).mkdir(parents=True)
        (out / name / f"{name}.txt").write_text(name)
    with pytest.raises(ContainerError, match=r"Failed \(Upload\).*required output 'b' is empty"):
        store_outputs(archive, resolved, {"out": out})
    labels = {r.label: r.files for r in archive.resources(session)}
    assert labels == {"A": ("a.txt",), "C": ("c.txt",)}  # XNAT keeps what was uploaded


def test_missing_optional_output_stores_nothing_and_is_no_error(small_cohort: Any,
                                                                tmp_path: Path) -> None:
    archive, manifest = small_cohort
    session = manifest.sessions[0]
    resolved = resolve(load_command(PREPROCESS), archive, session.uri, "sarcoma-preprocess-session")
    (tmp_path / "out").mkdir()
    assert store_outputs(archive, resolved, {"out": tmp_path / "out"}) == []
    assert "PREPROCESSED" not in {r.label for r in archive.resources(session)}


def test_a_failed_run_leaves_the_previous_result_usable(small_cohort: Any, tmp_path: Path) -> None:
    archive, manifest = small_cohort
    session = manifest.sessions[0]
    resolved = resolve(load_command(PREPROCESS), archive, session.uri, "sarcoma-preprocess-session")
    _fake_result(tmp_path / "run1" / "preprocessed", 4, mask=True)
    store_outputs(archive, resolved, {"out": tmp_path / "run1"})
    before = _resource(archive, session)
    with pytest.raises(ContainerError, match="exited with status 2; nothing was stored"):
        run_command(load_command(PREPROCESS), archive, session.uri, "sarcoma-preprocess-session",
                    {"size": "3"}, InProcessEngine())
    assert _resource(archive, session) == before
    t1, _, mask = load_volumes(archive.resource_path(session, "PREPROCESSED"), session.session)
    assert t1.shape == (8, 8, 8) and mask.sum() == 27
