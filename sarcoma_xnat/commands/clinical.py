"""``sarcoma-xnat clinical import|export|send-measurements|dictionary``: the clinical table in and out.

``import`` reads a CSV file or a REDCap project, checks every cell and writes the
values as subject custom fields; ``export`` writes the same table back;
``send-measurements`` sends each subject's tumour measurements to REDCap;
``dictionary`` writes the data dictionary (plain CSV and REDCap's data-dictionary CSV).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``clinical import``, ``export``, ``send-measurements`` and ``dictionary``."""
    p = subparsers.add_parser(
        "clinical", help="clinical variables and outcomes: import from CSV/REDCap, export, dictionary",
        description="The 11 clinical variables and 4 outcomes of each subject, kept as subject "
                    "custom fields.")
    sub = p.add_subparsers(dest="clinical_command", metavar="ACTION", required=True)
    imp = sub.add_parser("import", help="check a clinical table and write it to the subjects",
                         description="Rows are matched to subjects by patient_id (through the "
                                     "site secret) or by subject (the pseudonym). Every missing or "
                                     "invalid cell is reported by row number and pseudonym; nothing "
                                     "is written when any row has a problem, unless --partial.")
    imp.add_argument("--project", required=True, help="project whose subjects get the values")
    imp.add_argument("--archive", default="xnat", help="local archive folder, or 'xnat' "
                     "(XNAT_HOST/XNAT_USER/XNAT_PASS or .netrc)")
    src = imp.add_mutually_exclusive_group(required=True)
    src.add_argument("--csv", type=Path, help="the clinical table as a CSV file (UTF-8)")
    src.add_argument("--redcap", metavar="URL", help="REDCap API URL (ending /api/); token from "
                     "--redcap-token-file or $REDCAP_API_TOKEN")
    imp.add_argument("--redcap-token-file", type=Path, help="file holding the REDCap API token")
    imp.add_argument("--id-column", choices=("patient_id", "subject"),
                     help="column naming the row's subject (default: patient_id if present, "
                          "else subject)")
    imp.add_argument("--secret-file", type=Path, help="site secret, to map patient_id to the "
                     "pseudonym (default: $SARCOMA_XNAT_SITE_SECRET)")
    imp.add_argument("--prefix", help="pseudonym prefix the site uses (default SXN)")
    imp.add_argument("--partial", action="store_true",
                     help="write the valid cells even when other cells or rows have problems")
    imp.add_argument("--dry-run", action="store_true", help="check and report, write nothing")
    imp.set_defaults(_run=run_import)
    exp = sub.add_parser("export", help="write a project's clinical table as CSV")
    exp.add_argument("--project", required=True, help="project to export")
    exp.add_argument("--archive", default="xnat", help="local archive folder, or 'xnat'")
    exp.add_argument("--output", type=Path, help="CSV file to write (default: standard output)")
    exp.set_defaults(_run=run_export)
    snd = sub.add_parser("send-measurements", help="send each subject's tumour measurements to REDCap",
                         description="For every session with a consistent PREPROCESSED result "
                                     "(checked against its manifest), send the tumour volume, "
                                     "diameters, ROI intensity statistics and size check as one "
                                     "REDCap record per subject, keyed by the subject's pseudonym "
                                     "in the project's record ID field (never the original ID). "
                                     "Sessions without a usable result are skipped and reported.")
    snd.add_argument("--project", required=True, help="project whose sessions are sent")
    snd.add_argument("--archive", default="xnat", help="local archive folder, or 'xnat' "
                     "(XNAT_HOST/XNAT_USER/XNAT_PASS or .netrc)")
    snd.add_argument("--redcap", metavar="URL", required=True, help="REDCap API URL (ending /api/); "
                     "token from --redcap-token-file or $REDCAP_API_TOKEN")
    snd.add_argument("--redcap-token-file", type=Path, help="file holding the REDCap API token")
    snd.add_argument("--dry-run", action="store_true",
                     help="print the pseudonyms and field names that would be sent, send nothing")
    snd.set_defaults(_run=run_send_measurements)
    dic = sub.add_parser("dictionary", help="write the data dictionary (CSV and REDCap)")
    dic.add_argument("--output", type=Path, required=True, help="folder to write the two files into")
    dic.set_defaults(_run=run_dictionary)


def _rows(args: argparse.Namespace) -> list[dict[str, str]]:
    from sarcoma_xnat.clinical.redcap import fetch_records, load_token
    from sarcoma_xnat.clinical.table import read_csv_rows

    if args.csv is not None:
        return read_csv_rows(args.csv)
    return fetch_records(args.redcap, load_token(args.redcap_token_file))


def run_import(args: argparse.Namespace) -> int:
    """Check the table and write it; print the report (problems on standard error)."""
    from sarcoma_xnat.clinical.store import project_subjects, write_rows
    from sarcoma_xnat.clinical.table import check_rows
    from sarcoma_xnat.deid.keys import DEFAULT_PREFIX, SiteKey, load_secret
    from sarcoma_xnat.fl.site import open_archive

    rows = _rows(args)
    archive = open_archive(args.archive)
    subjects = project_subjects(archive, args.project)
    needs_key = (args.id_column or ("patient_id" if rows and "patient_id" in rows[0] else "subject")) \
        == "patient_id"
    key = SiteKey(load_secret(args.secret_file), args.prefix or DEFAULT_PREFIX) if needs_key else None
    checked = check_rows(rows, key, args.id_column, subjects)
    report = write_rows(archive, args.project, checked, partial=args.partial, dry_run=args.dry_run)
    *problems, summary = report.lines()
    for line in problems:
        print(line, file=sys.stderr)
    if report.bad_rows and not args.partial:
        print(f"error: nothing written: {len(report.bad_rows)} of {len(checked)} rows have problems "
              "(fix them, or pass --partial to write the valid cells)", file=sys.stderr)
        return 2
    print(summary)
    return 1 if report.bad_rows else 0


def run_export(args: argparse.Namespace) -> int:
    """Write the project's clinical table."""
    from sarcoma_xnat.clinical.store import export_table, project_subjects
    from sarcoma_xnat.fl.site import open_archive

    archive = open_archive(args.archive)
    project_subjects(archive, args.project)  # the project must exist
    text = export_table(archive, args.project)
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {text.count(chr(10)) - 1} subjects to {args.output}")
    return 0


def run_send_measurements(args: argparse.Namespace) -> int:
    """Send the measurements; report skipped sessions on standard error (pseudonyms only)."""
    from sarcoma_xnat.clinical.measurements import collect_measurements, send_records
    from sarcoma_xnat.clinical.redcap import load_token
    from sarcoma_xnat.fl.site import open_archive

    token = None if args.dry_run else load_token(args.redcap_token_file)
    report = collect_measurements(open_archive(args.archive), args.project)
    for name, why in sorted(report.skipped.items()):
        print(f"{name}: skipped: {why}", file=sys.stderr)
    if args.dry_run:
        for pseudonym, fields in report.records.items():
            print(f"{pseudonym} (session {report.sessions[pseudonym]}): {', '.join(fields)}")
        print(f"would send {len(report.records)} records to {args.redcap}")
        return 0
    if not report.records:
        print("nothing to send: no session has a consistent PREPROCESSED result with a tumour",
              file=sys.stderr)
        return 1
    assert token is not None
    count = send_records(args.redcap, token, report.records)
    print(f"sent {len(report.records)} records to {args.redcap} (REDCap counted {count}); "
          f"{len(report.skipped)} sessions skipped")
    return 0


def run_dictionary(args: argparse.Namespace) -> int:
    """Write the shipped data dictionary files into a folder."""
    from importlib.resources import files

    args.output.mkdir(parents=True, exist_ok=True)
    for name in ("data_dictionary.csv", "redcap_data_dictionary.csv"):
        data = files("sarcoma_xnat.clinical").joinpath("data", name).read_bytes()
        (args.output / name).write_bytes(data)
        print(args.output / name)
    return 0
