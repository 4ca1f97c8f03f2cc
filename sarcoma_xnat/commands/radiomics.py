"""``sarcoma-xnat radiomics``: PyRadiomics features, DICOM SEG and TID 1500 SR of a preprocessed session.

Two forms, as for ``preprocess``: ``--input DIR --output DIR`` (the container form: a
session mounted in the Container Service layout, with its ``PREPROCESSED`` resource)
and ``--archive ROOT --target URI`` (a session of a local archive; the output is
stored as session resource ``RADIOMICS``). ``--send-to HOST:PORT --called-ae AET``
also C-STOREs the SEG and SR to a PACS.
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``sarcoma-xnat radiomics``."""
    p = sub.add_parser(
        "radiomics", help="PyRadiomics features of the tumour on T1/T2, DICOM SEG and SR",
        description="Radiomics of one preprocessed MR session (needs the [radiomics] extra): "
                    "features on the N4-corrected T1 and T2 in the tumour mask (CSV, JSON), the "
                    "mask as a DICOM SEG on the T1 series and a TID 1500 measurement report. "
                    "Either --input/--output (container form) or --archive/--target.")
    where = p.add_argument_group("where")
    where.add_argument("--input", type=Path, help="session folder (SCANS/, RESOURCES/PREPROCESSED/)")
    where.add_argument("--output", type=Path, help="output folder, outside the input (replaced "
                       "atomically; an existing one must be a previous output)")
    where.add_argument("--archive", type=Path, help="local archive root")
    where.add_argument("--target", "--session", dest="session_uri", help="session URI in the "
                       "archive, e.g. /archive/projects/P/subjects/S/experiments/E")
    where.add_argument("--label", default=None, help="resource label (default RADIOMICS)")
    p.add_argument("--params", type=Path, help="PyRadiomics parameter file (YAML) instead of "
                   "the one shipped with the suite (default: the shipped one)")
    p.add_argument("--session-label", dest="session", help="session label (for error messages)")
    pacs = p.add_argument_group("send the SEG and SR to a PACS (C-STORE)")
    pacs.add_argument("--send-to", metavar="HOST:PORT", help="the PACS's DICOM host and port")
    pacs.add_argument("--called-ae", help="the PACS's AE title (with --send-to)")
    pacs.add_argument("--calling-ae", default="SARCOMAXNAT", help="our AE title")
    p.set_defaults(_run=run_radiomics)


def _node(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from sarcoma_xnat.errors import ConfigurationError
    from sarcoma_xnat.ingest.pacs import PacsNode

    if args.send_to is None:
        if args.called_ae:
            raise ConfigurationError("--called-ae needs --send-to HOST:PORT")
        return None
    host, _, port = str(args.send_to).rpartition(":")
    if not host or not port.isdigit() or not args.called_ae:
        raise ConfigurationError(f"--send-to expects HOST:PORT and needs --called-ae; got "
                                 f"{args.send_to!r}")
    return PacsNode(host, int(port), args.called_ae)


def run_radiomics(args: argparse.Namespace) -> int:
    """Run the radiomics step in the form the arguments ask for."""
    from sarcoma_xnat.errors import ConfigurationError
    from sarcoma_xnat.paths import check_archive, check_input_folder, check_output_folder
    from sarcoma_xnat.steps import radiomics as step

    node = _node(args)
    local = args.archive is not None or args.session_uri is not None
    files = args.input is not None or args.output is not None
    if local == files:
        raise ConfigurationError("give either --input and --output, or --archive and --target")
    if files:
        if args.input is None or args.output is None:
            raise ConfigurationError("--input and --output go together")
        source = check_input_folder(args.input, "--input")
        check_output_folder(args.output, "--output", {"--input": source})
        result = step.run(args.input, args.output, args.params, args.session)
        where = str(result.output_dir)
    else:
        if args.archive is None or args.session_uri is None:
            raise ConfigurationError("--archive and --target go together")
        from sarcoma_xnat.archive import LocalArchive, ObjectRef

        label = args.label or step.RESOURCE_LABEL
        result = step.run_on_archive(LocalArchive(check_archive(args.archive)),
                                     ObjectRef.parse(args.session_uri), args.params, label)
        where = f"{args.session_uri} resource {label} ({result.output_dir})"
    print(f"radiomics wrote {', '.join(result.files)} to {where}")
    print(f"{len(result.features['t1'])} features per channel (T1, T2)")
    if node is not None and result.output_dir is not None:
        from sarcoma_xnat.quantify.pacs_send import store_files

        stored = store_files(node, [result.output_dir / "seg.dcm", result.output_dir / "sr.dcm"],
                             args.calling_ae)
        print(f"sent SEG and SR ({len(stored)} instances) to {node.ae_title} at "
              f"{node.host}:{node.port}")
    return 0
