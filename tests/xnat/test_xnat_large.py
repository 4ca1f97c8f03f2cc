"""A 1 GiB resource moves through the SDK with flat memory (upload and download streamed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SIZE = 1 << 30
SCRIPT = r"""
import json, resource, sys, tracemalloc
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from xnat_emulator import XnatEmulator
from sarcoma_xnat.archive import ObjectRef
from sarcoma_xnat.xnat import ResourceRef, connect

root = Path(sys.argv[1])
src = root / "src"
src.mkdir()
with open(src / "big.bin", "wb") as fh:       # sparse: no memory, little disk until written
    fh.seek(%(size)d - 16)
    fh.write(b"end-of-big-file!")
emu = XnatEmulator(root / "xnat").start()
client = connect(emu.url, "admin", "admin-pass")
client.objects.create(ObjectRef("P"), "xnat:projectData")
res = ResourceRef(ObjectRef("P"), "BIG")
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tracemalloc.start()
client.files.upload_file(res, src / "big.bin")   # streamed from disk, server streams to disk
up = tracemalloc.get_traced_memory()[1]
tracemalloc.reset_peak()
(path,) = client.files.download_resource(res, root / "dest")   # streamed, MD5-verified
down = tracemalloc.get_traced_memory()[1]
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"base_kib": base, "peak_kib": peak, "size": path.stat().st_size,
                  "upload_heap": up, "download_heap": down}))
client.close(); emu.stop()
"""


@pytest.mark.slow
def test_one_gib_round_trip_keeps_memory_flat(tmp_path: Path):
    script = SCRIPT % {"size": SIZE}
    tests_dir = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [
        str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH")])))
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path), tests_dir], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["size"] == SIZE
    # client and emulator share the process: both sides must stream
    assert result["upload_heap"] < 32 * 2**20 and result["download_heap"] < 32 * 2**20, result
    assert result["peak_kib"] - result["base_kib"] < 64 * 1024, result
