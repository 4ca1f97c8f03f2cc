"""Fixtures of the FL and model tests: a small curated site archive (see ``fl_fixtures``)."""

from __future__ import annotations

import pytest
from fl_fixtures import make_site

from sarcoma_xnat.archive import LocalArchive


@pytest.fixture(scope="session")
def curated_site(tmp_path_factory: pytest.TempPathFactory) -> LocalArchive:
    """A read-only site archive, project SITEA: 48 curated subjects and 3 broken ones."""
    return make_site(tmp_path_factory.mktemp("site-a"), "SITEA", 48, seed=1, broken=True)
