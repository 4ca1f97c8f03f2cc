"""NIfTI reading and byte-for-byte reproducible writing.

SimpleITK writes the NIfTI header and voxels (converting its LPS frame to
NIfTI's RAS); we gzip the result ourselves with a zero timestamp and no file
name in the gzip header, so the same image always gives the same bytes.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
from pathlib import Path

import SimpleITK as sitk

from sarcoma_xnat.errors import InputDataError

__all__ = ["read_nifti", "write_nifti"]

#: gzip level 1: float images barely compress better at higher levels, and it is 3-5x faster
GZIP_LEVEL = 1


def write_nifti(image: sitk.Image, path: str | os.PathLike[str]) -> Path:
    """Write ``image`` to ``path`` (``.nii`` or ``.nii.gz``) reproducibly; return the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    compress = target.name.endswith(".gz")
    if not compress and target.suffix != ".nii":
        raise ValueError(f"NIfTI file names end in .nii or .nii.gz, got {target.name}")
    fd, tmp_name = tempfile.mkstemp(prefix=".nifti-", suffix=".nii", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        sitk.WriteImage(image, str(tmp), useCompression=False)
        if compress:
            gz_tmp = tmp.with_suffix(".nii.gz")
            with open(tmp, "rb") as src, open(gz_tmp, "wb") as raw, \
                    gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                                  compresslevel=GZIP_LEVEL) as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            os.replace(gz_tmp, target)
        else:
            os.replace(tmp, target)
    finally:
        for leftover in (tmp, tmp.with_suffix(".nii.gz")):
            leftover.unlink(missing_ok=True)
    return target


def read_nifti(path: str | os.PathLike[str]) -> sitk.Image:
    """Read a NIfTI file into a SimpleITK image (LPS frame); refuse unreadable files."""
    p = Path(path)
    if not p.is_file():
        raise InputDataError(f"no such NIfTI file: {p.name}", file=p.name)
    try:
        return sitk.ReadImage(str(p))
    except RuntimeError as exc:
        raise InputDataError("not a readable NIfTI image", file=p.name) from exc
