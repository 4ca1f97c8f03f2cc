"""``sarcoma-xnat ingest folder|pacs``: de-identify studies and store them in an archive.

The destination is a local archive (``--archive``) or an XNAT (``--xnat URL``). Into
XNAT, each de-identified series is imported through ``/data/services/import`` and
each SEG/RTSTRUCT stored through the ROI plugin's ``/xapi/roi``, which accepts a
collection only when XNAT's importer catalogued the instances it refers to (see
:mod:`sarcoma_xnat.xnat.imports`).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from typing import Any

__all__ = ["EXIT_INCOMPLETE", "register"]

#: exit status when some studies failed or some files were skipped
EXIT_INCOMPLETE = 1


def register(subparsers: Any) -> None:
    """Add ``ingest folder`` and ``ingest pacs``."""
    ingest = subparsers.add_parser("ingest", help="de-identify studies from a folder or a PACS "
                                                  "and store them in the archive")
    sub = ingest.add_subparsers(dest="ingest_command", metavar="SOURCE", required=True)

    folder = sub.add_parser("folder", help="ingest a folder of DICOM files (manual exports)")
    folder.add_argument("source", help="folder to read, recursively")
    _common(folder)
    folder.set_defaults(_run=_folder)

    pacs = sub.add_parser("pacs", help="query a PACS with C-FIND and retrieve with C-MOVE")
    pacs.add_argument("--host", required=True, help="PACS host")
    pacs.add_argument("--port", type=int, required=True, help="PACS DICOM port")
    pacs.add_argument("--called-ae", required=True, help="PACS AE title")
    pacs.add_argument("--calling-ae", default="SARCOMAXNAT",
                      help="our AE title; the PACS must know it as a C-MOVE destination")
    pacs.add_argument("--listen-port", type=int, default=11113,
                      help="port our Storage SCP listens on during C-MOVE")
    pacs.add_argument("--patient-id", default="", help="query: PatientID")
    pacs.add_argument("--study-uid", default="", help="query: StudyInstanceUID")
    pacs.add_argument("--date", default="", help="query: StudyDate, YYYYMMDD or YYYYMMDD-YYYYMMDD")
    pacs.add_argument("--modality", default="", help="query: a modality in the study, e.g. MR")
    pacs.add_argument("--timeout", type=float, default=120, help="DICOM network timeout (s)")
    _common(pacs)
    pacs.set_defaults(_run=_pacs)


def _common(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--archive", help="local archive folder (destination): "
                       "an archive, an empty folder, or a new folder whose parent exists")
    where.add_argument("--xnat", metavar="URL",
                       help="XNAT to import into (credentials: XNAT_USER/XNAT_PASS or ~/.netrc, "
                            "never a flag); DICOM goes through the import service, SEG/RTSTRUCT "
                            "through the ROI API")
    parser.add_argument("--project", required=True, help="destination project ID")
    parser.add_argument("--secret-file", help="site secret file (else $SARCOMA_XNAT_SITE_SECRET)")
    parser.add_argument("--prefix", default=None, help="pseudonym prefix (site code); default SXN")
    parser.add_argument("--linkage", help="site linkage file to append to (keep it local)")
    parser.add_argument("--audit-log", help="JSON-lines audit log to append to")
    parser.add_argument("--jobs", type=int, default=None, metavar="N",
                        help="de-identification worker processes (default: every core this "
                             "process may use); the stored files are the same whatever N is")


def _setup(args: argparse.Namespace, source: Any = None) -> tuple[Any, Any, Any, Any]:
    """Check the paths (before any work), then load the key; return root, deidentifier, ..."""
    from sarcoma_xnat.deid import AuditLog, Deidentifier, LinkageFile, SiteKey, load_secret
    from sarcoma_xnat.deid.keys import DEFAULT_PREFIX
    from sarcoma_xnat.paths import check_archive, check_output_folder

    root = None
    if args.archive is not None:
        root = check_archive(args.archive, "--archive", create=True)
        check_output_folder(root, "--archive", {"source": source}, replaces=False)
    key = SiteKey(load_secret(args.secret_file), args.prefix or DEFAULT_PREFIX)
    linkage = LinkageFile(args.linkage, key) if args.linkage else None
    if linkage is not None:
        linkage.check_key()  # another secret would split patients: refuse before any work
    audit = AuditLog(args.audit_log) if args.audit_log else None
    return root, Deidentifier(key), linkage, audit


@contextlib.contextmanager
def _destination(args: argparse.Namespace, root: Any) -> Iterator[Any]:
    """Yield the archive to ingest into: XNAT (``--xnat``) or the local folder ``root``."""
    if args.xnat:
        from sarcoma_xnat.archive.xnat import XnatArchive
        from sarcoma_xnat.xnat import connect

        with connect(args.xnat) as client:
            yield XnatArchive(client)
        return
    from sarcoma_xnat.archive.local import LocalArchive
    from sarcoma_xnat.paths import provisional_folder

    with provisional_folder(root):  # a new archive that received nothing is removed again
        yield LocalArchive(root)


def _finish(report: Any) -> int:
    print(report.summary())
    for ref in report.stored:
        print(f"stored {ref.uri}")
    for failed in report.failed:
        print(f"study {failed.session} not stored:", file=sys.stderr)
        for reason in failed.reasons:
            print(f"  {reason}", file=sys.stderr)
    for skipped in report.skipped:
        print(f"skipped {skipped.file}: {skipped.reason}", file=sys.stderr)
    return 0 if report.ok else EXIT_INCOMPLETE


def _folder(args: argparse.Namespace) -> int:
    from sarcoma_xnat.ingest.folder import ingest_folder
    from sarcoma_xnat.paths import check_input_folder

    source = check_input_folder(args.source, "source folder")
    root, deidentifier, linkage, audit = _setup(args, source)
    with _destination(args, root) as archive:
        report = ingest_folder(source, archive, args.project, deidentifier, linkage, audit,
                               jobs=args.jobs)
    return _finish(report)


def _pacs(args: argparse.Namespace) -> int:
    from sarcoma_xnat.ingest.pacs import PacsNode, StudyQuery, ingest_pacs

    root, deidentifier, linkage, audit = _setup(args)
    node = PacsNode(args.host, args.port, args.called_ae)
    query = StudyQuery(args.patient_id, args.study_uid, args.date, args.modality)
    if not any((query.patient_id, query.study_uid, query.study_date)):
        from sarcoma_xnat.errors import ConfigurationError

        raise ConfigurationError("give at least one of --patient-id, --study-uid, --date: "
                                 "an open query would pull the whole PACS")
    with _destination(args, root) as archive:
        report = ingest_pacs(node, query, archive, args.project, deidentifier,
                             args.calling_ae, args.listen_port, linkage=linkage, audit=audit,
                             timeout=args.timeout, jobs=args.jobs)
    return _finish(report)
