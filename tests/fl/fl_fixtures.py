"""Helpers that write small curated site archives (preprocess-style resources, 24³ volumes).

Each subject has the 11 clinical fields, outcomes drawn from a known hazard that
depends on grade, metastases and an image-only "necrotic core" (bright on T2, dark on
T1), and a ``PREPROCESSED`` session resource with t1/t2/mask NIfTI files. All data
is synthetic and made here; nothing is downloaded.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np

from sarcoma_xnat.archive import LocalArchive, ObjectRef
from sarcoma_xnat.steps.manifest import write_manifest

SIZE = 24


def _volumes(rng: np.random.Generator, necrosis: float) -> dict[str, np.ndarray]:
    z, y, x = np.mgrid[:SIZE, :SIZE, :SIZE] - SIZE / 2 + 0.5
    r = np.sqrt(x * x + y * y + z * z)
    radius = rng.uniform(5.0, 8.0)
    tumour = r < radius
    core = r < radius * necrosis ** (1 / 3)
    t1 = rng.normal(0, 0.3, r.shape) + 0.5 * tumour - 1.5 * core
    t2 = rng.normal(0, 0.3, r.shape) + 1.0 * tumour + 1.5 * core
    return {"t1": t1.astype(np.float32), "t2": t2.astype(np.float32),
            "mask": tumour.astype(np.uint8)}


def write_subject(archive: LocalArchive, project: str, label: str, rng: np.random.Generator,
                  with_images: bool = True, drop_field: str | None = None,
                  empty_mask: bool = False) -> float:
    """Write one subject + session (+ PREPROCESSED resource); return its true OS log-hazard."""
    import nibabel as nib

    grade = int(rng.choice([1, 2, 3]))
    mets = rng.random() < 0.15
    necrosis = float(rng.uniform(0.05, 0.6))
    eta = 0.8 * (grade - 2) + 1.0 * mets + 2.5 * (necrosis - 0.3)
    t_os = rng.exponential(60.0 * math.exp(-eta))
    t_dm = rng.exponential(50.0 * math.exp(-eta))
    follow = rng.uniform(20.0, 100.0)
    fields = {"age": str(int(rng.integers(20, 85))), "sex": str(rng.choice(["M", "F"])),
              "tumour_location": "thigh", "diagnosis": "UPS", "neoadjuvant_chemo": "no",
              "tumour_size_cm": "8.5", "tumour_volume_cm3": "150", "tumour_depth": "deep",
              "tumour_grade": str(grade), "metastases_at_presentation": "yes" if mets else "no",
              "radiotherapy": "adjuvant",
              "os_months": f"{min(t_os, follow):.1f}", "os_event": str(int(t_os <= follow)),
              "dm_months": f"{min(t_dm, t_os, follow):.1f}",
              "dm_event": str(int(t_dm <= min(t_os, follow)))}
    if drop_field:
        fields.pop(drop_field)
    subject = ObjectRef(project, label)
    archive.create(subject, "xnat:subjectData", fields=fields)
    session = subject.child(session=f"{label}_MR1")
    archive.create(session, "xnat:mrSessionData")
    if with_images:
        vols = _volumes(rng, necrosis)
        if empty_mask:
            vols["mask"][:] = 0
        with tempfile.TemporaryDirectory() as tmp:
            for name, data in vols.items():
                nib.save(nib.Nifti1Image(data, np.eye(4)), str(Path(tmp) / f"{name}.nii.gz"))
            write_manifest(tmp, "preprocess", "synthetic", label)  # readers check it
            archive.store_resource(session, "PREPROCESSED", Path(tmp), format="NIFTI")
    return eta


def make_site(root: Path, project: str, n: int, seed: int, broken: bool = False) -> LocalArchive:
    """Write a site archive with ``n`` curated subjects (plus three broken ones if asked)."""
    archive = LocalArchive(root)
    archive.create(ObjectRef(project), "xnat:projectData")
    rng = np.random.default_rng(seed)
    for i in range(1, n + 1):
        write_subject(archive, project, f"{project}{i:03d}", rng)
    if broken:
        write_subject(archive, project, "BROKEN1", rng, with_images=False)
        write_subject(archive, project, "BROKEN2", rng, drop_field="tumour_grade")
        write_subject(archive, project, "BROKEN3", rng, empty_mask=True)
    return archive
