"""The tumour as DICOM: a BINARY SEG on the T1 series, and a TID 1500 measurement report (SR).

The SEG (highdicom) references every instance of the source T1 series, so OHIF
shows it over that series. The Comprehensive 3D SR follows TID 1500 (Measurement
Report): one TID 1411 group per MR channel, each referencing segment 1 of the SEG
(TID 1411 "Referenced Segment" with the T1 series as its source) and holding

* the tumour volume (SCT 118565006 *Volume*, mm3), longest 3-D diameter (SCT 81827009
  *Diameter*) and longest axial diameter (SCT 103339001 *Long axis*), in the T1 group;
* the intensity mean, standard deviation, minimum and maximum inside the mask: DCM 110852
  *MR signal intensity* (:data:`INTENSITY`) with SCT *Mean*, *Standard Deviation*,
  *Minimum*, *Maximum* as its DCM 121401 *Derivation*;
* every radiomics feature, named by its IBSI code (scheme ``IBSI``) or, without one,
  by a private code (scheme ``99PYRADIOMICS``).

Coding schemes that PS3.16 does not list are declared in the SR's Coding Scheme
Identification Sequence. highdicom's ``ReferencedSegment.from_segmentation`` fails on
single-segment SEGs (imaging.md §4.1), so the reference is built explicitly.
UIDs are derived from the inputs (``generate_uid(entropy_srcs=…)``) and creation
times pinned to the source study's, so equal inputs give byte-identical files.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from sarcoma_xnat import __version__
from sarcoma_xnat.quantify.features import IBSI_SCHEME, PRIVATE_SCHEME, feature_code

__all__ = ["INTENSITY", "SEGMENT_LABEL", "read_report", "write_report", "write_tumour_seg"]

#: label of the one segment
SEGMENT_LABEL = "Tumour"
#: concept of an MR signal intensity statistic (DCM 110852 "MR signal intensity")
INTENSITY = codes.DCM.MRSignalIntensity
_STATS = {"mean": codes.SCT.Mean, "std": codes.SCT.StandardDeviation,
          "min": codes.SCT.Minimum, "max": codes.SCT.Maximum}
_NO_UNITS = codes.UCUM.NoUnits
_UNITS = {"mm3": codes.UCUM.CubicMillimeter, "mm": codes.UCUM.Millimeter,
          "mm2": hd.sr.CodedConcept("mm2", "UCUM", "square millimeter"),
          "/mm": hd.sr.CodedConcept("/mm", "UCUM", "per millimeter"), "1": _NO_UNITS}
_SCHEMES = {
    IBSI_SCHEME: ("Image Biomarker Standardisation Initiative", "IBSI reference manual",
                  "https://ibsi.readthedocs.io"),
    PRIVATE_SCHEME: ("PyRadiomics features without an IBSI code", "PyRadiomics",
                     "https://pyradiomics.readthedocs.io"),
}


def _uid(seed: str, what: str) -> str:
    return str(generate_uid(entropy_srcs=[seed, what]))


def _pin_times(ds: Dataset, source: Dataset) -> None:
    """Set creation dates and times to the source study's (equal inputs, equal bytes)."""
    date = str(source.get("StudyDate", "") or "19000101")
    time = str(source.get("StudyTime", "") or "000000")
    for name in ("SeriesDate", "ContentDate", "InstanceCreationDate"):
        if name in ds:
            setattr(ds, name, date)
    for name in ("SeriesTime", "ContentTime", "InstanceCreationTime"):
        if name in ds:
            setattr(ds, name, time)
    for item in ds.get("ContributingEquipmentSequence", []):
        if "ContributionDateTime" in item:
            item.ContributionDateTime = date + time
    for seq in ("DimensionOrganizationSequence", "DimensionIndexSequence"):
        for item in ds.get(seq, []):
            if "DimensionOrganizationUID" in item:
                item.DimensionOrganizationUID = _uid(str(ds.SOPInstanceUID), "dimensions")


def write_tumour_seg(path: str | os.PathLike[str], sources: Sequence[Dataset], mask: np.ndarray,
                     seed: str) -> Dataset:
    """Write ``mask`` (``(slices, rows, cols)`` in the order of ``sources``) as a BINARY SEG.

    ``seed`` (e.g. the preprocess run id) makes the UIDs; equal seeds give equal files.
    """
    description = hd.seg.SegmentDescription(
        segment_number=1, segment_label=SEGMENT_LABEL,
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=codes.SCT.Neoplasm,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL)
    seg = hd.seg.Segmentation(
        source_images=list(sources), pixel_array=mask.astype(np.uint8),
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[description],
        series_instance_uid=_uid(seed, "seg-series"), series_number=910,
        sop_instance_uid=_uid(seed, "seg-sop"), instance_number=1,
        manufacturer="sarcoma-xnat", manufacturer_model_name="sarcoma-xnat radiomics",
        software_versions=__version__, device_serial_number="1",
        series_description="Tumour mask (preprocessed)", content_label="TUMOUR",
        content_description="Tumour mask used for measurements and radiomics")
    _pin_times(seg, sources[0])
    seg.save_as(path, enforce_file_format=True)
    return seg


def _measurement(name: Any, value: float, unit: Any, derivation: Any = None) -> hd.sr.Measurement:
    return hd.sr.Measurement(name=name, value=float(value), unit=unit, derivation=derivation)


def _group(seg: Dataset, t1_series: str, tracking_uid: str, channel: str,
           measurements: list[hd.sr.Measurement]) -> Any:
    segment = hd.sr.ReferencedSegment(
        sop_class_uid=str(seg.SOPClassUID), sop_instance_uid=str(seg.SOPInstanceUID),
        segment_number=1, source_series=hd.sr.SourceSeriesForSegmentation(t1_series))
    return hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=tracking_uid,
                                                     identifier=f"Tumour {channel}"),
        referenced_segment=segment, finding_type=codes.SCT.Neoplasm,
        finding_category=codes.SCT.MorphologicallyAbnormalStructure, measurements=measurements)


def _feature_measurements(features: Mapping[str, float]) -> list[hd.sr.Measurement]:
    out = []
    for name, value in sorted(features.items()):
        if not np.isfinite(value):
            continue  # a feature PyRadiomics could not compute (NaN) has no measurement
        code = feature_code(name)
        out.append(_measurement(hd.sr.CodedConcept(code.value, code.scheme, code.meaning), value,
                                _UNITS.get(code.unit, _NO_UNITS)))
    return out


def _coding_schemes() -> list[Dataset]:
    items = []
    for designator, (name, responsible, uri) in _SCHEMES.items():
        item = Dataset()
        item.CodingSchemeDesignator = designator
        item.CodingSchemeName = name
        item.CodingSchemeResponsibleOrganization = responsible
        resource = Dataset()  # PS3.3 C.12.1: the URL sits in Coding Scheme Resources Sequence
        resource.CodingSchemeURLType = "DOC"
        resource.CodingSchemeURL = uri
        item.CodingSchemeResourcesSequence = [resource]
        items.append(item)
    return items


def write_report(path: str | os.PathLike[str], seg: Dataset, t1_sources: Sequence[Dataset],
                 t2_sources: Sequence[Dataset], tumour: Mapping[str, Any],
                 intensity: Mapping[str, Mapping[str, float]],
                 features: Mapping[str, Mapping[str, float]], seed: str) -> Dataset:
    """Write the TID 1500 report of the tumour (see the module docstring); return it.

    ``tumour`` holds ``volume_mm3``, ``longest_diameter_mm``, ``longest_axial_diameter_mm``;
    ``intensity`` and ``features`` are keyed by channel (``t1``, ``t2``).
    """
    tracking_uid = _uid(seed, "tracking")
    t1_series = str(t1_sources[0].SeriesInstanceUID)
    groups = []
    for channel in ("t1", "t2"):
        items: list[hd.sr.Measurement] = []
        if channel == "t1":
            items += [_measurement(codes.SCT.Volume, tumour["volume_mm3"], codes.UCUM.CubicMillimeter),
                      _measurement(codes.SCT.Diameter, tumour["longest_diameter_mm"],
                                   codes.UCUM.Millimeter),
                      _measurement(codes.SCT.LongAxis, tumour["longest_axial_diameter_mm"],
                                   codes.UCUM.Millimeter)]
        stats = intensity.get(channel, {})
        items += [_measurement(INTENSITY, stats[key], _NO_UNITS, derivation=concept)
                  for key, concept in _STATS.items() if key in stats]
        items += _feature_measurements(features.get(channel, {}))
        groups.append(_group(seg, t1_series, tracking_uid, channel.upper(), items))
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=_uid("sarcoma-xnat", "device"), name="sarcoma-xnat radiomics",
            manufacturer_name="sarcoma-xnat", model_name=__version__))
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=codes.cid100.MRIUnspecifiedBodyRegion, imaging_measurements=groups)
    sr = hd.sr.Comprehensive3DSR(
        evidence=[*t1_sources, *t2_sources, seg], content=report[0],
        series_instance_uid=_uid(seed, "sr-series"), series_number=911,
        sop_instance_uid=_uid(seed, "sr-sop"), instance_number=1, manufacturer="sarcoma-xnat",
        is_complete=True, series_description="Tumour measurements and radiomics")
    sr.CodingSchemeIdentificationSequence = _coding_schemes()
    _pin_times(sr, t1_sources[0])
    sr.save_as(path, enforce_file_format=True)
    return sr


def read_report(path: str | os.PathLike[str]) -> dict[str, dict[str, float]]:
    """Read a report back with highdicom: ``{group identifier: {code meaning or derivation: value}}``.

    Intensity statistics are keyed ``"MR signal intensity (Mean)"`` and so on; features by
    ``"<scheme>:<code value>"``; volume and diameters by their code meaning.
    """
    sr = hd.sr.srread(path)
    out: dict[str, dict[str, float]] = {}
    for group in sr.content.get_volumetric_roi_measurement_groups():
        values: dict[str, float] = {}
        for m in group.get_measurements():
            name = m.name
            if name.scheme_designator in (IBSI_SCHEME, PRIVATE_SCHEME):
                key = f"{name.scheme_designator}:{name.value}"
            elif m.derivation is not None:
                key = f"{name.meaning} ({m.derivation.meaning})"
            else:
                key = name.meaning
            values[key] = float(m.value)
        out[str(group.tracking_identifier)] = values
    return out
