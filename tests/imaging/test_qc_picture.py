"""The QC picture: layout, mask outline, reproducible bytes."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
from PIL import Image

from sarcoma_xnat.imaging.qc import CELL, write_qc_png


def _images():
    z, y, x = np.mgrid[0:32, 0:32, 0:32]
    body = ((x - 16) ** 2 + (y - 16) ** 2) < 12 ** 2
    t1 = sitk.GetImageFromArray((body * 100.0 + z).astype(np.float32))
    t2 = sitk.GetImageFromArray((body * 50.0 + y).astype(np.float32))
    mask = sitk.GetImageFromArray((((x - 12) ** 2 + (y - 14) ** 2 + (z - 16) ** 2) < 16).astype(np.uint8))
    return {"T1": t1, "T2": t2}, mask


def test_qc_png_layout_outline_and_reproducibility(tmp_path):
    images, mask = _images()
    a = write_qc_png(tmp_path / "a.png", images, mask)
    b = write_qc_png(tmp_path / "b.png", images, mask)
    assert a.read_bytes() == b.read_bytes()
    pic = np.asarray(Image.open(a).convert("RGB"))
    assert pic.shape == (2 * CELL, 3 * CELL, 3)
    red = (pic[..., 0] == 255) & (pic[..., 1] == 40) & (pic[..., 2] == 40)
    for row in range(2):
        for col in range(3):
            assert red[row * CELL:(row + 1) * CELL, col * CELL:(col + 1) * CELL].any()
    plain = np.asarray(Image.open(write_qc_png(tmp_path / "c.png", images)).convert("RGB"))
    assert not ((plain[..., 0] == 255) & (plain[..., 1] == 40) & (plain[..., 2] == 40)).any()
