"""``sarcoma-xnat export``: the curated cohort of a project as a FAIR dataset folder."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["DEFAULT_LICENSE", "register"]

#: licence of the exported dataset unless --license says otherwise
DEFAULT_LICENSE = "https://creativecommons.org/licenses/by/4.0/"


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``sarcoma-xnat export``."""
    p = sub.add_parser(
        "export", help="the curated cohort as NIfTI/NRRD, tables and a JSON-LD description",
        description="Export every preprocessed session with a tumour mask of a project: images "
                    "and masks (NIfTI and NRRD), manifest.csv, clinical.csv, measurements.csv, "
                    "radiomics.csv and dataset.jsonld (schema.org Dataset with provenance). "
                    "The same archive gives the same bytes.")
    p.add_argument("--archive", type=Path, required=True, help="local archive root")
    p.add_argument("--project", required=True, help="project ID")
    p.add_argument("--output", "--out", dest="output", type=Path, required=True,
                   help="export folder, outside the archive (a new or empty folder, or an "
                        "earlier export, which is replaced)")
    p.add_argument("--license", dest="license_url", default=DEFAULT_LICENSE,
                   help="licence of the dataset (URL or SPDX identifier)")
    p.add_argument("--creator", help="who made the dataset (organisation; default: 'the "
                   "<project> study')")
    p.add_argument("--name", help="title of the dataset (default: '<project> curated sarcoma "
                   "MRI cohort')")
    p.add_argument("--formats", default="nifti,nrrd",
                   help="image formats, comma-separated: nifti, nrrd")
    p.set_defaults(_run=run_export)


def run_export(args: argparse.Namespace) -> int:
    """Export the project's curated cohort."""
    from sarcoma_xnat.archive import LocalArchive
    from sarcoma_xnat.export.cohort import export_cohort
    from sarcoma_xnat.paths import check_archive, check_output_folder

    root = check_archive(args.archive)
    out = check_output_folder(args.output, "--output", {"--archive": root})
    formats = tuple(f.strip().lower() for f in str(args.formats).split(",") if f.strip())
    report = export_cohort(LocalArchive(root), args.project, out, args.license_url,
                           args.creator or f"the {args.project} study", args.name, formats)
    print(f"exported {len(report.sessions)} sessions ({report.files} files) to {report.output}")
    for name, why in sorted(report.skipped.items()):
        print(f"skipped {name}: {why}")
    return 0
