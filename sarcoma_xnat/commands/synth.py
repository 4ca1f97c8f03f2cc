"""``sarcoma-xnat synth``: write a synthetic sarcoma cohort to a local archive."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``synth`` subcommand."""
    p = subparsers.add_parser(
        "synth", help="write a synthetic sarcoma cohort (DICOM T1/T2, annotations, clinical data)",
        description="Write a synthetic cohort to a local archive. All data is invented; the "
                    "DICOM headers carry fake PHI on purpose, for de-identification tests.")
    p.add_argument("--subjects", type=int, default=10, help="number of subjects (default 10)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--output", "--out", dest="out", type=Path, required=True, help="local archive folder: new (its parent must exist), empty, or an archive")
    p.add_argument("--project", default="SYNTH", help="project ID (default SYNTH)")
    p.add_argument("--preset", choices=("standard", "small"), default="standard",
                   help="image size: standard (256x256, ~40 slices) or small (tests)")
    p.set_defaults(_run=run)


def run(args: argparse.Namespace) -> int:
    """Generate the cohort and print where it went."""
    from sarcoma_xnat.archive import LocalArchive
    from sarcoma_xnat.errors import ConfigurationError
    from sarcoma_xnat.paths import check_archive, provisional_folder
    from sarcoma_xnat.synthetic import generate_cohort

    if args.subjects < 1:
        raise ConfigurationError(f"--subjects must be at least 1, got {args.subjects}")
    with provisional_folder(check_archive(args.out, "--out", create=True)) as root:
        manifest = generate_cohort(LocalArchive(root), project=args.project,
                                   n_subjects=args.subjects, seed=args.seed, preset=args.preset)
    print(f"wrote {len(manifest.subjects)} subjects to project {manifest.project} in {args.out}")
    print(f"ground truth: {manifest.truth_dir}")
    return 0
