"""OHIF-style tumour annotations: a DICOM SEG and an RTSTRUCT that reference the T1 series."""

from __future__ import annotations

from pathlib import Path

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.sr.codedict import codes
from pydicom.uid import RTStructureSetStorage

from sarcoma_xnat.synthetic.dicom_mr import StudyContext, deterministic_uid, file_meta

__all__ = ["TUMOUR_LABEL", "write_rtstruct", "write_seg"]

#: label of the tumour segment / ROI, as the study's annotators name it
TUMOUR_LABEL = "Tumour"

_DATE_ATTRS = ("StudyDate", "SeriesDate", "ContentDate", "InstanceCreationDate",
               "StructureSetDate")
_TIME_ATTRS = ("StudyTime", "SeriesTime", "ContentTime", "InstanceCreationTime",
               "StructureSetTime")


def _pin_dates(ds: Dataset, ctx: StudyContext) -> None:
    """Replace creation timestamps and random UIDs, so the same seed gives the same bytes."""
    date = ctx.study_date.strftime("%Y%m%d")
    for item in ds.get("ContributingEquipmentSequence", []):
        if "ContributionDateTime" in item:
            item.ContributionDateTime = date + ctx.study_time
    dimension_uid = deterministic_uid(ctx.seed_key, "seg-dimension-organization")
    for item in ds.get("DimensionOrganizationSequence", []):
        item.DimensionOrganizationUID = dimension_uid
    for item in ds.get("DimensionIndexSequence", []):
        if "DimensionOrganizationUID" in item:
            item.DimensionOrganizationUID = dimension_uid
    for name in _DATE_ATTRS:
        if name in ds:
            setattr(ds, name, date)
    for name in _TIME_ATTRS:
        if name in ds:
            setattr(ds, name, ctx.study_time)


def write_seg(path: Path, sources: list[Dataset], mask: np.ndarray, ctx: StudyContext,
              series_number: int = 300) -> Dataset:
    """Write the tumour mask (aligned with ``sources``) as a BINARY DICOM SEG."""
    description = hd.seg.SegmentDescription(
        segment_number=1,
        segment_label=TUMOUR_LABEL,
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=codes.SCT.Neoplasm,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
    )
    seg = hd.seg.Segmentation(
        source_images=sources,
        pixel_array=mask.astype(np.uint8),
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[description],
        series_instance_uid=deterministic_uid(ctx.seed_key, "seg-series"),
        series_number=series_number,
        sop_instance_uid=deterministic_uid(ctx.seed_key, "seg-sop"),
        instance_number=1,
        manufacturer="OHIF Viewer (synthetic annotator)",
        manufacturer_model_name="ohif-viewer-xnat",
        software_versions="3.0",
        device_serial_number="1",
        series_description="Tumour annotation",
        content_label="TUMOUR",
        content_creator_name=ctx.identity.reader,
    )
    _pin_dates(seg, ctx)
    seg.save_as(path, enforce_file_format=True)
    return seg


def _image_ref(source: Dataset) -> Dataset:
    image = Dataset()
    image.ReferencedSOPClassUID = source.SOPClassUID
    image.ReferencedSOPInstanceUID = source.SOPInstanceUID
    return image


def _contour_item(polygon: np.ndarray, source: Dataset) -> Dataset:
    item = Dataset()
    item.ContourImageSequence = Sequence([_image_ref(source)])
    item.ContourGeometricType = "CLOSED_PLANAR"
    item.NumberOfContourPoints = len(polygon)
    item.ContourData = [f"{v:.3f}" for v in polygon.reshape(-1)]
    return item


def write_rtstruct(path: Path, sources: list[Dataset], polygons: dict[int, np.ndarray],
                   ctx: StudyContext, series_number: int = 301) -> Dataset:
    """Write the tumour polygons (keyed by slice index into ``sources``) as an RTSTRUCT."""
    first = sources[0]
    ds = Dataset()
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex",
                    "OtherPatientIDsSequence", "StudyInstanceUID", "StudyDate", "StudyTime",
                    "AccessionNumber", "StudyID", "StudyDescription", "ReferringPhysicianName",
                    "InstitutionName"):
        if keyword in first:
            setattr(ds, keyword, first.data_element(keyword).value)
    sop_uid = deterministic_uid(ctx.seed_key, "rtstruct-sop")
    ds.SOPClassUID = RTStructureSetStorage
    ds.SOPInstanceUID = sop_uid
    ds.Modality = "RTSTRUCT"
    ds.SeriesInstanceUID = deterministic_uid(ctx.seed_key, "rtstruct-series")
    ds.SeriesNumber = series_number
    ds.SeriesDescription = "Tumour contours"
    ds.InstanceNumber = 1
    ds.Manufacturer = "OHIF Viewer (synthetic annotator)"
    ds.OperatorsName = ctx.identity.reader
    ds.StructureSetLabel = "TUMOUR"
    ds.StructureSetName = "Tumour annotation"
    ds.StructureSetDate = ctx.study_date.strftime("%Y%m%d")
    ds.StructureSetTime = ctx.study_time
    frame = Dataset()
    frame.FrameOfReferenceUID = first.FrameOfReferenceUID
    study = Dataset()
    study.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"  # Detached Study Management (retired)
    study.ReferencedSOPInstanceUID = first.StudyInstanceUID
    series = Dataset()
    series.SeriesInstanceUID = first.SeriesInstanceUID
    series.ContourImageSequence = Sequence([_image_ref(s) for s in sources])
    study.RTReferencedSeriesSequence = Sequence([series])
    frame.RTReferencedStudySequence = Sequence([study])
    ds.ReferencedFrameOfReferenceSequence = Sequence([frame])
    roi = Dataset()
    roi.ROINumber = 1
    roi.ReferencedFrameOfReferenceUID = first.FrameOfReferenceUID
    roi.ROIName = "Tumour"
    roi.ROIGenerationAlgorithm = "MANUAL"
    ds.StructureSetROISequence = Sequence([roi])
    contour = Dataset()
    contour.ReferencedROINumber = 1
    contour.ROIDisplayColor = [255, 0, 0]
    contour.ContourSequence = Sequence([_contour_item(polygons[k], sources[k])
                                        for k in sorted(polygons)])
    ds.ROIContourSequence = Sequence([contour])
    observation = Dataset()
    observation.ObservationNumber = 1
    observation.ReferencedROINumber = 1
    observation.RTROIInterpretedType = "GTV"
    observation.ROIInterpreter = ctx.identity.reader
    ds.RTROIObservationsSequence = Sequence([observation])
    ds.file_meta = file_meta(RTStructureSetStorage, sop_uid)
    ds.save_as(path, enforce_file_format=True)
    return ds
