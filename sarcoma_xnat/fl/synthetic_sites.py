"""Synthetic hospitals for simulator and POC runs: one local archive per site, really preprocessed.

Each site gets its own synthetic cohort (own seed, own project) that goes through the
real ``preprocess`` step (tumour-centred box grid, to keep CPU time down); the server
gets a separate validation cohort.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sarcoma_xnat.fl.site import SERVER_SITE, SiteConfig

__all__ = ["FAST_PREPROCESS", "make_synthetic_sites", "preprocess_project"]

log = logging.getLogger(__name__)

#: preprocess settings for CPU runs: 64³ box around the tumour, shorter N4
FAST_PREPROCESS = {"grid": "box", "size": 64, "n4_iterations": (20, 20)}


def preprocess_project(archive, project: str, params: dict | None = None) -> list[str]:
    """Run ``preprocess`` on every session of ``project`` that lacks its output; return failures."""
    from sarcoma_xnat.archive.refs import ObjectRef
    from sarcoma_xnat.errors import SarcomaXnatError
    from sarcoma_xnat.steps.preprocess import RESOURCE_LABEL, run_on_archive

    failed = []
    for subject in archive.children(ObjectRef(project), "subject"):
        for session in archive.children(subject.ref, "session"):
            if RESOURCE_LABEL in {r.label for r in archive.resources(session.ref)}:
                continue
            try:
                run_on_archive(archive, session.ref, params or FAST_PREPROCESS)
            except SarcomaXnatError as exc:
                failed.append(f"{session.label}: {exc}")
                log.warning("preprocess failed for %s: %s", session.label, exc)
    return failed


def make_synthetic_sites(root: Path, n_sites: int, n_subjects: int, seed: int = 100,
                         preprocess: bool = True) -> tuple[list[SiteConfig], SiteConfig]:
    """Create (or reuse) ``n_sites`` site archives and a server validation archive under ``root``.

    ``preprocess=False`` (a clinical-only job, which reads no images) skips the minutes of N4;
    a later image job on the same folder preprocesses what is missing.
    """
    from sarcoma_xnat.archive.local import LocalArchive
    from sarcoma_xnat.archive.refs import ObjectRef
    from sarcoma_xnat.synthetic import generate_cohort

    sites = []
    names = [f"site-{i}" for i in range(1, n_sites + 1)] + [SERVER_SITE]
    for i, name in enumerate(names):
        project = f"SITE{i + 1}" if name != SERVER_SITE else "VALIDATION"
        folder = Path(root) / name
        archive = LocalArchive(folder)
        if not archive.exists(ObjectRef(project)) or \
                len(archive.children(ObjectRef(project), "subject")) < n_subjects:
            generate_cohort(archive, project=project, n_subjects=n_subjects, seed=seed + i,
                            preset="small")
        if preprocess:
            preprocess_project(archive, project)
        sites.append(SiteConfig(name, str(folder), project))
    return sites[:-1], sites[-1]
