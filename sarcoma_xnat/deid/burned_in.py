"""Refuse images that carry, or may carry, identifying text burned into the pixels.

The Basic Profile cleans headers only; burned-in text needs the Clean Pixel Data
Option, which this engine does not implement. So an image flagged as having burned-in
annotation, or of a kind known to carry it unless stated otherwise, is refused.
"""

from __future__ import annotations

from pydicom.dataset import Dataset

from sarcoma_xnat.deid.attributes import as_read_value
from sarcoma_xnat.errors import DeidentificationError

__all__ = ["BURNED_IN_SOP_CLASSES", "RISKY_MODALITIES", "check_burned_in"]

#: SOP classes whose pixels often hold text: secondary captures, ultrasound, video, documents
BURNED_IN_SOP_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.7": "Secondary Capture Image",
    "1.2.840.10008.5.1.4.1.1.7.1": "Multi-frame Single Bit Secondary Capture",
    "1.2.840.10008.5.1.4.1.1.7.2": "Multi-frame Grayscale Byte Secondary Capture",
    "1.2.840.10008.5.1.4.1.1.7.3": "Multi-frame Grayscale Word Secondary Capture",
    "1.2.840.10008.5.1.4.1.1.7.4": "Multi-frame True Color Secondary Capture",
    "1.2.840.10008.5.1.4.1.1.6.1": "Ultrasound Image",
    "1.2.840.10008.5.1.4.1.1.3.1": "Ultrasound Multi-frame Image",
    "1.2.840.10008.5.1.4.1.1.77.1.1.1": "Video Endoscopic Image",
    "1.2.840.10008.5.1.4.1.1.77.1.2.1": "Video Microscopic Image",
    "1.2.840.10008.5.1.4.1.1.77.1.4.1": "Video Photographic Image",
    "1.2.840.10008.5.1.4.1.1.104.1": "Encapsulated PDF",
    "1.2.840.10008.5.1.4.1.1.104.2": "Encapsulated CDA",
}
#: modalities whose images are screen captures or documents unless flagged otherwise
RISKY_MODALITIES = frozenset({"US", "OT", "SC", "XC", "DOC", "ES", "GM", "SM"})
_SCREEN_TYPES = frozenset({"SCREEN SAVE", "SCREEN_SAVE", "SECONDARY_CAPTURE"})


def check_burned_in(ds: Dataset, file: str | None = None, has_pixels: bool | None = None) -> None:
    """Raise :class:`DeidentificationError` if ``ds`` may have burned-in identifying text.

    Refused: Burned In Annotation (0028,0301) = YES; Image Type containing SCREEN SAVE;
    a SOP class or modality known to carry burned-in text unless Burned In Annotation
    says NO. Objects without pixels (SEG, RTSTRUCT, SR) pass. ``has_pixels`` says whether
    the file has pixel data when ``ds`` is its header only (:mod:`sarcoma_xnat.deid.split`).
    """
    flag = str(as_read_value(ds, 0x00280301, "BurnedInAnnotation") or "").strip().upper()
    if flag == "YES":
        raise DeidentificationError("refused: Burned In Annotation (0028,0301) is YES; "
                                    "burned-in text cannot be removed by header cleaning",
                                    file=file)
    image_type = as_read_value(ds, 0x00080008, "ImageType", None, multi=True)
    if image_type is not None:
        values = {str(v).strip().upper() for v in (image_type if image_type.__class__ is not str
                                                   else [image_type])}
        if values & _SCREEN_TYPES:
            raise DeidentificationError("refused: Image Type says SCREEN SAVE (a screen "
                                        "capture may show the patient's name)", file=file)
    if has_pixels is None:
        has_pixels = "PixelData" in ds or "FloatPixelData" in ds
    if flag == "NO" or not has_pixels and "EncapsulatedDocument" not in ds:
        return
    sop_class = str(as_read_value(ds, 0x00080016, "SOPClassUID"))
    if sop_class in BURNED_IN_SOP_CLASSES:
        raise DeidentificationError(f"refused: {BURNED_IN_SOP_CLASSES[sop_class]} objects may carry "
                                    "burned-in text and Burned In Annotation is not NO", file=file)
    modality = str(as_read_value(ds, 0x00080060, "Modality")).strip().upper()
    if modality in RISKY_MODALITIES:
        raise DeidentificationError(f"refused: modality {modality} images may carry burned-in "
                                    "text and Burned In Annotation is not NO", file=file)

