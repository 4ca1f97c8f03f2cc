"""dicom3tools' ``dciodvfy`` on de-identified files: no error the input did not have."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pydicom
import pytest
from deidcorpus import (ct_with_nested_names, load, seg_like, sr_with_deep_text, with_charset,
                        with_un_and_private, write)

from sarcoma_xnat.deid import Deidentifier, dataset_bytes

pytestmark = pytest.mark.skipif(shutil.which("dciodvfy") is None,
                                reason="dicom3tools (dciodvfy) not installed")

#: PS3.15 requires these on output (Patient module, Type 1C when PatientIdentityRemoved is YES)
_ADDED_BY_DEID = ("DeidentificationMethod",)


def errors(path: Path) -> set[str]:
    """Return dciodvfy's error lines for ``path``, without values (UIDs, numbers)."""
    run = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    lines = (run.stdout + run.stderr).splitlines()
    return {re.sub(r"\d[\d.]*", "N", line) for line in lines if line.startswith("Error")
            and not any(k in line for k in _ADDED_BY_DEID)}


@pytest.mark.parametrize("build", [
    lambda: load("CT_small.dcm"), lambda: load("MR_small_bigendian.dcm"),
    lambda: load("MR_small_implicit.dcm"), lambda: load("rtplan.dcm"),
    lambda: load("rtstruct.dcm"), lambda: load("rtdose.dcm"), lambda: load("liver_1frame.dcm"),
    ct_with_nested_names, sr_with_deep_text, with_un_and_private, seg_like,
    lambda: with_charset(["", "ISO 2022 IR 87"], "Yamada^Tarou=山田^太郎=やまだ^たろう", "膝 山田"),
], ids=["ct", "mr-big-endian", "mr-implicit", "rtplan", "rtstruct", "rtdose", "enhanced",
        "ct-nested", "sr", "un-private", "seg", "iso2022"])
def test_output_has_no_new_iod_errors(build, deidentifier: Deidentifier, tmp_path: Path) -> None:
    ds = build()
    ds.PatientID = ds.get("PatientID") or "MRN0042117"
    source = write(ds, tmp_path / "in.dcm")
    out = tmp_path / "out.dcm"
    copy = pydicom.dcmread(source)
    deidentifier.deidentify(copy)
    out.write_bytes(dataset_bytes(copy))
    assert errors(out) - errors(source) == set()
