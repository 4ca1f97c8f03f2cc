"""Real-world-like DICOM files for the de-identification tests, built from pydicom's test files.

pydicom ships real vendor files (CT, MR in big-endian, implicit VR, RLE and JPEG 2000,
RT plan/dose/structure set, SR, enhanced MR-like); each builder loads one, plants
identifying values where real hospital files carry them (nested sequences, SR text,
private blocks, UN elements, non-ASCII names) and writes it. :data:`PLANTED` lists
what must not survive.
"""

from __future__ import annotations

from pathlib import Path

import pydicom
from pydicom import config
from pydicom.data import get_testdata_file
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

#: values planted by :func:`build_corpus`; none may appear in any output
PLANTED = ["HOUSE", "Gregory", "WILSON", "Cuddy", "Lisa", "Riesmeier", "CAMERON", "FOREMAN",
           "HIDDEN", "TAUB", "Kutner", "1.2.826.0.1.3680043.2.1143.77777", "MRN0042117",
           "Chase", "Müller", "Jürgen", "山田", "太郎", "José", "Ñoño"]
STUDY = "1.2.826.0.1.3680043.2.1143.5555.1"


def load(name: str) -> Dataset:
    """Return a pydicom test file as a dataset (a file without meta gets one)."""
    ds = pydicom.dcmread(get_testdata_file(name), force=True)
    if "TransferSyntaxUID" not in getattr(ds, "file_meta", {}):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = ds.SOPClassUID
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta = meta
    return ds


def implicit_bytes(ds: Dataset) -> bytes:
    """Return ``ds`` encoded as implicit VR little endian (the value of a UN element)."""
    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, True
    write_dataset(fp, ds)
    return fp.getvalue()


def add_un(ds: Dataset, tag: int, value: bytes) -> None:
    """Add an element stored with VR UN, as a converter that lost the VR writes it."""
    config.replace_un_with_known_vr = False
    try:
        ds.add(DataElement(tag, "UN", value))
    finally:
        config.replace_un_with_known_vr = True


def _item(**values: object) -> Dataset:
    item = Dataset()
    for keyword, value in values.items():
        setattr(item, keyword, value)
    return item


def code(value: str, scheme: str, meaning: str) -> Dataset:
    """Return a coded-entry item."""
    return _item(CodeValue=value, CodingSchemeDesignator=scheme, CodeMeaning=meaning)


def ct_with_nested_names() -> Dataset:
    """A CT whose referring physician exists only inside a request sequence."""
    ds = load("CT_small.dcm")
    ds.PatientID, ds.StudyInstanceUID = "MRN0042117", STUDY
    ds.PatientName = "CHASE^ROBERT"
    ds.RequestAttributesSequence = Sequence([_item(
        ScheduledProcedureStepID="SPS1", RequestedProcedureID="RP1",
        ScheduledPerformingPhysicianName="WILSON^JAMES",
        RequestedProcedureDescription="CT chest for James Wilson's clinic")])
    ds.ReferencedImageSequence = Sequence([_item(
        ReferencedSOPClassUID="1.2.840.10008.5.1.4.1.1.2",
        ReferencedSOPInstanceUID="1.2.826.0.1.3680043.2.1143.77777")])
    ds.PerformedProcedureStepDescription = "CT CHEST; referred by Dr House"
    ds.ReferringPhysicianName = "HOUSE^GREGORY"
    ds.StudyDescription = "CT CHEST WILSON"
    ds.ImageComments = "reviewed with gregory house and Robert Chase"
    return ds


def mr_by_operator(name: str, operator: str | None, description: str) -> Dataset:
    """An MR series of the same study (big-endian source) naming people in places."""
    ds = load(name)
    ds.PatientID, ds.StudyInstanceUID = "MRN0042117", STUDY
    ds.PatientName = "CHASE^ROBERT"
    ds.SeriesInstanceUID, ds.SOPInstanceUID = generate_uid(), generate_uid()
    if operator:
        ds.OperatorsName = operator
    ds.SeriesDescription = description
    return ds


def sr_with_deep_text() -> Dataset:
    """The OFFIS SR test document, its verifying observer named in deep TextValue items."""
    ds = load("test-SR.dcm")
    ds.PatientID = "MRN0042117"
    for elem in ds.iterall():
        if elem.keyword == "TextValue":
            elem.value = f"{elem.value} (verified by J. Riesmeier)"
    return ds


def with_charset(charset: str | list[str], name: str, text: str) -> Dataset:
    """A CT whose name and description use a non-ASCII character set."""
    ds = load("CT_small.dcm")
    ds.SpecificCharacterSet = charset
    ds.PatientName, ds.PatientID = name, "MRN0042117"
    ds.SeriesDescription = text
    ds.ImageComments = text
    ds.FilterType = text.split()[-1]  # an attribute the profile does not list
    return ds


def with_un_and_private() -> Dataset:
    """A CT with UN-encoded public elements (a sequence, the SOP UID) and private blocks."""
    ds = load("CT_small.dcm")
    ds.PatientID = "MRN0042117"
    seq = implicit_bytes(_item(ReferencedImageSequence=Sequence([_item(
        ReferringPhysicianName="HIDDEN^DOCTOR",
        ReferencedSOPInstanceUID="1.2.826.0.1.3680043.2.1143.77777")])))
    add_un(ds, 0x00081140, seq[8:])                      # Referenced Image Sequence as UN
    uid = ds.SOPInstanceUID
    del ds.SOPInstanceUID
    add_un(ds, 0x00080018, uid.encode() + (b"\0" if len(uid) % 2 else b""))
    add_un(ds, 0x0018FFF0, b"TAUB^CHRIS ")               # an unknown public tag
    block = ds.private_block(0x0019, "SIEMENS MR HEADER", create=True)
    block.add_new(0x0D, "CS", "TAUB CHRIS")              # a safe-listed slot holding a name
    block.add_new(0x0C, "IS", "1000")                    # a safe-listed b-value
    add_un(ds, 0x0019100B, b"Kutner ")                   # a safe-listed slot as UN
    ds.OperatorsName = "TAUB^CHRIS"
    ds.ReferringPhysicianName = "KUTNER^LAWRENCE"
    return ds


def seg_like() -> Dataset:
    """A CT carrying a SEG's segment sequence and research descriptors."""
    ds = load("CT_small.dcm")
    ds.PatientID, ds.PatientName = "MRN0042117", "GRA^HAM"
    ds.SegmentSequence = Sequence([_item(
        SegmentNumber=1, SegmentLabel="Tumour", SegmentAlgorithmType="MANUAL",
        SegmentedPropertyCategoryCodeSequence=Sequence(
            [code("49755003", "SCT", "Morphologically Altered Structure")]),
        SegmentedPropertyTypeCodeSequence=Sequence([code("108369006", "SCT", "Neoplasm")]))])
    ds.SeriesDescription = "MR KNEE LEFT"
    ds.StudyDescription = "MR Angiography 3D TOF"
    ds.ProtocolName = "ECHOCARDIOGRAPHY"
    ds.ConvolutionKernel = ["B30f", "GRA"]
    ds.StudyDate = "1-2-3"
    return ds


def write(ds: Dataset, path: Path) -> Path:
    """Write ``ds`` to ``path`` (folders created) and return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def build_corpus(root: Path) -> list[Path]:
    """Write the real-world-like corpus under ``root`` (one study, several series)."""
    ct = ct_with_nested_names()
    return [
        write(ct, root / "s1" / "ct.dcm"),
        write(mr_by_operator("MR_small.dcm", "CUDDY^LISA", "T1"), root / "s2" / "mr1.dcm"),
        write(mr_by_operator("MR_small_bigendian.dcm", None, "T2 (Lisa Cuddy protocol)"),
              root / "s3" / "mr2.dcm"),
        write(mr_by_operator("MR_small_implicit.dcm", "CAMERON^ALLISON",
                             "DWI Cameron/FOREMAN"), root / "s4" / "mr3.dcm"),
        write(mr_by_operator("MR_small_RLE.dcm", "FOREMAN^ERIC", "RLE"), root / "s5" / "mr4.dcm"),
        write(sr_with_deep_text(), root / "sr" / "sr.dcm"),
        write(with_charset(["", "ISO 2022 IR 87"], "Yamada^Tarou=山田^太郎=やまだ^たろう",
                           "膝 MRI 山田 太郎"), root / "jp" / "jp.dcm"),
        write(with_charset("ISO_IR 192", "Ñoño^José", "rodilla José Ñoño"),
              root / "utf8" / "es.dcm"),
        write(with_charset("ISO_IR 100", "Müller^Jürgen", "Knie Jürgen MÜLLER"),
              root / "latin1" / "de.dcm"),
        write(with_un_and_private(), root / "un" / "un.dcm"),
        write(seg_like(), root / "seg" / "seg.dcm"),
    ]
