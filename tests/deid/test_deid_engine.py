"""Engine rules on hand-made datasets: private blocks, overlays, nested PHI, burned-in refusal."""

from __future__ import annotations

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import MRImageStorage, SecondaryCaptureImageStorage

from sarcoma_xnat.deid import Deidentifier
from sarcoma_xnat.errors import DeidentificationError


def _dataset(sop_class: str = MRImageStorage, modality: str = "MR") -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = "1.2.3.4.5.6.7"
    ds.StudyInstanceUID = "1.2.3.4.5"
    ds.SeriesInstanceUID = "1.2.3.4.5.6"
    ds.Modality = modality
    ds.PatientName = "ZEBEDEE^QUILLON"
    ds.PatientID = "MRN55501234"
    ds.Rows = ds.Columns = 2
    ds.BitsAllocated = 16
    ds.PixelData = b"\x01\x00\x02\x00\x03\x00\x04\x00"
    return ds


def test_private_blocks_go_except_the_safe_list(deidentifier: Deidentifier) -> None:
    ds = _dataset()
    safe = ds.private_block(0x0019, "SIEMENS MR HEADER", create=True)
    safe.add_new(0x0C, "IS", "800")            # B_value: on the safe list
    safe.add_new(0x10, "LO", "MRN55501234")    # not on it
    phi = ds.private_block(0x0029, "HOSPITAL PACS", create=True)
    phi.add_new(0x01, "LO", "ZEBEDEE^QUILLON")
    deidentifier.deidentify(ds)
    private = {(e.tag.group, e.tag.element): e.value for e in ds.iterall() if e.tag.group % 2}
    assert private == {(0x0019, 0x0010): "SIEMENS MR HEADER", (0x0019, 0x100C): "800"}


def test_basic_profile_alone_drops_every_private_element(key) -> None:  # type: ignore[no-untyped-def]
    ds = _dataset()
    ds.private_block(0x0019, "SIEMENS MR HEADER", create=True).add_new(0x0C, "IS", "800")
    Deidentifier(key, options=()).deidentify(ds)
    assert not [e for e in ds.iterall() if e.tag.group % 2]
    assert "PatientAge" not in ds


def test_overlays_and_curves_are_removed(deidentifier: Deidentifier) -> None:
    ds = _dataset()
    ds.add_new(0x60000010, "US", 2)
    ds.add_new(0x60003000, "OW", b"\xff\xff")
    ds.add_new(0x60004000, "LT", "ZEBEDEE")
    ds.add_new(0x50000005, "US", 2)
    deidentifier.deidentify(ds)
    assert not [e for e in ds if e.tag.group in (0x5000, 0x6000)]


def test_phi_in_nested_and_unlisted_attributes_is_removed(deidentifier: Deidentifier) -> None:
    ds = _dataset()
    item = Dataset()
    item.PatientID = "MRN55501234"
    item.PatientName = "ZEBEDEE^QUILLON"
    inner = Dataset()
    inner.ReferencedSOPInstanceUID = "1.2.3.4.5.6.7"
    inner.ReferencedSOPClassUID = MRImageStorage
    inner.ContentCreatorName = "QUILLON^DOCTOR"  # PN not in the table at this depth: emptied
    item.ReferencedImageSequence = Sequence([inner])
    ds.SourcePatientGroupIdentificationSequence = Sequence([item])  # a sequence the table lacks
    ds.ImageLaterality = "R"
    ds.add_new(0x00181030, "LO", "LEG ZEBEDEE MRN55501234")  # Protocol Name: cleaned
    ds.add_new(0x00211000, "LO", "x")  # orphan private element without creator
    deidentifier.deidentify(ds)
    text = str(ds)
    for value in ("ZEBEDEE", "QUILLON", "MRN55501234"):
        assert value not in text
    nested = ds.SourcePatientGroupIdentificationSequence[0].ReferencedImageSequence[0]
    assert nested.ReferencedSOPInstanceUID == ds.SOPInstanceUID  # consistent remap
    assert nested.ReferencedSOPClassUID == MRImageStorage        # registered UIDs are kept
    assert ds.ProtocolName == "LEG"


@pytest.mark.parametrize("setup, reason", [
    (lambda ds: setattr(ds, "BurnedInAnnotation", "YES"), "Burned In Annotation"),
    (lambda ds: setattr(ds, "ImageType", ["DERIVED", "SECONDARY", "SCREEN SAVE"]), "SCREEN SAVE"),
    (lambda ds: setattr(ds, "SOPClassUID", SecondaryCaptureImageStorage), "Secondary Capture"),
    (lambda ds: setattr(ds, "Modality", "US"), "modality US"),
])
def test_burned_in_images_are_refused(deidentifier: Deidentifier, setup, reason) -> None:  # type: ignore[no-untyped-def]
    ds = _dataset()
    setup(ds)
    with pytest.raises(DeidentificationError, match=reason) as info:
        deidentifier.deidentify(ds, "img.dcm")
    assert "ZEBEDEE" not in str(info.value) and "img.dcm" in str(info.value)


def test_secondary_capture_declared_clean_passes(deidentifier: Deidentifier) -> None:
    ds = _dataset(SecondaryCaptureImageStorage, "OT")
    ds.BurnedInAnnotation = "NO"
    deidentifier.deidentify(ds)
    assert ds.PatientIdentityRemoved == "YES"


def test_no_patient_id_is_refused(deidentifier: Deidentifier) -> None:
    ds = _dataset()
    del ds.PatientID
    with pytest.raises(DeidentificationError, match="no PatientID"):
        deidentifier.deidentify(ds)
