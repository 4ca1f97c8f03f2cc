"""FAIR export of a project's curated cohort: images and masks, tables, and a JSON-LD description.

The curated cohort is every session of the project whose ``PREPROCESSED`` resource
holds a tumour mask and an intact manifest. The export folder::

    images/<subject>/<session>/grid/{t1,t2,mask}.{nii.gz,nrrd}          128^3 model grid
    images/<subject>/<session>/native/{t1_n4,t2_n4,mask_t1}.{nii.gz,nrrd} T1/T2 own grids
    manifest.csv      one row per image file: subject, session, role, grid, format, path,
                      sha256, size, and the archive file it came from with its sha256
    clinical.csv      the clinical table of the exported subjects (as ``clinical export``)
    measurements.csv  tumour volume and diameters per session
    radiomics.csv     PyRadiomics features per session and channel (sessions with RADIOMICS)
    dataset.jsonld    schema.org Dataset: licence, creator, every file with its checksum
                      and provenance (the step run and parameters), software versions
    .sarcoma-xnat.json  marker: the folder is the suite's (so a re-export may replace it)

Nothing in it depends on the time or the machine: the same archive gives the same
bytes (NIfTI files are copied as stored; NRRD is written by SimpleITK with gzip,
whose header carries no time; tables and JSON are sorted).
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import SimpleITK as sitk

from sarcoma_xnat.archive.base import Archive
from sarcoma_xnat.archive.refs import ObjectRef
from sarcoma_xnat.errors import InputDataError
from sarcoma_xnat.paths import mark_own_folder
from sarcoma_xnat.steps.base import atomic_output, file_sha256
from sarcoma_xnat.steps.manifest import read_manifest, verified_files

__all__ = ["ExportReport", "FORMATS", "export_cohort"]

#: image formats written, with their file extensions
FORMATS = {"nifti": ".nii.gz", "nrrd": ".nrrd"}
_IMAGES = {"grid": ("t1", "t2", "mask"), "native": ("t1_n4", "t2_n4", "mask_t1")}
_MEASURES = ("volume_mm3", "longest_diameter_mm", "longest_axial_diameter_mm", "voxel_count")


@dataclass
class ExportReport:
    """What an export wrote: sessions exported, sessions skipped (with why), files."""

    output: Path
    sessions: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    files: int = 0


@dataclass
class _Session:
    subject: str
    session: str
    ref: ObjectRef
    folder: Path
    manifest: dict[str, Any]
    measurements: dict[str, Any]
    radiomics: dict[str, Any] | None
    radiomics_manifest: dict[str, Any] | None


def _resource_folder(archive: Archive, ref: ObjectRef, label: str, dest: Path) -> Path | None:
    if label not in {r.label for r in archive.resources(ref)}:
        return None
    archive.fetch_resource(ref, label, dest)
    return dest


def _collect(archive: Archive, project: str, work: Path, report: ExportReport) -> list[_Session]:
    out = []
    for subject in sorted(archive.children(ObjectRef(project), "subject"), key=lambda o: o.label):
        for sess in sorted(archive.children(subject.ref, "session"), key=lambda o: o.label):
            name = f"{subject.label}/{sess.label}"
            ctx = {"project": project, "subject": subject.label, "session": sess.label}
            folder = _resource_folder(archive, sess.ref, "PREPROCESSED", work / name / "pre")
            if folder is None:
                report.skipped[name] = "no PREPROCESSED resource"
                continue
            names = [f"{n}.nii.gz" for group in _IMAGES.values() for n in group]
            try:
                verified_files(folder, [*names, "measurements.json"], "preprocess", ctx)
            except InputDataError as exc:
                report.skipped[name] = f"PREPROCESSED is not a complete result with a mask ({exc.message})"
                continue
            measurements = json.loads((folder / "measurements.json").read_text())
            rad_folder = _resource_folder(archive, sess.ref, "RADIOMICS", work / name / "rad")
            radiomics = rad_manifest = None
            if rad_folder is not None:
                verified_files(rad_folder, ["features.json"], "radiomics", ctx)
                radiomics = json.loads((rad_folder / "features.json").read_text())
                rad_manifest = read_manifest(rad_folder, "radiomics", ctx)
            out.append(_Session(subject.label, sess.label, sess.ref, folder,
                                read_manifest(folder, "preprocess", ctx), measurements, radiomics,
                                rad_manifest))
    return out


def _csv(rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def _write_images(s: _Session, out: Path, formats: tuple[str, ...]) -> list[dict[str, Any]]:
    rows = []
    for grid, names in _IMAGES.items():
        dest = out / "images" / s.subject / s.session / grid
        dest.mkdir(parents=True, exist_ok=True)
        for name in names:
            source = s.folder / f"{name}.nii.gz"
            role = "mask" if name.startswith("mask") else name.split("_")[0]
            for fmt in formats:
                target = dest / f"{name}{FORMATS[fmt]}"
                if fmt == "nifti":
                    shutil.copyfile(source, target)
                else:
                    sitk.WriteImage(sitk.ReadImage(str(source)), str(target), True)
                rows.append({"subject": s.subject, "session": s.session, "role": role,
                             "grid": grid, "format": fmt, "path": target.relative_to(out).as_posix(),
                             "sha256": file_sha256(target), "size": target.stat().st_size,
                             "source": f"{s.ref.uri}/resources/PREPROCESSED/files/{name}.nii.gz",
                             "source_sha256": s.manifest["files"][f"{name}.nii.gz"]["sha256"]})
    return rows


def _tables(sessions: list[_Session]) -> tuple[str, str]:
    meas = [["subject", "session", *_MEASURES]]
    rad = [["subject", "session", "channel", "feature", "value", "code", "scheme"]]
    from sarcoma_xnat.quantify.features import feature_code

    for s in sessions:
        tumour = s.measurements.get("tumour") or {}
        meas.append([s.subject, s.session, *(repr(tumour[k]) if k in tumour else "" for k in _MEASURES)])
        for channel, values in sorted(((s.radiomics or {}).get("features") or {}).items()):
            for name, value in sorted(values.items()):
                code = feature_code(name)
                rad.append([s.subject, s.session, channel, name, repr(value), code.value, code.scheme])
    return _csv(meas), _csv(rad)


def _clinical(archive: Archive, project: str, subjects: set[str]) -> str:
    from sarcoma_xnat.clinical.store import export_table

    rows = list(csv.reader(io.StringIO(export_table(archive, project))))
    if not rows:
        return ""
    head = rows[0]
    key = head.index("subject") if "subject" in head else 0
    return _csv([head, *sorted((r for r in rows[1:] if r and r[key] in subjects), key=lambda r: r[key])])


def export_cohort(archive: Archive, project: str, output: str | os.PathLike[str],
                  license_url: str, creator: str, name: str | None = None,
                  formats: tuple[str, ...] = ("nifti", "nrrd")) -> ExportReport:
    """Export ``project``'s curated cohort into ``output`` (atomically; see the module docstring)."""
    from sarcoma_xnat.export.describe import dataset_description

    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or not formats:
        raise InputDataError(f"unknown image formats {unknown}; known: {sorted(FORMATS)}")
    report = ExportReport(Path(output).resolve())
    with atomic_output(output) as out:
        work = out / ".work"
        sessions = _collect(archive, project, work, report)
        if not sessions:
            raise InputDataError(f"project {project} has no preprocessed session with a tumour "
                                 "mask to export", project=project)
        rows = [row for s in sessions for row in _write_images(s, out, formats)]
        measurements, radiomics = _tables(sessions)
        tables = {"manifest.csv": _csv([list(rows[0])] + [list(r.values()) for r in rows]),
                  "clinical.csv": _clinical(archive, project, {s.subject for s in sessions}),
                  "measurements.csv": measurements, "radiomics.csv": radiomics}
        for fname, text in tables.items():
            (out / fname).write_text(text, encoding="utf-8")
        description = dataset_description(project, sessions, rows, tables, out, license_url,
                                          creator, name)
        (out / "dataset.jsonld").write_text(json.dumps(description, indent=2, sort_keys=True,
                                                       ensure_ascii=False) + "\n", encoding="utf-8")
        shutil.rmtree(work)
        mark_own_folder(out, "export")
        report.sessions = [f"{s.subject}/{s.session}" for s in sessions]
        report.files = sum(1 for p in out.rglob("*") if p.is_file())
    return report
