"""The demo: the whole pipeline on a local archive, from a synthetic hospital to outputs.

``sarcoma-xnat demo`` creates (or reuses) a folder with two local archives:

* ``hospital/`` — what a hospital PACS export looks like: a synthetic cohort whose
  DICOM headers carry (invented) PHI;
* ``archive/`` — the study's archive: the same studies de-identified and pseudonymised,
  then processed by every pipeline step that exists.

and prints a summary table. Re-running replaces outputs; it never duplicates them.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sarcoma_xnat.archive import LocalArchive, ObjectRef
from sarcoma_xnat.errors import ArchiveError, ContainerError
from sarcoma_xnat.progress import progress

__all__ = ["DemoResult", "format_summary", "run_demo"]

HOSPITAL_PROJECT = "HOSPITAL"
STUDY_PROJECT = "SARCOMA"


@dataclass
class DemoResult:
    """What the demo did: stage timings, one summary row per session, and notes."""

    folder: Path
    archive: LocalArchive
    project: str
    stages: list[tuple[str, float]] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    engines: set[str] = field(default_factory=set)
    worklist: list[dict[str, Any]] = field(default_factory=list)


def _timed(result: DemoResult, name: str, func: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    value = func()
    result.stages.append((name, time.perf_counter() - started))
    return value


def run_demo(folder: str | Path = "sarcoma-demo", subjects: int = 3, seed: int = 0,
             preset: str = "standard", secret: str = "demo-site-secret-not-for-real-use",
             engine: str = "auto", segment: bool = False, segment_epochs: int = 40) -> DemoResult:
    """Run every available pipeline step on a synthetic cohort and return a summary.

    ``engine`` is ``auto`` (step images through a Docker-compatible engine when one
    and the images are there, else in-process), ``docker`` or ``inprocess``. With
    ``segment`` (needs the ``[seg]`` extra) a phantom segmentation model is trained
    for ``segment_epochs`` on the archive's human annotations, every session gets an
    AI draft, and :attr:`DemoResult.worklist` holds the review worklist.
    """
    from sarcoma_xnat.synthetic import generate_cohort

    folder = Path(folder).resolve()
    hospital = LocalArchive(folder / "hospital")
    archive = LocalArchive(folder / "archive")
    result = DemoResult(folder=folder, archive=archive, project=STUDY_PROJECT)
    manifest = _timed(result, "synthesize hospital cohort", lambda: generate_cohort(
        hospital, project=HOSPITAL_PROJECT, n_subjects=subjects, seed=seed, preset=preset))
    sessions = _timed(result, "de-identify and ingest",
                      lambda: _ingest(hospital, manifest.project, archive, secret, result))
    _timed(result, "preprocess", lambda: _preprocess(archive, sessions, engine, result))
    if segment:
        _segment(archive, sessions, segment_epochs, seed, result)
    result.rows = [_summary_row(archive, s) for s in sessions]
    return result


def _ingest(hospital: LocalArchive, project: str, archive: LocalArchive, secret: str,
            result: DemoResult) -> list[ObjectRef]:
    """De-identify the hospital's sessions into the study archive, subjects pseudonymised."""
    from sarcoma_xnat.deid import Deidentifier, SiteKey
    from sarcoma_xnat.ingest import ingest_archive
    from sarcoma_xnat.synthetic import CLINICAL_FIELDS, OUTCOME_FIELDS

    report = ingest_archive(hospital, project, archive, STUDY_PROJECT,
                            Deidentifier(SiteKey(secret.encode())),
                            fields=CLINICAL_FIELDS + OUTCOME_FIELDS)
    if not report.ok:
        raise ArchiveError(f"de-identification did not ingest everything: {report.summary()}")
    result.notes.append(f"ingest: {report.summary()}")
    return sorted(report.stored)


def _preprocess(archive: LocalArchive, sessions: list[ObjectRef], engine: str,
                result: DemoResult) -> None:
    """Run the preprocess command on every session, the way XNAT's Container Service would."""
    from sarcoma_xnat.containers import run_step

    said: list[str] = []
    for session in progress(sessions, desc="preprocessing sessions"):
        run = run_step("preprocess", archive, session.uri, wrapper="sarcoma-preprocess-session",
                       engine=engine, sink=lambda line: said.append(line))
        if run.exit_code != 0:
            tail = "\n".join(run.log[-15:])
            raise ContainerError(f"preprocess exited with {run.exit_code}:\n{tail}",
                                 **session.context())
        result.engines.add(run.engine)
    for line in dict.fromkeys(s for s in said if s.startswith("engine:")):
        result.notes.append(f"preprocess {line}")


def _segment(archive: LocalArchive, sessions: list[ObjectRef], epochs: int, seed: int,
             result: DemoResult) -> None:
    """Train the phantom model (``segment train --from-scratch``), draft every session, list the worklist."""
    from sarcoma_xnat.segmentation.bundle import load_bundle
    from sarcoma_xnat.segmentation.gate import train_gated
    from sarcoma_xnat.segmentation.inference import pick_device
    from sarcoma_xnat.segmentation.registry import current_bundle_dir, fetch_models
    from sarcoma_xnat.segmentation.review import worklist
    from sarcoma_xnat.steps.segment import run_on_archive

    device = pick_device("auto")
    record = _timed(result, "train segmentation model", lambda: train_gated(
        archive, STUDY_PROJECT, epochs, from_scratch=True, seed=seed, device=device))
    result.notes.append(f"segment train: version {record['version']} {record['decision']} "
                        f"({record['reason']}), {epochs} epochs on {len(record['trained_on'])} "
                        f"session(s)")

    def draft() -> None:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="sarcoma-demo-models-") as tmp:
            models = fetch_models(archive, STUDY_PROJECT, Path(tmp) / "models")
            bundle = load_bundle(current_bundle_dir(models), device)
            for session in progress(sessions, desc="drafting segmentations"):
                run_on_archive(archive, session, bundle, device=device)

    _timed(result, "draft segmentations", draft)
    result.worklist = _timed(result, "review worklist",
                             lambda: [r.row() for r in worklist(archive, STUDY_PROJECT)])


def _summary_row(archive: LocalArchive, session: ObjectRef) -> dict[str, Any]:
    scans = archive.children(session, "scan")
    rois = archive.children(session, "assessor")
    row: dict[str, Any] = {
        "subject": session.subject, "session": session.session,
        "scans": ", ".join(f"{s.label}:{s.attrs.get('type', '?')}" for s in scans),
        "rois": ", ".join(sorted(r.attrs.get("collectionType", r.xsi_type) for r in rois))
                or "no annotation",
    }
    for res in archive.resources(session):
        folder = archive.resource_path(session, res.label)
        if "measurements.json" in res.files:
            tumour = json.loads((folder / "measurements.json").read_text()).get("tumour") or {}
            if "volume_mm3" in tumour:
                row["tumour cm³"] = f"{float(tumour['volume_mm3']) / 1000:.1f}"
                row["longest mm"] = f"{float(tumour['longest_diameter_mm']):.0f}"
        if "qc.png" in res.files:
            # relative to the demo folder: an absolute path wraps a 200-column terminal
            row["QC picture"] = os.path.relpath(folder / "qc.png", Path(archive.root).parent)
    return row


def format_summary(result: DemoResult) -> str:
    """Return the demo summary as a plain-text table."""
    lines = [f"sarcoma-xnat demo — study archive: {result.archive.root} (project {result.project})", ""]
    columns: list[str] = []
    for row in result.rows:
        columns += [c for c in row if c not in columns and c != "QC picture"]
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in result.rows)) for c in columns}
    lines.append("  ".join(c.ljust(widths[c]) for c in columns))
    lines.append("  ".join("-" * widths[c] for c in columns))
    for row in result.rows:
        lines.append("  ".join(str(row.get(c, "")).ljust(widths[c]) for c in columns))
    pictures = [f"  {row['session']}: {row['QC picture']}" for row in result.rows if row.get("QC picture")]
    if pictures:  # below the table: the paths are long and would wrap its rows
        lines += ["", "QC pictures (relative to the demo folder):"] + pictures
    described = {"docker": "docker (the step images, through the Docker API)",
                 "inprocess": "inprocess (no container engine or image: same command line, "
                              "run in this process)"}
    used = ", ".join(described.get(e, e) for e in sorted(result.engines)) or "-"
    if result.worklist:  # below the table, as ``review status`` prints it
        from sarcoma_xnat.commands.review import format_worklist

        lines += ["", "segmentation review worklist (AI drafts by the demo's phantom model, trained "
                      "on synthetic annotations: not for real images):", format_worklist(result.worklist)]
    lines += ["", f"steps ran with engine: {used}"]
    lines += ["", "stages:"] + [f"  {name:<28} {secs:6.1f} s" for name, secs in result.stages]
    lines += [f"note: {n}" for n in result.notes]
    return "\n".join(lines)
