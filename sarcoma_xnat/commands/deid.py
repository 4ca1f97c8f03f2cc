"""``sarcoma-xnat deid run|import|verify``: the de-identification steps and the pseudonym lookup."""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["EXIT_SKIPPED", "register"]

#: exit status when the step finished but skipped files (not DICOM, truncated, refused)
EXIT_SKIPPED = 1


def register(subparsers: Any) -> None:
    """Add ``deid run``, ``deid import`` and ``deid verify``."""
    deid = subparsers.add_parser("deid", help="de-identify DICOM (PS3.15 Annex E) and check "
                                              "pseudonyms")
    sub = deid.add_subparsers(dest="deid_command", metavar="ACTION", required=True)

    run = sub.add_parser("run", help="de-identify a folder of DICOM into another folder "
                                     "(the container step)")
    run.add_argument("--input", required=True, help="folder to read (e.g. the session mount)")
    run.add_argument("--output", required=True, help="folder to write, outside the input "
                     "(replaced atomically; an existing one must be a previous output)")
    _secret_args(run)
    run.add_argument("--linkage", help="site linkage file (pseudonym,patient_id) to append to; "
                                       "keep it local")
    run.add_argument("--audit-log", help="also append the audit record to this JSON-lines file")
    run.add_argument("--option", action="append", dest="options", metavar="OPTION",
                     help="profile option (repeatable); default: the study's options")
    run.add_argument("--jobs", type=int, default=None, metavar="N",
                     help="worker processes (default: every core this process may use); "
                          "the output is the same byte for byte whatever N is")
    _site_arg(run)
    run.set_defaults(_run=_run)

    into = sub.add_parser("import", help="de-identify a session and import the pseudonymised "
                                         "copy into a study project of the same XNAT (the "
                                         "'Run container' step; XNAT_HOST/XNAT_USER/XNAT_PASS)")
    into.add_argument("--input", required=True, help="folder to read (the session mount)")
    into.add_argument("--project", required=True, help="study project to import into")
    _secret_args(into)
    into.add_argument("--linkage", help="site linkage file to append to; keep it local")
    into.add_argument("--jobs", type=int, default=None, metavar="N",
                      help="worker processes (default: every core this process may use); "
                           "the imported files are the same whatever N is")
    _site_arg(into)
    into.set_defaults(_run=_import)

    verify = sub.add_parser("verify", help="which pseudonym a PatientID has, and the reverse "
                                           "through the linkage file")
    _secret_args(verify)
    who = verify.add_mutually_exclusive_group(required=True)
    who.add_argument("--patient-id", help="original PatientID to look up")
    who.add_argument("--pseudonym", help="pseudonym to look up in the linkage file")
    verify.add_argument("--linkage", help="the site's linkage file (for --pseudonym)")
    verify.set_defaults(_run=_verify)

    check = sub.add_parser("check", help="independent scan: identifying values of the originals "
                                         "left in the output, broken references, changed "
                                         "pixels, removed IOD attributes")
    check.add_argument("original", metavar="ORIGINAL_DIR", help="the folder before de-identification")
    check.add_argument("deidentified", metavar="DEIDENTIFIED_DIR", help="the de-identified folder")
    check.set_defaults(_run=_check)


def _site_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--site-config", metavar="FILE", default=None,
                        help="reviewed site configuration (JSON or TOML): more safe private "
                             "elements and kept descriptors, Clean Pixel Data rectangles; "
                             "recorded with its sha256 in the audit log. A folder (a mounted "
                             "XNAT resource) holds one .toml or .json file; an empty folder "
                             "means none (default: none)")


def _site_config(value: str | None) -> str | None:
    """Return the site configuration file ``--site-config`` names, or None for none.

    A folder is a mounted XNAT resource (``deid.json`` mounts the project resource
    DEID_SITE at ``/site``): its one ``.toml``/``.json`` file, XNAT's
    ``<label>_catalog.xml`` beside it left out. The wrappers without that resource
    mount nothing there, and the Container Service then mounts an empty build folder
    (container-service ``CommandResolutionServiceImpl.resolveOutputMount``): an empty
    folder means no site configuration.
    """
    from pathlib import Path

    from sarcoma_xnat.errors import ConfigurationError

    if value is None or not Path(value).is_dir():
        return value
    folder = Path(value)
    try:
        files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
                       and not p.name.endswith("_catalog.xml"))
    except OSError as exc:
        raise ConfigurationError(f"--site-config {folder}: cannot be read "
                                 f"({exc.strerror})") from None
    configs = [p for p in files if p.suffix.lower() in (".toml", ".json")]
    if len(configs) == 1:
        return str(configs[0])
    if not files:
        print(f"note: no site configuration in {folder}: the package's lists only",
              file=sys.stderr)
        return None
    raise ConfigurationError(f"--site-config {folder}: holds {len(configs)} .toml/.json files "
                             f"({', '.join(p.name for p in configs) or 'none'}); it needs "
                             "exactly one, the reviewed site configuration")


def _secret_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--secret-file", help="file holding the site secret (else "
                                              "$SARCOMA_XNAT_SITE_SECRET)")
    parser.add_argument("--prefix", default=None, help="pseudonym prefix (site code); default SXN")


def _key(args: argparse.Namespace) -> Any:
    from sarcoma_xnat.deid.keys import DEFAULT_PREFIX, SiteKey, load_secret

    return SiteKey(load_secret(args.secret_file), args.prefix or DEFAULT_PREFIX)


def _run(args: argparse.Namespace) -> int:
    from sarcoma_xnat.deid.folder import run
    from sarcoma_xnat.paths import check_input_folder, check_output_folder

    source = check_input_folder(args.input, "--input")
    out = check_output_folder(args.output, "--output", {"--input": source})
    _outside(out, source, linkage=args.linkage, audit_log=args.audit_log)
    params = {"key": _key(args), "linkage": args.linkage, "audit_log": args.audit_log,
              "jobs": args.jobs, "site_config": _site_config(args.site_config)}
    if args.options:
        params["options"] = args.options
    report = run(args.input, args.output, params)
    print(f"de-identified {len(report.written)} files for {len(report.subjects)} subject(s); "
          f"skipped {len(report.skipped)}")
    for skipped in report.skipped:
        print(f"skipped {skipped.file}: {skipped.reason}", file=sys.stderr)
    return EXIT_SKIPPED if report.skipped else 0


def _import(args: argparse.Namespace) -> int:
    """De-identify the mounted session and import it into ``--project`` (never beside it).

    The Container Service gives the container ``XNAT_HOST``, ``XNAT_USER`` (an alias
    token) and ``XNAT_PASS`` (container-service ``ContainerServiceImpl``); the site
    secret arrives as ``$SARCOMA_XNAT_SITE_SECRET`` from the command's ``secrets``
    block, never as an input (see ``xnat-commands/deid.json``).
    """
    from sarcoma_xnat.archive.xnat import XnatArchive
    from sarcoma_xnat.deid import Deidentifier, LinkageFile
    from sarcoma_xnat.deid.site import load_site_config
    from sarcoma_xnat.ingest.folder import ingest_folder
    from sarcoma_xnat.paths import check_input_folder
    from sarcoma_xnat.xnat import connect

    source = check_input_folder(args.input, "--input")
    deidentifier = Deidentifier(_key(args), site=load_site_config(_site_config(args.site_config)))
    linkage = LinkageFile(args.linkage, deidentifier.key) if args.linkage else None
    if linkage is not None:
        linkage.check_key()  # another secret would split patients: refuse before any work
    with connect() as client:
        report = ingest_folder(source, XnatArchive(client), args.project, deidentifier, linkage,
                               jobs=args.jobs)
    print(report.summary())
    for ref in report.stored:
        print(f"stored {ref.uri}")
    for failed in report.failed:
        print(f"study {failed.session} not stored: {'; '.join(failed.reasons)}", file=sys.stderr)
    for skipped in report.skipped:
        print(f"skipped {skipped.file}: {skipped.reason}", file=sys.stderr)
    return 0 if report.ok else EXIT_SKIPPED


def _outside(out: Any, source: Any, **files: str | None) -> None:
    """Refuse a linkage file or audit log inside the output (replaced, uploaded) or the input."""
    from pathlib import Path

    from sarcoma_xnat.errors import ConfigurationError

    for name, value in files.items():
        if value is None:
            continue
        path = Path(value).expanduser().resolve()
        for folder, what in ((out, "output"), (source, "input")):
            if folder in path.parents:
                raise ConfigurationError(f"--{name.replace('_', '-')} {path} lies inside the "
                                         f"{what} folder {folder}: keep it outside both")


def _linkage(path: str, key: Any) -> Any:
    """Return an existing linkage file, checked against ``key``."""
    from pathlib import Path

    from sarcoma_xnat.deid.linkage import LinkageFile
    from sarcoma_xnat.errors import ConfigurationError

    if not Path(path).is_file():
        raise ConfigurationError(f"linkage file {path} does not exist; give the file that "
                                 "'deid run' or 'ingest' wrote with --linkage")
    linkage = LinkageFile(path, key)
    linkage.check_key()
    return linkage


def _verify(args: argparse.Namespace) -> int:
    from sarcoma_xnat.errors import ConfigurationError

    key = _key(args)
    if args.patient_id is not None:
        pseudonym = key.pseudonym(args.patient_id)
        print(pseudonym)
        if args.linkage and pseudonym not in _linkage(args.linkage, key).pseudonyms():
            print("note: this pseudonym is not in the linkage file", file=sys.stderr)
        return 0
    if not args.linkage:
        raise ConfigurationError("--pseudonym needs --linkage FILE: a pseudonym cannot be "
                                 "reversed without the site's linkage file")
    ids = _linkage(args.linkage, key).patient_ids(args.pseudonym)
    if not ids:
        print(f"{args.pseudonym}: not in the linkage file", file=sys.stderr)
        return 1
    mismatched = [pid for pid in ids if key.pseudonym(pid) != args.pseudonym]
    if mismatched:
        raise ConfigurationError("the linkage file does not match this site secret for "
                                 f"{args.pseudonym}")
    for pid in ids:
        print(pid)
    return 0


def _check(args: argparse.Namespace) -> int:
    """Print every finding of :func:`~sarcoma_xnat.deid.check.check_folders`; 1 if any."""
    from sarcoma_xnat.deid.check import check_folders
    from sarcoma_xnat.paths import check_input_folder

    report = check_folders(check_input_folder(args.original, "ORIGINAL_DIR"),
                           check_input_folder(args.deidentified, "DEIDENTIFIED_DIR"))
    for finding in report.findings:  # where a value is, never the value itself
        print(f"{finding.kind}: {finding.file} {finding.where}: {finding.detail}")
    kinds = {k: sum(f.kind == k for f in report.findings)
             for k in ("survivor", "reference", "pixels", "removed")}
    print(f"checked {report.outputs} output file(s) against {report.originals} original(s), "
          f"{report.values} identifying value(s): " + ", ".join(f"{n} {k}" for k, n in kinds.items()),
          file=sys.stderr)
    return EXIT_SKIPPED if report.findings else 0
