"""Synthetic sites for a clinical-only job are not preprocessed (the job reads no images)."""

from __future__ import annotations

from pathlib import Path

from sarcoma_xnat.archive.local import LocalArchive
from sarcoma_xnat.archive.refs import ObjectRef
from sarcoma_xnat.fl.dataset import load_cohort
from sarcoma_xnat.fl.synthetic_sites import make_synthetic_sites
from sarcoma_xnat.steps.preprocess import RESOURCE_LABEL


def _preprocessed(site) -> int:
    archive = LocalArchive(site.archive)
    return sum(RESOURCE_LABEL in {r.label for r in archive.resources(session.ref)}
               for subject in archive.children(ObjectRef(site.project), "subject")
               for session in archive.children(subject.ref, "session"))


def test_clinical_sites_skip_preprocessing_and_still_load(tmp_path: Path) -> None:
    sites, server = make_synthetic_sites(tmp_path, 1, 5, preprocess=False)
    assert [_preprocessed(s) for s in (*sites, server)] == [0, 0]
    cohort = load_cohort(LocalArchive(sites[0].archive), sites[0].project, image_size=None)
    assert len(cohort.data) == 5
