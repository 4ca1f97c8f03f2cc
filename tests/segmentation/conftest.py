"""Fixtures: a 5-subject synthetic cohort and a tiny bundle the suite trains on it (nothing downloaded)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("monai")

from sarcoma_xnat.archive import LocalArchive, ObjectRef  # noqa: E402
from sarcoma_xnat.synthetic import CohortManifest, generate_cohort  # noqa: E402

PROJECT = "SEGT"


@pytest.fixture(scope="session")
def trained_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, CohortManifest, dict]:
    """A cohort whose project holds model version 1, trained from scratch by ``segment train``."""
    import torch

    from sarcoma_xnat.segmentation.gate import train_gated

    torch.set_num_threads(2)
    root = tmp_path_factory.mktemp("seg-cohort")
    archive = LocalArchive(root)
    manifest = generate_cohort(archive, project=PROJECT, n_subjects=5, seed=11, preset="small")
    record = train_gated(archive, PROJECT, epochs=25, from_scratch=True, seed=0)
    return root, manifest, record


@pytest.fixture
def trained(trained_template: tuple[Path, CohortManifest, dict], tmp_path: Path
            ) -> Iterator[tuple[LocalArchive, CohortManifest, dict]]:
    """A private, writable copy of the trained cohort."""
    template, manifest, record = trained_template
    shutil.copytree(template, tmp_path / "archive")
    yield LocalArchive(tmp_path / "archive"), manifest, record


def _drop(archive: LocalArchive, session: ObjectRef) -> None:
    for assessor in archive.children(session, "assessor"):
        archive.delete(assessor.ref)


@pytest.fixture
def drop_annotations():
    """Return a function that removes a session's ROI collections (a session nobody annotated)."""
    return _drop
