"""Generate a synthetic sarcoma cohort into an archive.

All data made here is synthetic: anatomy, tumours, names and outcomes are drawn
from a seeded generator; the PHI in the headers is invented on purpose so that
de-identification can be tested. The same seed gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pydicom

from sarcoma_xnat.archive.base import Archive
from sarcoma_xnat.archive.local import LocalArchive
from sarcoma_xnat.archive.refs import ObjectRef, validate_label
from sarcoma_xnat.errors import ConfigurationError
from sarcoma_xnat.progress import progress
from sarcoma_xnat.synthetic.annotations import TUMOUR_LABEL, write_rtstruct, write_seg
from sarcoma_xnat.synthetic.clinical import draw_clinical, draw_outcomes, log_hazards
from sarcoma_xnat.synthetic.dicom_mr import SeriesSpec, StudyContext, deterministic_uid, write_mr_series
from sarcoma_xnat.synthetic.identity import random_identity
from sarcoma_xnat.synthetic.phantom import Phantom, random_phantom
from sarcoma_xnat.synthetic.series import PRESETS, AxialGrid, rasterize_tumour, render_series

__all__ = ["CohortManifest", "ROI_XSI_TYPE", "SCANS", "generate_cohort"]

ROI_XSI_TYPE = "icr:roiCollectionData"

#: scan id -> (series spec, XNAT scan type)
SCANS = {
    "1": (SeriesSpec("T1", 1, "T1 AX POST GD", "T1_AX_POST_GD", 550.0, 12.0, False), "T1_AX_POST"),
    "2": (SeriesSpec("T2", 2, "T2 AX FS", "T2_AX_FS", 4200.0, 85.0, True), "T2_AX_FS"),
}


@dataclass
class CohortManifest:
    """What :func:`generate_cohort` wrote: subjects, sessions, planted PHI and ground truth."""

    project: str
    seed: int
    preset: str
    subjects: list[str] = field(default_factory=list)
    sessions: list[ObjectRef] = field(default_factory=list)
    phi: dict[str, list[str]] = field(default_factory=dict)
    truth: dict[str, dict[str, Any]] = field(default_factory=dict)
    truth_dir: Path | None = None


def _grids(rng: np.random.Generator, phantom: Phantom, preset: str) -> tuple[AxialGrid, AxialGrid]:
    """Return the T1 grid and a T2 grid with another pixel size, slice spacing and centre."""
    p = PRESETS[preset]
    n = p["matrix"]
    tz = phantom.tumour_center[2]
    t1_pixel = round(float(rng.uniform(*p["t1_pixel"])), 4)
    t1_spacing = round(float(rng.uniform(*p["t1_spacing"])), 2)
    t1_slices = int(rng.integers(p["t1_slices"][0], p["t1_slices"][1] + 1))
    t1 = AxialGrid.centred(n, n, t1_pixel, t1_slices, t1_spacing,
                           (float(rng.uniform(-4, 4)), float(rng.uniform(-4, 4)), tz + float(rng.uniform(-5, 5))))
    t2_pixel = round(t1_pixel * float(rng.uniform(*p["t2_pixel_factor"])), 4)
    t2_spacing = round(float(rng.uniform(*p["t2_spacing"])), 2)
    t2_slices = max(int(round(t1_slices * t1_spacing / t2_spacing)) - 1, 8)
    t2 = AxialGrid.centred(n, n, t2_pixel, t2_slices, t2_spacing,
                           (float(rng.uniform(-8, 8)), float(rng.uniform(-8, 8)), tz + float(rng.uniform(-8, 8))))
    return t1, t2


def _write_subject(archive: Archive, project: str, index: int, seed: int, preset: str,
                   work: Path) -> tuple[str, ObjectRef, list[str], dict[str, Any]]:
    rng = np.random.default_rng([seed, index])
    subject = f"SYN{index:03d}"
    session = f"{subject}_MR1"
    phantom = random_phantom(rng)
    clinical = draw_clinical(rng, phantom)
    outcomes = draw_outcomes(rng, clinical)
    study_date = dt.date(2016, 1, 1) + dt.timedelta(days=int(rng.integers(0, 6 * 365)))
    identity = random_identity(rng, clinical.age, clinical.sex, study_date)
    seed_key = f"sarcoma-xnat-synth|{seed}|{index}"
    ctx = StudyContext(identity=identity, age_years=clinical.age,
                       height_m=float(rng.uniform(1.55, 1.95)), weight_kg=float(rng.uniform(50, 110)),
                       study_uid=deterministic_uid(seed_key, "study"),
                       frame_uid=deterministic_uid(seed_key, "frame"), study_date=study_date,
                       study_time=f"{int(rng.integers(7, 19)):02d}{int(rng.integers(0, 60)):02d}00",
                       seed_key=seed_key)
    t1_grid, t2_grid = _grids(rng, phantom, preset)

    subject_ref = ObjectRef(project, subject)
    session_ref = subject_ref.child(session=session)
    archive.create(subject_ref, "xnat:subjectData", fields={**clinical.values, **outcomes})
    archive.create(session_ref, "xnat:mrSessionData",
                   attrs={"UID": ctx.study_uid, "modality": "MR", "date": study_date.isoformat()})
    series_uids = {}
    t1_files: list[Path] = []
    for scan_id, grid in (("1", t1_grid), ("2", t2_grid)):
        spec, scan_type = SCANS[scan_id]
        pixels = render_series(phantom, spec.weighting, grid, rng)
        folder = work / subject / scan_id
        files = write_mr_series(folder, pixels, grid, spec, ctx)
        series_uids[scan_id] = deterministic_uid(seed_key, "series", spec.series_number)
        scan_ref = session_ref.child(scan=scan_id)
        archive.create(scan_ref, "xnat:mrScanData",
                       attrs={"type": scan_type, "series_description": spec.description,
                              "UID": series_uids[scan_id], "frames": grid.slices, "quality": "usable"})
        archive.store_resource(scan_ref, "DICOM", folder, format="DICOM", content="RAW")
        if scan_id == "1":
            t1_files = files

    sources = [pydicom.dcmread(p) for p in t1_files]  # written in slice order
    mask, polygons = rasterize_tumour(phantom, t1_grid)
    for kind, writer in (("SEG", write_seg), ("RTSTRUCT", write_rtstruct)):
        label = f"{session}_{kind}"
        folder = work / subject / kind
        folder.mkdir(parents=True)
        if kind == "SEG":
            written = writer(folder / f"{label}.dcm", sources, mask, ctx)
        else:
            written = writer(folder / f"{label}.dcm", sources, polygons, ctx)
        assessor_ref = session_ref.child(assessor=label)
        archive.create(assessor_ref, ROI_XSI_TYPE, attrs={
            "collectionType": kind, "name": TUMOUR_LABEL, "UID": str(written.SOPInstanceUID),
            "references": [series_uids["1"]], "imageSession_label": session,
            "date": study_date.isoformat()})
        archive.store_resource(assessor_ref, kind, folder, format="DICOM", content="EXTERNAL")

    eta_os, eta_dm = log_hazards(clinical)
    voxel_mm3 = t1_grid.pixel ** 2 * t1_grid.slice_spacing
    truth = {"os_log_hazard": round(eta_os, 6), "dm_log_hazard": round(eta_dm, 6),
             "necrotic_fraction": round(phantom.necrotic_fraction, 6),
             "heterogeneity": round(phantom.heterogeneity, 6),
             "tumour_volume_mm3": round(phantom.tumour_volume_mm3(), 1),
             "annotation_volume_mm3": round(float(mask.sum()) * voxel_mm3, 1),
             **{k: float(v) for k, v in outcomes.items()}}
    return subject, session_ref, identity.phi_values(), truth


def generate_cohort(archive: Archive, project: str = "SYNTH", n_subjects: int = 10,
                    seed: int = 0, preset: str = "standard",
                    truth_dir: str | Path | None = None) -> CohortManifest:
    """Write ``n_subjects`` synthetic subjects into ``project`` of ``archive``.

    Parameters
    ----------
    archive : Archive
        Destination; the project is created if missing. Existing subjects of the same
        labels are overwritten in place (same seed, same data).
    project : str
        Project ID.
    n_subjects : int
        Number of subjects (``SYN001`` ...).
    seed : int
        Seed; subject ``i`` depends only on ``(seed, i)``.
    preset : {"standard", "small"}
        ``standard`` is 256×256 in-plane with ~40 slices; ``small`` is a tiny variant
        for unit tests.
    truth_dir : path, optional
        Where the ground truth (true risks) and planted-PHI lists go; by default
        ``<archive root>/ground-truth`` for a :class:`LocalArchive`.
    """
    validate_label(project, "project")
    if preset not in PRESETS:
        raise ConfigurationError(f"unknown preset {preset!r}; expected one of {sorted(PRESETS)}")
    if n_subjects < 1:
        raise ConfigurationError(f"n_subjects must be at least 1, got {n_subjects}")
    if truth_dir is None:
        if not isinstance(archive, LocalArchive):
            raise ConfigurationError("truth_dir is required when the archive is not local")
        truth_dir = archive.root / "ground-truth"
    truth_dir = Path(truth_dir)
    archive.create(ObjectRef(project), "xnat:projectData",
                   attrs={"name": f"Synthetic sarcoma cohort (seed {seed})"})
    manifest = CohortManifest(project=project, seed=seed, preset=preset, truth_dir=truth_dir)
    with tempfile.TemporaryDirectory(prefix="sarcoma-synth-") as tmp:
        for index in progress(range(1, n_subjects + 1), desc="synthesizing subjects"):
            subject, session, phi, truth = _write_subject(archive, project, index, seed, preset,
                                                          Path(tmp))
            manifest.subjects.append(subject)
            manifest.sessions.append(session)
            manifest.phi[subject] = phi
            manifest.truth[subject] = truth
    truth_dir.mkdir(parents=True, exist_ok=True)
    (truth_dir / f"{project}-truth.json").write_text(
        json.dumps({"seed": seed, "preset": preset, "subjects": manifest.truth}, indent=2) + "\n")
    (truth_dir / f"{project}-phi.json").write_text(json.dumps(manifest.phi, indent=2) + "\n")
    return manifest
