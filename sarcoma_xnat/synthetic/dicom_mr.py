"""Writing synthetic MR series as classic single-frame DICOM, with PHI on purpose."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, PYDICOM_IMPLEMENTATION_UID

from sarcoma_xnat.synthetic.identity import PatientIdentity
from sarcoma_xnat.synthetic.series import AxialGrid

__all__ = ["PRIVATE_CREATOR", "SeriesSpec", "StudyContext", "deterministic_uid", "file_meta",
           "write_mr_series"]

#: private creator of the block that holds (fake) PHI, as vendors and PACS sometimes do
PRIVATE_CREATOR = "SYNTHETIC HOSPITAL PACS"
_ROOT = "2.25."


def deterministic_uid(*parts: object) -> str:
    """Return a ``2.25.`` UID derived from ``parts`` (same parts, same UID)."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return _ROOT + str(int.from_bytes(digest[:16], "big"))


def file_meta(sop_class_uid: str, sop_instance_uid: str) -> FileMetaDataset:
    """Return the file meta information of an explicit-VR little-endian Part 10 file."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class_uid
    meta.MediaStorageSOPInstanceUID = sop_instance_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    return meta


@dataclass(frozen=True)
class StudyContext:
    """Study-level attributes shared by every series of one session."""

    identity: PatientIdentity
    age_years: int
    height_m: float
    weight_kg: float
    study_uid: str
    frame_uid: str
    study_date: dt.date
    study_time: str
    seed_key: str


@dataclass(frozen=True)
class SeriesSpec:
    """One series to write: its weighting, description, number and acquisition parameters."""

    weighting: str
    series_number: int
    description: str
    protocol: str
    tr: float
    te: float
    fat_sat: bool


def _patient_and_study(ds: Dataset, ctx: StudyContext) -> None:
    who = ctx.identity
    ds.PatientName = who.dicom_name
    ds.PatientID = who.patient_id
    ds.IssuerOfPatientID = who.institution
    ds.PatientBirthDate = who.birth_date
    ds.PatientSex = who.sex
    ds.PatientAge = f"{ctx.age_years:03d}Y"
    ds.PatientSize = f"{ctx.height_m:.2f}"
    ds.PatientWeight = f"{ctx.weight_kg:.1f}"
    ds.PatientAddress = who.address
    ds.PatientTelephoneNumbers = who.phone
    ds.PatientComments = f"Referred by {who.referring.replace('^', ' ')}; contact {who.phone}"
    ds.OtherPatientIDsSequence = Sequence([Dataset()])
    ds.OtherPatientIDsSequence[0].PatientID = who.other_patient_id
    ds.OtherPatientIDsSequence[0].IssuerOfPatientID = "NATIONAL HEALTH REGISTER"
    ds.OtherPatientIDsSequence[0].TypeOfPatientID = "TEXT"
    ds.StudyInstanceUID = ctx.study_uid
    ds.StudyDate = ctx.study_date.strftime("%Y%m%d")
    ds.StudyTime = ctx.study_time
    ds.AccessionNumber = who.accession
    ds.StudyID = who.study_id
    ds.StudyDescription = f"MRI THIGH W/WO CONTRAST {who.family.upper()}"
    ds.ReferringPhysicianName = who.referring
    ds.NameOfPhysiciansReadingStudy = who.reader
    ds.InstitutionName = who.institution
    ds.InstitutionAddress = who.institution_address
    ds.InstitutionalDepartmentName = "Musculoskeletal Radiology"
    request = Dataset()
    request.RequestedProcedureID = who.accession
    request.ScheduledProcedureStepID = who.study_id
    request.AccessionNumber = who.accession
    request.RequestedProcedureDescription = f"Staging MRI for {who.given} {who.family}"
    request.ScheduledProcedureStepDescription = "MR THIGH SARCOMA PROTOCOL"
    ds.RequestAttributesSequence = Sequence([request])


def _series_header(ds: Dataset, ctx: StudyContext, spec: SeriesSpec, grid: AxialGrid,
                   series_uid: str) -> None:
    who = ctx.identity
    ds.Modality = "MR"
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = spec.series_number
    ds.SeriesDescription = spec.description
    ds.ProtocolName = spec.protocol
    ds.SeriesDate = ds.StudyDate
    ds.BodyPartExamined = "THIGH"
    ds.PatientPosition = "FFS"
    ds.FrameOfReferenceUID = ctx.frame_uid
    ds.PositionReferenceIndicator = ""
    ds.Manufacturer = "SYNTHETIC"
    ds.ManufacturerModelName = "PHANTOM 1.5T"
    ds.DeviceSerialNumber = f"SN{ctx.seed_key[-6:]}"
    ds.StationName = "MRSCAN01"
    ds.SoftwareVersions = "sarcoma-xnat synthetic"
    ds.OperatorsName = who.operator
    ds.PerformingPhysicianName = who.performing
    ds.ScanningSequence = "SE"
    ds.SequenceVariant = "SK"
    ds.ScanOptions = "FS" if spec.fat_sat else ""
    ds.MRAcquisitionType = "2D"
    ds.RepetitionTime = f"{spec.tr:.1f}"
    ds.EchoTime = f"{spec.te:.1f}"
    ds.MagneticFieldStrength = "1.5"
    ds.SliceThickness = f"{grid.slice_spacing:.3f}"
    ds.SpacingBetweenSlices = f"{grid.slice_spacing:.3f}"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND"]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [f"{grid.pixel:.4f}", f"{grid.pixel:.4f}"]
    ds.Rows, ds.Columns = grid.rows, grid.cols
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = "0", "1", "US"
    ds.WindowCenter, ds.WindowWidth = "600", "1200"


def write_mr_series(folder: Path, pixels: np.ndarray, grid: AxialGrid, spec: SeriesSpec,
                    ctx: StudyContext) -> list[Path]:
    """Write one series as single-frame MR files into ``folder``; return the file paths.

    Files are named by SOP Instance UID, as XNAT stores them, so their names say nothing
    about slice order. Instance numbers run with slice position.
    """
    folder.mkdir(parents=True, exist_ok=True)
    series_uid = deterministic_uid(ctx.seed_key, "series", spec.series_number)
    template = Dataset()
    _patient_and_study(template, ctx)
    _series_header(template, ctx, spec, grid, series_uid)
    block = template.private_block(0x0029, PRIVATE_CREATOR, create=True)
    who = ctx.identity
    block.add_new(0x10, "LO", who.dicom_name)
    block.add_new(0x11, "LO", who.patient_id)
    block.add_new(0x12, "LT", f"Booked by {who.operator.replace('^', ' ')}; DOB {who.birth_date}")
    paths = []
    for k in range(grid.slices):
        ds = Dataset()
        ds.update(template)
        sop_uid = deterministic_uid(ctx.seed_key, "sop", spec.series_number, k)
        ds.SOPClassUID = MRImageStorage
        ds.SOPInstanceUID = sop_uid
        ds.InstanceNumber = k + 1
        ds.AcquisitionNumber = 1
        ds.InstanceCreationDate = ds.StudyDate
        ds.ContentDate = ds.StudyDate
        ds.ContentTime = ctx.study_time
        position = [grid.origin[0], grid.origin[1], grid.z(k)]
        ds.ImagePositionPatient = [f"{v:.3f}" for v in position]
        ds.SliceLocation = f"{grid.z(k):.3f}"
        ds.ImageComments = f"Pt {who.given} {who.family} {who.patient_id}, slice {k + 1}"
        ds.PixelData = np.ascontiguousarray(pixels[k]).tobytes()
        ds.file_meta = file_meta(MRImageStorage, sop_uid)
        path = folder / f"{sop_uid}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths
