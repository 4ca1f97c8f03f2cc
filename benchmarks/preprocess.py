"""Benchmark ``preprocess`` on one synthetic study against full-resolution SimpleITK N4.

Prints one table: per-stage seconds of our step for a whole study (T1 + T2, DICOM →
128³ outputs), its peak memory, then, in the same process, the reference — SimpleITK
N4 at full resolution with its default settings (4 levels × 50 iterations, no
shrinking), given the same foreground mask — on the same two series, and the
agreement of the two corrected images (Pearson correlation inside the foreground).
The reference takes minutes per series; run this once and record the numbers.

    python benchmarks/preprocess.py [--preset standard] [--seed 0] [--reference t1,t2]

Goals (issue 3): whole study ≤ 15 s on 2 cores, ≥ 10× faster than the reference,
correlation ≥ 0.99.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk


def _reset_peak() -> None:
    """Reset the kernel's peak-RSS counter (VmHWM) of this process, where allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _correlation(a: sitk.Image, b: sitk.Image, mask: sitk.Image) -> float:
    m = sitk.GetArrayViewFromImage(mask) > 0
    x = sitk.GetArrayViewFromImage(a)[m].astype(np.float64)
    y = sitk.GetArrayViewFromImage(b)[m].astype(np.float64)
    return float(np.corrcoef(x, y)[0, 1])


def main() -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="standard", choices=("standard", "small"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reference", default="t1,t2", help="series to run the reference on")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()

    from sarcoma_xnat.archive import LocalArchive
    from sarcoma_xnat.imaging.dicom_series import read_scan
    from sarcoma_xnat.imaging.intensity import foreground_mask
    from sarcoma_xnat.imaging.nifti import read_nifti
    from sarcoma_xnat.steps.preprocess import run_on_archive
    from sarcoma_xnat.synthetic import generate_cohort

    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-preprocess-") as tmp:
        archive = LocalArchive(Path(tmp) / "archive")
        session = generate_cohort(archive, n_subjects=1, seed=args.seed, preset=args.preset).sessions[0]
        run_on_archive(archive, session)  # warm-up: imports, file cache
        _reset_peak()
        t0 = time.perf_counter()
        result = run_on_archive(archive, session)
        ours_total = time.perf_counter() - t0
        ours_peak = _peak_mb()
        prov = json.loads((result.output_dir / "provenance.json").read_text())
        for stage, seconds in sorted(prov["timings"].items(), key=lambda kv: -kv[1]):
            rows.append((f"ours: {stage}", f"{seconds:.2f}", ""))
        rows.append(("ours: whole study (stage + store)", f"{ours_total:.2f}", f"{ours_peak:.0f}"))
        base = archive.path(session) / "scans"
        ref_total, corr = 0.0, {}
        scan_of = {"t1": "1", "t2": "2"}
        for ch in [c.strip() for c in args.reference.split(",") if c.strip()]:
            image = sitk.Cast(read_scan(base / scan_of[ch] / "resources" / "DICOM" / "files").image,
                              sitk.sitkFloat32)
            mask = foreground_mask(image)
            _reset_peak()
            t0 = time.perf_counter()
            reference = sitk.N4BiasFieldCorrectionImageFilter().Execute(image, mask)
            seconds = time.perf_counter() - t0
            ref_total += seconds
            ours = read_nifti(result.output_dir / f"{ch}_n4.nii.gz")
            corr[ch] = _correlation(ours, reference, mask)
            rows.append((f"reference: N4 full-res default, {ch.upper()} {image.GetSize()}",
                         f"{seconds:.2f}", f"{_peak_mb():.0f}"))
        n4_ours = prov["timings"].get("n4", float("nan"))
        if ref_total > 0:
            rows.append(("ratio: reference N4 / our whole study", f"{ref_total / ours_total:.1f}x", ""))
            rows.append(("ratio: reference N4 / our N4 stage", f"{ref_total / n4_ours:.1f}x", ""))
        for ch, value in corr.items():
            rows.append((f"foreground correlation ours vs reference, {ch.upper()}", f"{value:.4f}", ""))
    width = max(len(r[0]) for r in rows)
    print(f"preprocess benchmark: preset {args.preset}, seed {args.seed}, {os.cpu_count()} CPUs")
    print(f"| {'what'.ljust(width)} | seconds / value | peak RSS MB |")
    print(f"|{'-' * (width + 2)}|-----------------|-------------|")
    for name, value, peak in rows:
        print(f"| {name.ljust(width)} | {value:>15} | {peak:>11} |")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "correlation": corr}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
