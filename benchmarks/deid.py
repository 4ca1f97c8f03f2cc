"""Benchmark: de-identify one synthetic corpus with sarcoma-xnat, dicognito and deid.

Generates a synthetic cohort (standard preset, full of planted PHI), exports its DICOM
files into a folder whose file and folder names carry the patient's name (as manual
exports do), then de-identifies that folder with each tool, each run in a process of
its own (one after the other, ``--repeat`` rounds), plus a plain copy of the same
files as the limit no tool can beat. For each it prints files per second (wall), CPU
seconds (user + system, the tool's worker processes included), peak memory (largest
process), and how many planted PHI values survive anywhere in its output (headers,
nested sequences, private elements, file and folder names). sarcoma-xnat's output is
also given to ``sarcoma-xnat deid check`` (the independent scan), whose survivor count
is printed. The ratio column is files/s against dicognito's in the same round.

Peers are used as their documentation says: dicognito's ``Anonymizer.anonymize`` with
output named by SOP Instance UID (its CLI's ``--output-directory``), deid's
``replace_identifiers(..., save=True, output_folder=...)`` with its default recipe.
Both are in the ``dev`` extra (``pip install -e .[dev]``); a missing peer is reported.

Usage: ``python benchmarks/deid.py [--subjects 26] [--jobs N] [--repeat 3] [--workdir DIR]``
(26 subjects of the standard preset give about 2,100 files; ``--jobs`` is sarcoma-xnat's,
default every core; the peers have no such option).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# this file is named deid.py: keep its folder off the import path, or it shadows the deid package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import pydicom  # noqa: E402

# each tool runs in a child process of its own that imports only what that tool needs


def make_corpus(workdir: Path, subjects: int) -> tuple[Path, list[str]]:
    """Generate the cohort and export it to ``workdir/corpus``; return it and the planted PHI.

    A corpus this made before in ``workdir`` (with its ``phi.txt``) is used again.
    """
    from sarcoma_xnat.archive import LocalArchive
    from sarcoma_xnat.synthetic import generate_cohort

    corpus, listed = workdir / "corpus", workdir / "phi.txt"
    if corpus.is_dir() and listed.is_file():
        return corpus, listed.read_text("utf-8").splitlines()
    archive = LocalArchive(workdir / "hospital")
    manifest = generate_cohort(archive, "BENCH", n_subjects=subjects, seed=11, preset="standard",
                               truth_dir=workdir / "truth")
    for path in sorted(archive.root.rglob("*.dcm")):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        name = str(ds.PatientName).replace("^", "_")
        folder = corpus / f"{name}_{ds.PatientID}" / f"{ds.Modality}_{ds.SeriesNumber}"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, folder / f"{name}_{ds.SeriesNumber}_{ds.InstanceNumber or 1:04d}.dcm")
    phi = sorted({v for values in manifest.phi.values() for v in values})
    listed.write_text("\n".join(phi), "utf-8")
    return corpus, phi


def run_sarcoma(corpus: Path, out: Path, jobs: int | None = None) -> int:
    """De-identify with this project's engine; return the number of files written."""
    from sarcoma_xnat.deid import Deidentifier, SiteKey, deidentify_folder

    key = SiteKey(b"benchmark-site-secret-0123456789")
    return len(deidentify_folder(corpus, out, Deidentifier(key), jobs=jobs).written)


def run_copy(corpus: Path, out: Path) -> int:
    """Copy every file (read and write the same bytes): the limit for any tool."""
    count = 0
    for path in sorted(corpus.rglob("*.dcm")):
        target = out / path.relative_to(corpus)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
        count += 1
    return count


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


TOOLS: dict[str, Callable[[Path, Path], int]] = {
    "sarcoma-xnat": run_sarcoma, "dicognito": run_dicognito, "deid": run_deid, "copy": run_copy}


def _one_tool(name: str, corpus: Path, out: Path, jobs: int | None) -> int:
    """Run one tool in this process (the child side of :func:`_measure`); exit 3 if missing."""
    logging.disable(logging.CRITICAL)
    try:
        written = run_sarcoma(corpus, out, jobs) if name == "sarcoma-xnat" else \
            TOOLS[name](corpus, out)
    except ImportError as exc:
        print(f"{name}: not installed ({exc.name}); pip install -e .[dev]", file=sys.stderr)
        return 3
    import resource

    # peak memory of the largest process: this one's high-water mark since it started
    # (VmHWM; ru_maxrss would carry the benchmark's own, inherited at fork) or a worker's
    status = Path("/proc/self/status").read_text() if Path("/proc/self/status").exists() else ""
    own = next((int(line.split()[1]) for line in status.splitlines()
                if line.startswith("VmHWM:")), 0)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(written, max(own, workers))
    return 0


def _measure(name: str, corpus: Path, out: Path, jobs: int | None) -> dict[str, float] | None:
    """Run one tool as a child process; return files, wall s, CPU s and peak memory (MiB)."""
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, __file__, "--tool", name, "--corpus", str(corpus),
               "--out", str(out)] + (["--jobs", str(jobs)] if jobs else [])
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert child.stdout is not None
    printed = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        return None
    files, peak_kib = printed.split()[-2:]
    return {"files": int(files), "wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
            "rss": int(peak_kib) / 1024}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=26)
    parser.add_argument("--jobs", type=int, default=None, help="sarcoma-xnat's --jobs")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of all tools")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--tool", choices=sorted(TOOLS), help=argparse.SUPPRESS)
    parser.add_argument("--corpus", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.tool:
        return _one_tool(args.tool, args.corpus, args.out, args.jobs)
    from sarcoma_xnat.deid import find_phi
    from sarcoma_xnat.deid.check import check_folders

    logging.basicConfig(level=logging.WARNING)
    for noisy in ("deid", "dicognito", "sarcoma_xnat"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="sarcoma-bench-"))
    t0 = time.perf_counter()
    corpus, phi = make_corpus(work, args.subjects)
    n_files = len(list(corpus.rglob("*.dcm")))
    print(f"corpus: {n_files} files, {sum(1 for _ in corpus.iterdir())} patients, "
          f"{len(phi)} planted PHI values "
          f"(generated in {time.perf_counter() - t0:.0f} s); cores: {os.cpu_count()}, "
          f"load average before: {os.getloadavg()[0]:.1f}")
    planted = find_phi(corpus, phi)
    print(f"input: {len({h.value for h in planted})} of {len(phi)} planted values present, "
          f"{len(planted)} file x value hits")
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in TOOLS}
    for _ in range(args.repeat):  # rounds: every tool once per round, in turn
        for name in TOOLS:
            measured = _measure(name, corpus, work / f"out-{name}", args.jobs)
            if measured is not None:
                runs[name].append(measured)
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    print()
    print(f"Medians of {args.repeat} rounds. CPU s is user + system time of the tool's "
          "processes; peak memory is the largest process's.")
    print(f"| tool | files | files/s (wall) | x dicognito | CPU s | peak MiB | "
          f"planted values surviving (of {len(phi)}) | file x value hits |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    peer = runs["dicognito"]
    for name, measured in runs.items():
        if not measured:
            print(f"| {name} | not run | | | | | | |")
            continue
        hits = find_phi(work / f"out-{name}", phi)
        rate = statistics.median(m["files"] / m["wall"] for m in measured)
        ratio = (statistics.median(m["files"] / m["wall"] / (p["files"] / p["wall"])
                                   for m, p in zip(measured, peer)) if peer else float("nan"))
        print(f"| {name} | {int(measured[-1]['files'])} | {rate:.0f} | {ratio:.2f} | "
              f"{statistics.median(m['cpu'] for m in measured):.1f} | "
              f"{statistics.median(m['rss'] for m in measured):.0f} | "
              f"{len({h.value for h in hits})} | {len(hits)} |")
    report = check_folders(corpus, work / "out-sarcoma-xnat")
    print(f"\nsarcoma-xnat deid check: {len(report.survivors)} survivors, "
          f"{len(report.findings)} findings in {report.outputs} files")
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
