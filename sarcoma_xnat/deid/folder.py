"""De-identify a folder of DICOM files into another folder: the ``deid`` step.

Every file under the input is read, de-identified and written under the output with
a name that carries no PHI: its folders are kept (scrubbed of identifiers) and the
file is named by its new SOP Instance UID. A file that is not DICOM, is truncated or
is refused (burned-in annotation) is reported by name and skipped; the others go on.

XNAT mounts the archive folder itself, so the input also holds XNAT's bookkeeping:
``<label>_catalog.xml`` in every resource folder, ``SNAPSHOTS``, the AIM copy of an
RTSTRUCT (:func:`sarcoma_xnat.steps.xnat_mount.is_bookkeeping`). Those are left out
silently — not de-identified, not copied, not reported as bad files, only counted in
the audit log (``bookkeeping_left_out``); the AIM XML may carry PHI and never reaches
the output. The output ends with ``manifest.json`` (:mod:`sarcoma_xnat.steps.manifest`).

Each file is read once, its header parsed and cleaned, and its pixel data element
copied as its bytes (:mod:`sarcoma_xnat.deid.split`); files are done in ``jobs``
worker processes (:mod:`sarcoma_xnat.deid.jobs`), each writing a hidden part file
that this process renames into place in input order, so the output is the same
byte for byte whatever the number of jobs.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sarcoma_xnat.deid.attributes import patient_id_of
from sarcoma_xnat.deid.audit import AuditLog
from sarcoma_xnat.deid.collect import StudyValues
from sarcoma_xnat.deid.engine import Deidentifier
from sarcoma_xnat.deid.jobs import default_jobs, map_files
from sarcoma_xnat.deid.keys import SiteKey
from sarcoma_xnat.deid.linkage import LinkageFile
from sarcoma_xnat.deid.outputs import file_digest, forget_folders, safe_folder, safe_parts
from sarcoma_xnat.deid.profile import PROFILE_EDITION
from sarcoma_xnat.deid.pixels import PixelRecord
from sarcoma_xnat.deid.site import SiteConfig, load_site_config
from sarcoma_xnat.deid.split import split_bytes, whole_bytes
from sarcoma_xnat.errors import DeidentificationError
from sarcoma_xnat.progress import progress
from sarcoma_xnat.steps.base import atomic_output, write_provenance
from sarcoma_xnat.steps.manifest import MANIFEST_FILE, fingerprint, write_manifest
from sarcoma_xnat.steps.xnat_mount import is_bookkeeping

__all__ = ["AUDIT_FILE", "FolderReport", "SkippedFile", "deidentify_folder", "run"]

log = logging.getLogger(__name__)

#: name of the audit log the step writes into its output folder
AUDIT_FILE = "deid-audit.jsonl"
_STEP = "deid"
_OWN_FILES = {"provenance.json", AUDIT_FILE, MANIFEST_FILE}


@dataclass(frozen=True)
class SkippedFile:
    """A file that was not de-identified: its de-identified name (folders, position), and why."""

    file: str
    reason: str


@dataclass
class FolderReport:
    """What :func:`deidentify_folder` did."""

    written: list[Path] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    subjects: set[str] = field(default_factory=set)
    digest: str = ""
    input_digest: str = ""
    bookkeeping: int = 0
    pixels_cleaned: list[tuple[str, PixelRecord]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Return whether every file was de-identified."""
        return not self.skipped


#: in a Container Service session mount, the folders that hold DICOM to de-identify;
#: RESOURCES/ holds derived outputs (NIfTI, PNG, JSON) and is left out
_SESSION_DICOM_FOLDERS = ("SCANS", "ASSESSORS")


def _input_files(root: Path) -> tuple[list[Path], int]:
    """Return the files to de-identify and how many XNAT bookkeeping files were left out."""
    tops = [root / name for name in _SESSION_DICOM_FOLDERS if (root / name).is_dir()]
    if not tops:
        tops = [root]
    found = sorted(p for top in tops for p in top.rglob("*")
                   if p.is_file() and not p.name.startswith(".") and p.name not in _OWN_FILES)
    files = [p for p in found if not is_bookkeeping(p, root)]
    return files, len(found) - len(files)


@dataclass(frozen=True)
class _Run:
    """What every worker needs for the second pass (set once per worker)."""

    src: Path
    dest: Path
    deidentifier: Deidentifier
    pools: StudyValues


@dataclass(frozen=True)
class _Done:
    """What the second pass did with one file (no PHI but the PatientID for the linkage)."""

    rel: str
    label: str
    input_sha256: bytes
    reason: str | None = None
    unexpected: bool = False
    part: str = ""
    target: str = ""
    sha256: bytes = b""
    counts: Counter[str] | None = None
    pseudonym: str = ""
    patient_id: str = ""
    pixels: PixelRecord | None = None


_RUN: _Run | None = None


_MADE: set[str] = set()  # output folders this process made, for the run in _RUN


def _set_run(run: _Run | None) -> None:
    global _RUN
    _RUN = run
    _MADE.clear()
    forget_folders()


def _label(rel: Path, index: int) -> str:
    """Return how a failing file is named: its de-identified folders and position, never its path."""
    run = _RUN
    assert run is not None
    return "/".join([*safe_parts(rel.parent.parts, run.pools.everything(),
                                  run.deidentifier.key), f"#{index}"])


def _one(item: tuple[int, Path]) -> _Done:
    """De-identify one file into a hidden part file beside its target; never raises."""
    index, path = item
    run = _RUN
    assert run is not None
    rel = path.relative_to(run.src)
    try:
        data = path.read_bytes()
    except OSError as exc:
        return _Done(rel.as_posix(), _label(rel, index), b"",
                     f"unreadable file ({type(exc).__name__})")
    try:
        split = split_bytes(data, "")  # the label is not in the message; made on failure only
        if split.pixels and run.deidentifier.pixels.rule_for(split.dataset) is not None:
            split = whole_bytes(data, "")  # Clean Pixel Data: the pixels are changed
        ds = split.dataset
        patient_id = patient_id_of(ds)
        tokens = run.pools.scrubber(path)
        result = run.deidentifier.deidentify(ds, None, tokens, split.has_pixels)
        folder = safe_folder(rel.parent, tokens, run.deidentifier.key)
        name = f"{ds.SOPInstanceUID}.dcm"
        header = split.encode_header()
    except DeidentificationError as exc:  # a file that fails: its bytes hashed as one part
        return _Done(rel.as_posix(), _label(rel, index), file_digest(data), exc.message)
    except Exception as exc:  # noqa: BLE001 - one bad file must not abort the folder
        reason = f"cannot be de-identified ({type(exc).__name__})"  # no value from the file
        return _Done(rel.as_posix(), _label(rel, index), file_digest(data), reason,
                     unexpected=True)
    part = f"{folder}.{name}.{index}.part"
    if folder not in _MADE:  # a folder per series: made once per worker
        (run.dest / folder).mkdir(parents=True, exist_ok=True)
        _MADE.add(folder)
    with open(f"{run.dest}/{part}", "wb") as fp:
        fp.write(header)
        fp.write(split.pixels)
    pixels = hashlib.sha256(split.pixels).digest()  # once: the output copies these bytes
    start, end = split.span or (len(data), len(data))
    found = file_digest(data[:start], pixels, data[end:])
    return _Done(rel.as_posix(), "", found, part=part, target=folder + name,
                 sha256=file_digest(header, pixels), counts=result.counts,
                 pseudonym=result.pseudonym, patient_id=patient_id, pixels=result.pixels)


def deidentify_folder(input_dir: str | os.PathLike[str], output_dir: str | os.PathLike[str],
                      deidentifier: Deidentifier, linkage: LinkageFile | None = None,
                      audit: AuditLog | None = None, jobs: int | None = None) -> FolderReport:
    """De-identify every file under ``input_dir`` into ``output_dir`` (created).

    A first pass reads every header and pools identifying values per patient and study
    (:class:`~sarcoma_xnat.deid.collect.StudyValues`); the second cleans each file with
    its pool. Files that cannot be de-identified (for any reason) are listed in the
    report's ``skipped`` by a de-identified name (folders scrubbed, ``#`` and their
    position in sorted order) and the run goes on; nothing is written for them. Both
    passes run in ``jobs`` processes (default: every core); the output is the same
    whatever ``jobs`` is.
    """
    src, dest = Path(input_dir), Path(output_dir)
    if not src.is_dir():
        raise DeidentificationError(f"input folder {src} does not exist or is not a folder")
    dest.mkdir(parents=True, exist_ok=True)
    report = FolderReport()
    digest = hashlib.sha256()
    seen: set[Path] = set()
    inputs = hashlib.sha256()
    files, report.bookkeeping = _input_files(src)
    if report.bookkeeping:
        log.debug("left out %d XNAT bookkeeping files (catalogs, snapshots, AIM)",
                  report.bookkeeping)
    jobs = default_jobs() if jobs is None else jobs
    pools = StudyValues(files, jobs)  # first pass: identifying values per study and patient
    results = map_files(_one, list(enumerate(files, start=1)), jobs, _set_run,
                        (_Run(src, dest, deidentifier, pools),),
                        [id(pools.tokens(path)) for path in files])
    try:
        for done in progress(results, desc="de-identifying", total=len(files)):
            inputs.update(done.rel.encode() + b"\0" + done.input_sha256)
            if done.reason is not None:
                if done.unexpected:
                    log.warning("skipped a file: %s [file %s]", done.reason, done.label)
                else:
                    log.warning("skipped a file: %s", done.reason)  # names: the report only
                report.skipped.append(SkippedFile(done.label, done.reason))
                continue
            target = dest / done.target
            if target in seen:
                (dest / done.part).unlink()
                report.skipped.append(SkippedFile(done.label, "duplicate SOP Instance UID"))
                continue
            seen.add(target)
            os.replace(dest / done.part, target)
            digest.update(done.target.encode() + b"\0")
            digest.update(done.sha256)
            report.written.append(target)
            report.counts.update(done.counts or {})
            report.subjects.add(done.pseudonym)
            if done.pixels is not None:
                report.pixels_cleaned.append((done.target, done.pixels))
            if linkage is not None and done.patient_id:
                linkage.record(done.pseudonym, done.patient_id)
    finally:
        _set_run(None)  # with jobs=1 the run's state lived in this process
        for part in dest.rglob(".*.dcm.*.part"):  # an interrupted run leaves no part file behind
            part.unlink()
    report.digest = digest.hexdigest()
    report.input_digest = inputs.hexdigest()
    if audit is not None:
        for target, record in report.pixels_cleaned:  # PS3.15 E.3.1: the pixel change, recorded
            audit.write("clean-pixel-data", file=target, rule=record.rule,
                        rectangles=record.rectangles, frames=record.frames,
                        transfer_syntax=record.transfer_syntax)
        audit.write("deidentify-folder", files_in=len(files), files_out=len(report.written),
                    skipped=len(report.skipped), bookkeeping_left_out=report.bookkeeping,
                    skipped_reasons=Counter(_reason_kind(s.reason) for s in report.skipped),
                    actions=report.counts, subjects=report.subjects,
                    profile=f"PS3.15-{PROFILE_EDITION}",
                    options=[o.value for o in deidentifier.profile.options],
                    pixels_cleaned=len(report.pixels_cleaned), **deidentifier.site.audit(),
                    key_fingerprint=deidentifier.key.fingerprint(), output_sha256=report.digest)
    return report


def _reason_kind(reason: str) -> str:
    """Return the kind of a skip reason, without the details (for the audit log)."""
    for kind in ("not a DICOM file", "truncated", "incomplete", "unreadable", "refused",
                 "cannot be de-identified",
                 "duplicate", "no PatientID", "image without pixel data", "empty"):
        if kind in reason:
            return kind
    return "other"


def run(input_dir: str | os.PathLike[str], output_dir: str | os.PathLike[str],
        params: dict[str, Any]) -> FolderReport:
    """Run the ``deid`` step: de-identify ``input_dir`` into ``output_dir`` atomically.

    ``params`` needs ``key`` (a :class:`SiteKey`); optional ``options`` (profile
    options), ``linkage`` (path of the site's linkage file), ``audit_log`` (an
    extra audit log path; the step always writes ``deid-audit.jsonl`` into its output),
    ``jobs`` (worker processes) and ``site_config`` (a reviewed site configuration
    file or :class:`~sarcoma_xnat.deid.site.SiteConfig`).
    The output folder holds the de-identified files, the audit log and
    ``provenance.json``. Skipped files are in the returned report.
    """
    started = time.time()
    key: SiteKey = params["key"]
    jobs = params.get("jobs")
    options = params.get("options")
    site = params.get("site_config")
    site = site if isinstance(site, SiteConfig) else load_site_config(site)
    deidentifier = (Deidentifier(key, site=site) if options is None
                    else Deidentifier(key, options, site))
    linkage = LinkageFile(params["linkage"], key) if params.get("linkage") else None
    if linkage is not None:
        linkage.check_key()  # another secret would split patients: refuse before any work
    with atomic_output(output_dir) as staging:
        audit = AuditLog(staging / AUDIT_FILE)
        report = deidentify_folder(input_dir, staging, deidentifier, linkage, audit, jobs)
        if params.get("audit_log"):
            AuditLog(params["audit_log"]).write(**{"event": "deidentify-folder",
                                                   **{k: v for k, v in audit.records[-1].items()
                                                      if k not in ("event", "time", "tool")}})
        write_provenance(
            staging, _STEP, f"PS3.15-{PROFILE_EDITION}",
            params={"options": [o.value for o in deidentifier.profile.options],
                    "pseudonym_prefix": key.prefix},
            inputs={"files": len(report.written) + len(report.skipped),
                    "skipped": len(report.skipped)},
            started=started,
            extra={"key_fingerprint": key.fingerprint(), "output_sha256": report.digest,
                   "subjects": sorted(report.subjects)})
        write_manifest(staging, _STEP, f"PS3.15-{PROFILE_EDITION}", fingerprint(
            {"inputs": report.input_digest, "key": key.fingerprint(), "prefix": key.prefix,
             "options": [o.value for o in deidentifier.profile.options],
             **({"site_config": site.sha256} if site.sha256 else {})}),
            unverified=("provenance.json", AUDIT_FILE))  # both carry run times
    final = Path(output_dir).resolve()
    report.written = [final / p.relative_to(staging) for p in report.written]
    return report
