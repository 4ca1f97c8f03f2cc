"""The QC picture: layout, orientation letters, mask outline, "no annotation", reproducible bytes."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
from PIL import Image

from sarcoma_xnat.imaging import qc
from sarcoma_xnat.imaging.qc import CELL, HEADER, OUTLINE, orientation_letter, write_qc_png


def _images(bright_tumour: bool = False):
    z, y, x = np.mgrid[0:32, 0:32, 0:32]
    body = ((x - 16) ** 2 + (y - 16) ** 2) < 12 ** 2
    ball = ((x - 12) ** 2 + (y - 14) ** 2 + (z - 16) ** 2) < 16
    t1 = sitk.GetImageFromArray((body * 100.0 + z).astype(np.float32))
    t2 = (body * 50.0 + y).astype(np.float32)
    if bright_tumour:
        t2[ball] = 5000.0  # the brightest thing in the picture, as a necrotic T2 tumour
    mask = sitk.GetImageFromArray(ball.astype(np.uint8))
    return {"T1": t1, "T2": sitk.GetImageFromArray(t2)}, mask


def _is(pic: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    return np.all(pic == np.array(colour, dtype=np.uint8), axis=-1)


def test_qc_png_layout_outline_and_reproducibility(tmp_path):
    images, mask = _images()
    a = write_qc_png(tmp_path / "a.png", images, mask, title="SXNC0376JDDK8_MR1",
                     series={"T1": "AX T1 POST", "T2": "AX T2 FS"})
    b = write_qc_png(tmp_path / "b.png", images, mask, title="SXNC0376JDDK8_MR1",
                     series={"T1": "AX T1 POST", "T2": "AX T2 FS"})
    assert a.read_bytes() == b.read_bytes()
    pic = np.asarray(Image.open(a).convert("RGB"))
    assert pic.shape == (HEADER + 2 * CELL, 3 * CELL, 3)
    red = _is(pic, OUTLINE)
    for row in range(2):
        for col in range(3):
            top = HEADER + row * CELL
            assert red[top:top + CELL, col * CELL:(col + 1) * CELL].any()
    plain = np.asarray(Image.open(write_qc_png(tmp_path / "c.png", images)).convert("RGB"))
    assert not _is(plain, OUTLINE).any()


def test_outline_has_a_dark_rim_on_a_bright_tumour(tmp_path):
    images, mask = _images(bright_tumour=True)
    pic = np.asarray(Image.open(write_qc_png(tmp_path / "q.png", images, mask)).convert("RGB"))
    t2_axial = pic[HEADER + CELL:HEADER + 2 * CELL, :CELL]
    red = _is(t2_axial, OUTLINE)
    black = _is(t2_axial, (0, 0, 0))
    rows = [r for r in range(CELL) if red[r].any()]
    assert len(rows) > 5
    # on the outside of the outline lies the dark rim, not the bright tumour edge or tissue
    first = [int(np.argmax(red[r])) for r in rows]
    assert all(black[r, j - 1] for r, j in zip(rows, first))


def test_no_annotation_is_said_in_every_panel(tmp_path):
    images, _ = _images()
    pic = np.asarray(Image.open(write_qc_png(tmp_path / "n.png", images, None)).convert("RGB"))
    # the note's colour (cyan, antialiased) appears nowhere else: gray images, yellow labels
    note = (pic[..., 2] > 120) & (pic[..., 0] < 60) & (pic[..., 1] > 100)
    for row in range(2):
        for col in range(3):
            top = HEADER + row * CELL
            assert note[top + CELL - 16:top + CELL, col * CELL:(col + 1) * CELL].any()
    empty = sitk.GetImageFromArray(np.zeros((32, 32, 32), np.uint8))
    again = np.asarray(Image.open(write_qc_png(tmp_path / "e.png", images, empty)).convert("RGB"))
    assert np.array_equal(pic, again)  # an empty mask is "no annotation" too


def test_orientation_letters_follow_the_dicom_patient_axes():
    # DICOM LPS: +x is patient left, +y posterior, +z superior
    assert [orientation_letter(v) for v in ((1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0),
                                            (0, 0, 1), (0, 0, -1))] == list("LRPASI")
    assert orientation_letter((0.2, -0.9, 0.1)) == "A"
    # an axial image in the standard orientation: radiological convention
    axial, coronal, sagittal = qc._edges(np.eye(3))
    assert axial == ("R", "L", "A", "P")
    assert coronal == ("R", "L", "S", "I")
    assert sagittal == ("A", "P", "S", "I")
    # rows flipped left-right by the direction matrix: the letters follow the data
    assert qc._edges(np.diag([-1.0, 1.0, 1.0]))[0][:2] == ("L", "R")


def test_slice_positions_are_patient_coordinates():
    image = sitk.Image(10, 10, 10, sitk.sitkFloat32)
    image.SetOrigin((-20.0, 5.0, 100.0))
    image.SetSpacing((2.0, 2.0, 3.0))
    assert qc._slice_positions(image, (4, 0, 0)) == ["S +112.0 mm", "P +5.0 mm", "L -20.0 mm"]
