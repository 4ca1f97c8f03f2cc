"""Benchmark: de-identify one synthetic corpus with sarcoma-xnat, dicognito and deid.

Generates a synthetic cohort (standard preset, full of planted PHI), exports its DICOM
files into a folder whose file and folder names carry the patient's name (as manual
exports do), then de-identifies that folder with each tool in this process, one after
the other, and prints files per second and how many planted PHI values survive
anywhere in each tool's output (headers, nested sequences, private elements, file and
folder names), with the ratio of throughput against sarcoma-xnat (the reference).

Peers are used as their documentation says: dicognito's ``Anonymizer.anonymize`` with
output named by SOP Instance UID (its CLI's ``--output-directory``), deid's
``replace_identifiers(..., save=True, output_folder=...)`` with its default recipe.
Both are in the ``dev`` extra (``pip install -e .[dev]``); a missing peer is reported.

Usage: ``python benchmarks/deid.py [--subjects 26] [--workdir DIR]`` (26 subjects of the
standard preset give about 2,100 files).
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# this file is named deid.py: keep its folder off the import path, or it shadows the deid package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import pydicom  # noqa: E402

from sarcoma_xnat.archive import LocalArchive  # noqa: E402
from sarcoma_xnat.deid import Deidentifier, SiteKey, deidentify_folder, find_phi  # noqa: E402
from sarcoma_xnat.synthetic import generate_cohort  # noqa: E402


def make_corpus(workdir: Path, subjects: int) -> tuple[Path, list[str]]:
    """Generate the cohort and export it to ``workdir/corpus``; return it and the planted PHI."""
    archive = LocalArchive(workdir / "hospital")
    manifest = generate_cohort(archive, "BENCH", n_subjects=subjects, seed=11, preset="standard",
                               truth_dir=workdir / "truth")
    corpus = workdir / "corpus"
    for path in sorted(archive.root.rglob("*.dcm")):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        name = str(ds.PatientName).replace("^", "_")
        folder = corpus / f"{name}_{ds.PatientID}" / f"{ds.Modality}_{ds.SeriesNumber}"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, folder / f"{name}_{ds.SeriesNumber}_{ds.InstanceNumber or 1:04d}.dcm")
    phi = sorted({v for values in manifest.phi.values() for v in values})
    return corpus, phi


def run_sarcoma(corpus: Path, out: Path) -> int:
    """De-identify with this project's engine; return the number of files written."""
    key = SiteKey(b"benchmark-site-secret-0123456789")
    return len(deidentify_folder(corpus, out, Deidentifier(key)).written)


def run_dicognito(corpus: Path, out: Path) -> int:
    """De-identify with dicognito, saving as its CLI does (``<SOPInstanceUID>.dcm``)."""
    from dicognito.anonymizer import Anonymizer

    anonymizer = Anonymizer(seed="benchmark")
    out.mkdir(parents=True, exist_ok=True)
    count = 0
    for path in sorted(corpus.rglob("*.dcm")):
        ds = pydicom.dcmread(path)
        anonymizer.anonymize(ds)
        ds.save_as(out / f"{ds.SOPInstanceUID}.dcm")
        count += 1
    return count


def run_deid(corpus: Path, out: Path) -> int:
    """De-identify with pydicom/deid's default recipe and ``replace_identifiers``."""
    from deid.dicom import replace_identifiers

    out.mkdir(parents=True, exist_ok=True)
    files = [str(p) for p in sorted(corpus.rglob("*.dcm"))]
    return len(replace_identifiers(files, save=True, output_folder=str(out), overwrite=True))


TOOLS: list[tuple[str, Callable[[Path, Path], int]]] = [
    ("sarcoma-xnat", run_sarcoma), ("dicognito", run_dicognito), ("deid", run_deid)]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=26)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    for noisy in ("deid", "dicognito", "sarcoma_xnat"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="sarcoma-bench-"))
    t0 = time.perf_counter()
    corpus, phi = make_corpus(work, args.subjects)
    n_files = len(list(corpus.rglob("*.dcm")))
    print(f"corpus: {n_files} files, {args.subjects} subjects, {len(phi)} planted PHI values "
          f"(generated in {time.perf_counter() - t0:.0f} s)")
    planted = find_phi(corpus, phi)
    print(f"input: {len({h.value for h in planted})} of {len(phi)} planted values present, "
          f"{len(planted)} file x value hits")
    rows = []
    for name, func in TOOLS:
        out = work / f"out-{name}"
        shutil.rmtree(out, ignore_errors=True)
        try:
            start, cpu_start = time.perf_counter(), time.process_time()
            written = func(corpus, out)
            seconds = time.perf_counter() - start
            cpu = time.process_time() - cpu_start
        except ImportError as exc:
            print(f"{name}: not installed ({exc.name}); pip install -e .[dev]", file=sys.stderr)
            continue
        hits = find_phi(out, phi)
        rows.append((name, written, seconds, written / seconds, written / cpu,
                     len({h.value for h in hits}), len(hits)))
    reference = rows[0][4]
    print()
    print("files/s (CPU) divides by the process's CPU time, which other load on the machine "
          "does not inflate; the ratio is computed from it.")
    print(f"| tool | files | wall s | files/s (wall) | files/s (CPU) | ratio vs sarcoma-xnat | "
          f"planted values surviving (of {len(phi)}) | file x value hits |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, written, seconds, rate, cpu_rate, values, hits in rows:
        print(f"| {name} | {written} | {seconds:.1f} | {rate:.0f} | {cpu_rate:.0f} | "
              f"{cpu_rate / reference:.2f} | {values} | {hits} |")
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
