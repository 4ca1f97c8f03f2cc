"""``sarcoma-xnat preprocess`` and the single operations ``n4``, ``zscore``, ``resample``, ``roi-mask``.

``preprocess`` runs in two forms: ``--input DIR --output DIR`` (the container form: a
session mounted in the Container Service layout) and ``--archive ROOT --target URI``
(a session of a local archive; the output is stored as a session resource). The
single operations work on files: a NIfTI file or a folder of one DICOM series.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

__all__ = ["register"]


def _iterations(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _add_preprocess(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "preprocess", help="T1+T2 DICOM -> N4 -> z-score -> 128^3, ROI mask, QC and measurements",
        description="Preprocess one MR session. Either --input/--output (container form) or "
                    "--archive/--target (local archive; output stored as a session resource).")
    where = p.add_argument_group("where")
    where.add_argument("--input", type=Path, help="session folder (SCANS/, ASSESSORS/)")
    where.add_argument("--output", type=Path, help="output folder, outside the input (replaced "
                       "atomically; an existing one must be a previous output)")
    where.add_argument("--archive", type=Path, help="local archive root")
    where.add_argument("--target", "--session", dest="session_uri", help="session URI in the archive, "
                       "e.g. /archive/projects/P/subjects/S/experiments/E")
    where.add_argument("--label", default=None, help="resource label (default PREPROCESSED)")
    where.add_argument("--xnat-session", help="container form: the session's XNAT URI; with "
                       "XNAT_HOST/XNAT_USER/XNAT_PASS set (the Container Service sets them), scan "
                       "types and the project's SERIES_RULES are read and the measurement fields "
                       "set on the session through the REST API")
    sel = p.add_argument_group("series and annotation")
    sel.add_argument("--t1-pattern", help="regex over scan type + SeriesDescription for T1")
    sel.add_argument("--t2-pattern", help="regex over scan type + SeriesDescription for T2")
    sel.add_argument("--t1-scan", help="scan ID of the T1 series (overrides the pattern)")
    sel.add_argument("--t2-scan", help="scan ID of the T2 series (overrides the pattern)")
    sel.add_argument("--rules", type=Path, help="series rules file, or a folder holding "
                     "series_rules.json (default: the project's SERIES_RULES resource with "
                     "--archive; a folder without the file means the default rules)")
    sel.add_argument("--roi-type", choices=("SEG", "RTSTRUCT"), type=str.upper,
                     help="preferred ROI collection type (default SEG)")
    sel.add_argument("--roi-collection", help="label of the ROI collection assessor to use")
    sel.add_argument("--segment-label", help="segment/ROI name (default: the only one, or Tumour)")
    sel.add_argument("--require-roi", action="store_true", default=None,
                     help="fail when the session has no annotation")
    img = p.add_argument_group("processing")
    img.add_argument("--grid", choices=("fov", "box"), help="whole T1 field of view (default) or "
                     "a cube around the tumour")
    img.add_argument("--margin-mm", type=float, help="margin around the tumour in box mode (20)")
    img.add_argument("--size", type=int, help="voxels per axis of the output grid (128)")
    img.add_argument("--interpolator", choices=("bspline", "linear"), help="image interpolation")
    img.add_argument("--n4-target-voxels", type=int, help="voxels of the shrunk N4 image (64000)")
    img.add_argument("--n4-iterations", type=_iterations, help="iterations per level, e.g. 50,50,50")
    img.add_argument("--n4-threads", type=int, help="threads of the N4 fit (2; fixed for "
                     "reproducible output)")
    img.add_argument("--min-overlap", type=float, help="least fraction of the grid the T2 covers (0.5)")
    ctx = p.add_argument_group("labels for messages")
    ctx.add_argument("--subject-label", dest="subject", help="subject label (for error messages)")
    ctx.add_argument("--session-label", dest="session", help="session label (for error messages)")
    p.set_defaults(_run=run_preprocess)


_PARAM_KEYS = ("t1_pattern", "t2_pattern", "t1_scan", "t2_scan", "roi_type", "roi_collection",
               "segment_label", "require_roi", "grid", "margin_mm", "size", "interpolator",
               "n4_target_voxels", "n4_iterations", "n4_threads", "min_overlap", "subject", "session")


def run_preprocess(args: argparse.Namespace) -> int:
    """Run the preprocess step in the form the arguments ask for."""
    from sarcoma_xnat.errors import ConfigurationError
    from sarcoma_xnat.paths import check_archive, check_input_folder, check_output_folder
    from sarcoma_xnat.steps import preprocess as step

    params: dict[str, Any] = {k: getattr(args, k) for k in _PARAM_KEYS if getattr(args, k) is not None}
    if args.rules is not None:
        from sarcoma_xnat.steps.series_rules import read_rules

        params["series_rules"] = read_rules(args.rules)
    local = args.archive is not None or args.session_uri is not None
    files = args.input is not None or args.output is not None
    if local == files:
        raise ConfigurationError("give either --input and --output, or --archive and --target")
    if files:
        if args.input is None or args.output is None:
            raise ConfigurationError("--input and --output go together")
        source = check_input_folder(args.input, "--input")
        check_output_folder(args.output, "--output", {"--input": source})
        from sarcoma_xnat.steps.preprocess_xnat import connect_session, push_measurements

        link = connect_session(args.xnat_session, read_rules=args.rules is None)
        if link is not None and link.series_rules is not None:
            params["series_rules"] = link.series_rules
        result = step.run(args.input, args.output, params,
                          scan_types=link.scan_types if link is not None else None)
        where = str(result.output_dir)
        if link is not None and result.skipped is None:
            fields = push_measurements(link, result.measurements)
            if fields:
                print(f"set {len(fields)} measurement fields on the session")
    else:
        if args.archive is None or args.session_uri is None:
            raise ConfigurationError("--archive and --target go together")
        from sarcoma_xnat.archive import LocalArchive, ObjectRef

        result = step.run_on_archive(LocalArchive(check_archive(args.archive)), ObjectRef.parse(args.session_uri),
                                     params, label=args.label or step.RESOURCE_LABEL)
        where = f"{args.session_uri} resource {args.label or step.RESOURCE_LABEL} ({result.output_dir})"
    if result.skipped is not None:
        return 0  # not an error: the step logged the one line that says why nothing was written
    tumour = result.measurements.get("tumour")
    print(f"preprocess wrote {', '.join(result.files)} to {where}")
    if tumour:
        print(f"tumour volume {tumour['volume_mm3']:.0f} mm3, longest diameter "
              f"{tumour['longest_diameter_mm']:.1f} mm")
    if result.output_dir is not None:
        print(f"QC picture: {Path(result.output_dir) / 'qc.png'}")
    return 0


def _load(path: Path) -> Any:
    """Read a NIfTI file or a folder holding one DICOM series."""
    from sarcoma_xnat.imaging.dicom_series import read_scan
    from sarcoma_xnat.imaging.nifti import read_nifti

    return read_scan(path).image if Path(path).is_dir() else read_nifti(path)


def run_n4(args: argparse.Namespace) -> int:
    """Bias-correct one image (foreground mask from Otsu unless --mask is given)."""
    from sarcoma_xnat.imaging.bias import n4_correct
    from sarcoma_xnat.imaging.intensity import foreground_mask
    from sarcoma_xnat.imaging.nifti import write_nifti

    image = _load(args.input)
    mask = _load(args.mask) if args.mask else foreground_mask(image)
    result = n4_correct(image, mask, target_voxels=args.target_voxels, iterations=args.iterations)
    write_nifti(result.corrected, args.output)
    if args.field:
        write_nifti(result.log_bias_field, args.field)
    print(f"N4 (shrink {result.shrink}, iterations {list(result.iterations)}) -> {args.output}")
    return 0


def run_zscore(args: argparse.Namespace) -> int:
    """Z-score one image over its foreground (or --mask)."""
    from sarcoma_xnat.imaging.intensity import foreground_mask, zscore
    from sarcoma_xnat.imaging.nifti import write_nifti

    image = _load(args.input)
    mask = _load(args.mask) if args.mask else foreground_mask(image)
    out, stats = zscore(image, mask)
    write_nifti(out, args.output)
    print(json.dumps({"mean": stats.mean, "std": stats.std, "voxels": stats.voxels}))
    return 0


def run_resample(args: argparse.Namespace) -> int:
    """Resample an image onto the 128^3 grid of a reference (whole FOV or tumour box)."""
    from sarcoma_xnat.errors import ConfigurationError
    from sarcoma_xnat.imaging.nifti import write_nifti
    from sarcoma_xnat.imaging.resample import box_grid, fov_grid, resample_to_grid

    image = _load(args.input)
    reference = _load(args.reference) if args.reference else image
    if args.grid == "box":
        if not args.mask:
            raise ConfigurationError("--grid box needs --mask (on the reference grid)")
        grid = box_grid(reference, _load(args.mask), args.size, args.margin_mm)
    else:
        grid = fov_grid(reference, args.size)
    write_nifti(resample_to_grid(image, grid, args.interpolator), args.output)
    print(json.dumps(grid.describe()))
    return 0


def run_roi_mask(args: argparse.Namespace) -> int:
    """Turn a SEG or RTSTRUCT file into a mask on the first --series' grid."""
    from sarcoma_xnat.imaging.dicom_series import read_scan
    from sarcoma_xnat.imaging.measure import measure_mask
    from sarcoma_xnat.imaging.nifti import write_nifti
    from sarcoma_xnat.imaging.roi import roi_mask

    volumes = [read_scan(folder) for folder in args.series]
    result = roi_mask(args.annotation, volumes[0], {v.series_uid: v for v in volumes},
                      args.segment_label)
    write_nifti(result.mask, args.output)
    print(json.dumps({"kind": result.kind, "segment": result.segment_label,
                      **measure_mask(result.mask)}, indent=2))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``preprocess``, ``n4``, ``zscore``, ``resample`` and ``roi-mask``."""
    _add_preprocess(subparsers)
    n4 = subparsers.add_parser("n4", help="N4 bias-field correction of one image (fast, shrunk fit)")
    n4.add_argument("input", type=Path, help="NIfTI file or DICOM series folder")
    n4.add_argument("output", type=Path, help="corrected image (.nii.gz)")
    n4.add_argument("--mask", type=Path, help="foreground mask (default: Otsu)")
    n4.add_argument("--field", type=Path, help="also write the log bias field here")
    n4.add_argument("--target-voxels", type=int, default=64_000, help="voxels of the shrunk image N4 fits on")
    n4.add_argument("--iterations", type=_iterations, default=(50, 50, 50), help="iterations per fitting level, e.g. 50,50,50")
    n4.set_defaults(_run=run_n4)
    zs = subparsers.add_parser("zscore", help="z-score normalization over the foreground")
    zs.add_argument("input", type=Path, help="image to normalise (.nii.gz)")
    zs.add_argument("output", type=Path, help="normalised image (.nii.gz)")
    zs.add_argument("--mask", type=Path, help="foreground mask (default: Otsu)")
    zs.set_defaults(_run=run_zscore)
    rs = subparsers.add_parser("resample", help="resample onto a 128^3 grid in physical space")
    rs.add_argument("input", type=Path, help="image to resample (.nii.gz)")
    rs.add_argument("output", type=Path, help="resampled image (.nii.gz)")
    rs.add_argument("--reference", type=Path, help="image whose frame and FOV define the grid")
    rs.add_argument("--grid", choices=("fov", "box"), default="fov", help="whole field of view or a cube around the mask")
    rs.add_argument("--mask", type=Path, help="tumour mask on the reference grid (box mode)")
    rs.add_argument("--margin-mm", type=float, default=20.0, help="margin around the mask in box mode")
    rs.add_argument("--size", type=int, default=128, help="voxels per axis of the output grid")
    rs.add_argument("--interpolator", choices=("bspline", "linear", "nearest"), default="bspline", help="interpolation (nearest for masks)")
    rs.set_defaults(_run=run_resample)
    rm = subparsers.add_parser("roi-mask", help="SEG or RTSTRUCT -> mask on a series' grid")
    rm.add_argument("annotation", type=Path, help="SEG or RTSTRUCT file")
    rm.add_argument("output", type=Path, help="mask (.nii.gz)")
    rm.add_argument("--series", type=Path, action="append", required=True,
                    help="DICOM series folder; the first is the reference grid (repeatable)")
    rm.add_argument("--segment-label", help="segment/ROI name")
    rm.set_defaults(_run=run_roi_mask)
