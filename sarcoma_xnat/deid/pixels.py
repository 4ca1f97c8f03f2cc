"""The Clean Pixel Data option (PS3.15 E.3.1): blank site-configured rectangles.

Like RSNA CTP's DicomPixelAnonymizer, the site lists, per manufacturer, model and image
size, the rectangles where its devices burn text into the pixels (see
:mod:`sarcoma_xnat.deid.site`). An image that matches a rule has those rectangles set
to black in every frame; then, as E.3.1 says, Burned In Annotation (0028,0301) is set
to NO, and the instance's De-identification Method Code Sequence gets the Clean Pixel
Data Option code (113101). Only pixel data that can be written back without loss is
changed: native (uncompressed, little endian) data, and RLE Lossless or JPEG-LS
Lossless, which are decoded and encoded again losslessly. An image that matches a rule
but is stored otherwise (lossy JPEG, JPEG 2000 without an encoder here, 1-bit, YBR
422) is refused: blanking would change more than the rectangles. Images no rule
matches go through the burned-in checks as before (:mod:`sarcoma_xnat.deid.burned_in`).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydicom.dataset import Dataset
from pydicom.uid import (ExplicitVRLittleEndian, ImplicitVRLittleEndian, JPEGLSLossless,
                         RLELossless, UID)

from sarcoma_xnat.deid.site import PixelRule
from sarcoma_xnat.errors import DeidentificationError

__all__ = ["CLEAN_PIXEL_DATA_CODE", "PixelCleaner", "PixelRecord"]

#: CID 7050 code of the option, added to the cleaned instance's method code sequence
CLEAN_PIXEL_DATA_CODE = ("113101", "Clean Pixel Data Option")
_NATIVE = frozenset({ExplicitVRLittleEndian, ImplicitVRLittleEndian})
_LOSSLESS = frozenset({RLELossless, JPEGLSLossless})


@dataclass(frozen=True)
class PixelRecord:
    """What cleaning one image's pixels did (for the audit log; no PHI)."""

    rule: int
    rectangles: int
    frames: int
    transfer_syntax: str


class PixelCleaner:
    """Apply the site's pixel rules to images.

    Parameters
    ----------
    rules : tuple of PixelRule
        From the site configuration; none means the option is off.
    """

    def __init__(self, rules: tuple[PixelRule, ...] = ()) -> None:
        self.rules = rules

    def rule_for(self, ds: Dataset) -> PixelRule | None:
        """Return the first rule matching ``ds``'s device and image size (its header suffices)."""
        if not self.rules or "Rows" not in ds or "Columns" not in ds:
            return None
        manufacturer = str(ds.get("Manufacturer", "") or "")
        model = str(ds.get("ManufacturerModelName", "") or "")
        for rule in self.rules:
            if rule.matches(manufacturer, model, int(ds.Rows), int(ds.Columns)):
                return rule
        return None

    def clean(self, ds: Dataset, rule: PixelRule, file: str | None = None) -> PixelRecord:
        """Blank ``rule``'s rectangles in ``ds``'s pixel data (whole file read) in place.

        Raises
        ------
        DeidentificationError
            When the pixel data cannot be written back losslessly (it is then refused).
        """
        syntax = UID(str(ds.file_meta.TransferSyntaxUID))
        photometric = str(ds.get("PhotometricInterpretation", "")).strip().upper()
        if "PixelData" not in ds or syntax not in _NATIVE | _LOSSLESS \
                or int(ds.get("BitsAllocated", 0)) not in (8, 16) \
                or photometric not in ("MONOCHROME1", "MONOCHROME2", "RGB", "PALETTE COLOR") \
                or syntax in _NATIVE and int(ds.get("PlanarConfiguration", 0) or 0) == 1:
            raise DeidentificationError(
                f"refused: Clean Pixel Data rule #{rule.index} matches, but {syntax.name} "
                f"{photometric or 'unknown'} pixel data cannot be cleaned and written back "
                "losslessly", file=file)
        pixels = ds.pixel_array.copy()
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        view = pixels if frames > 1 else pixels[None, ...]
        black = (1 << int(ds.BitsStored)) - 1 if photometric == "MONOCHROME1" else 0
        for left, top, width, height in rule.rectangles:
            view[:, top:top + height, left:left + width, ...] = black
        if syntax in _NATIVE:
            ds.PixelData = pixels.tobytes()
        else:
            ds.compress(syntax, pixels, generate_instance_uid=False)
        ds.BurnedInAnnotation = "NO"  # PS3.15 E.3.1
        return PixelRecord(rule.index, len(rule.rectangles), frames, syntax.name)
