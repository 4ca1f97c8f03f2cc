"""Fixtures for the de-identification tests: a site key and a staged synthetic session."""

from __future__ import annotations

from pathlib import Path

import pytest

from sarcoma_xnat.archive import LocalArchive, ObjectRef
from sarcoma_xnat.deid import Deidentifier, SiteKey
from sarcoma_xnat.steps.base import stage_session
from sarcoma_xnat.synthetic import CohortManifest

SECRET = b"test-site-secret-0123456789abcdef"


@pytest.fixture
def key() -> SiteKey:
    """The test site's key."""
    return SiteKey(SECRET)


@pytest.fixture
def deidentifier(key: SiteKey) -> Deidentifier:
    """An engine with the study's default options."""
    return Deidentifier(key)


@pytest.fixture
def phi(small_cohort_template: tuple[Path, CohortManifest]) -> list[str]:
    """Every PHI value the generator planted in the small cohort."""
    return sorted({v for values in small_cohort_template[1].phi.values() for v in values})


@pytest.fixture
def session_dir(small_cohort_template: tuple[Path, CohortManifest], tmp_path: Path) -> Path:
    """The first subject's session, staged in the Container Service layout."""
    root, manifest = small_cohort_template
    session = manifest.sessions[0]
    return stage_session(LocalArchive(root), session, tmp_path / "input")


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    """A file holding the test site's secret."""
    path = tmp_path / "site.secret"
    path.write_bytes(SECRET + b"\n")
    return path


def first_session(manifest: CohortManifest) -> ObjectRef:
    """Return the first session of a manifest."""
    return manifest.sessions[0]
