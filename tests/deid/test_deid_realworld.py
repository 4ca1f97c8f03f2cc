"""De-identification on real-world-like files (pydicom's vendor test files, planted values)."""

from __future__ import annotations

import zlib
from pathlib import Path

import pydicom
import pytest
from deidcorpus import (PLANTED, add_un, build_corpus, ct_with_nested_names, load, seg_like,
                        sr_with_deep_text, with_charset, with_un_and_private, write)
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from sarcoma_xnat.cli import main
from sarcoma_xnat.deid import Deidentifier, dataset_bytes, deidentify_folder


def texts(ds: Dataset) -> list[tuple[str, str]]:
    """Return (keyword, decoded text) of every element at any depth (test's own walk)."""
    out = []
    for elem in ds.iterall():
        if elem.VR in ("SQ", "OB", "OW") or elem.tag == 0x7FE00010:
            continue
        value = elem.value
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        out.append((elem.keyword or str(elem.tag), str(value)))
    return out


def survivors(ds: Dataset, planted: list[str]) -> list[tuple[str, str]]:
    """Return (keyword, planted value) for each planted value found in ``ds``'s text."""
    return [(kw, v) for kw, text in texts(ds) for v in planted if v.lower() in text.lower()]


def roundtrip(deidentifier: Deidentifier, ds: Dataset) -> Dataset:
    """De-identify ``ds``, write it, and read the bytes back."""
    deidentifier.deidentify(ds)
    return pydicom.dcmread(pydicom.filebase.DicomBytesIO(dataset_bytes(ds)))


def test_names_in_nested_sequences_and_descriptions_are_removed(
        deidentifier: Deidentifier) -> None:
    out = roundtrip(deidentifier, ct_with_nested_names())
    assert survivors(out, ["WILSON", "James", "HOUSE", "Gregory", "Chase", "Robert"]) == []
    assert out.StudyDescription == "CT CHEST"  # the vocabulary stays
    ref = out.ReferencedImageSequence[0].ReferencedSOPInstanceUID
    assert ref != "1.2.826.0.1.3680043.2.1143.77777"


def test_sr_text_at_any_depth_is_cleaned_and_kept(deidentifier: Deidentifier) -> None:
    out = roundtrip(deidentifier, sr_with_deep_text())
    assert survivors(out, ["Riesmeier", "Jörg"]) == []
    values = [text for kw, text in texts(out) if kw == "TextValue"]
    assert values and all("verified by" in v for v in values)
    assert any(v.startswith("A mass of") for v in values)


@pytest.mark.parametrize("charset,name,text,kept,gone", [
    (["", "ISO 2022 IR 87"], "Yamada^Tarou=山田^太郎=やまだ^たろう", "膝 MRI 山田 太郎", "膝 MRI",
     ["山田", "太郎"]),
    ("ISO_IR 192", "Wang^Xiaoming=王^小明", "膝关节 王 小明", "膝关节", ["王", "小明"]),
    ("ISO_IR 100", "Müller^Jürgen", "Knie Jürgen MÜLLER", "Knie", ["Jürgen", "Müller"]),
])
def test_non_ascii_names_are_compared_as_text(deidentifier: Deidentifier, charset: object,
                                              name: str, text: str, kept: str,
                                              gone: list[str]) -> None:
    out = roundtrip(deidentifier, with_charset(charset, name, text))
    assert out.SeriesDescription == kept
    assert survivors(out, gone) == []
    assert out.FilterType == ""


def test_un_elements_are_resolved_and_private_slots_checked(deidentifier: Deidentifier) -> None:
    original = with_un_and_private()
    uid = original[0x00080018].value.decode().strip("\0")
    out = roundtrip(deidentifier, original)
    assert survivors(out, ["HIDDEN", "TAUB", "Kutner", "1.2.826.0.1.3680043.2.1143.77777"]) == []
    assert out["SOPInstanceUID"].VR == "UI" and out.SOPInstanceUID not in ("", uid)
    assert out.ReferencedImageSequence[0].ReferencedSOPInstanceUID  # parsed, remapped
    assert 0x0018FFF0 not in out  # an unknown public tag goes
    block = out.private_block(0x0019, "SIEMENS MR HEADER")
    assert block[0x0C].value == 1000  # a safe-listed b-value stays


def test_unknown_public_tag_in_implicit_vr_file_is_removed(deidentifier: Deidentifier,
                                                           tmp_path: Path) -> None:
    ds = load("MR_small_implicit.dcm")
    ds.add_new(0x0018FFF0, "LO", "FOREMAN^ERIC")
    ds.save_as(tmp_path / "in.dcm", implicit_vr=True, little_endian=True)
    read = pydicom.dcmread(tmp_path / "in.dcm")
    assert read[0x0018FFF0].VR == "UN"
    out = roundtrip(deidentifier, read)
    assert 0x0018FFF0 not in out and survivors(out, ["FOREMAN"]) == []


def test_values_are_pooled_over_the_study(deidentifier: Deidentifier, tmp_path: Path) -> None:
    build_corpus(tmp_path / "in")
    report = deidentify_folder(tmp_path / "in", tmp_path / "out", deidentifier)
    assert report.skipped == [] and len(report.written) == 11
    found = [(p.name, hit) for p in (tmp_path / "out").rglob("*.dcm")
             for hit in survivors(pydicom.dcmread(p), PLANTED)]
    assert found == []
    series = {pydicom.dcmread(p).get("SeriesDescription") for p in report.written}
    assert "T2 (protocol)" in series  # "Lisa Cuddy" is named only in another series


def test_one_bad_file_does_not_abort_the_folder(tmp_path: Path, secret_file: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "in" / "CHASE ROBERT"
    good = load("CT_small.dcm")
    good.PatientName = "CHASE^ROBERT"
    write(good, source / "a_good.dcm")
    un_uid = load("CT_small.dcm")
    uid = un_uid.SOPInstanceUID
    del un_uid.SOPInstanceUID
    add_un(un_uid, 0x00080018, (uid + "5").encode())
    write(un_uid, source / "b_un_uid.dcm")
    deflated = load("MR_small.dcm")
    deflated.PatientName = "CHASE^ROBERT"
    deflated.file_meta.TransferSyntaxUID = pydicom.uid.DeflatedExplicitVRLittleEndian
    data = write(deflated, source / "c_deflated.dcm").read_bytes()
    (source / "c_deflated.dcm").write_bytes(data[: len(data) // 2])
    assert zlib  # the deflated stream is cut in the middle
    out = tmp_path / "out"
    status = main(["deid", "run", "--input", str(tmp_path / "in"), "--output", str(out),
                   "--secret-file", str(secret_file)])
    err = capsys.readouterr().err
    assert status == 1
    assert len(list(out.rglob("*.dcm"))) == 2  # the UN-UID file is de-identified too
    assert "#3:" in err and "c_deflated" not in err and "CHASE" not in err


def test_research_content_is_kept(deidentifier: Deidentifier) -> None:
    ds = seg_like()
    ds.ImageComments = "software 1.0.3.37, 0.5 mm"
    out = roundtrip(deidentifier, ds)
    segment = out.SegmentSequence[0]
    category = segment.SegmentedPropertyCategoryCodeSequence[0]
    assert (category.CodeValue, category.CodingSchemeDesignator) == ("49755003", "SCT")
    assert segment.SegmentedPropertyTypeCodeSequence[0].CodeMeaning == "Neoplasm"
    assert out.SeriesDescription == "MR KNEE LEFT"
    assert out.StudyDescription == "MR Angiography 3D TOF"
    assert out.ProtocolName == "ECHOCARDIOGRAPHY"
    assert out.ImageComments == "software 1.0.3.37, 0.5 mm"
    assert isinstance(out.ConvolutionKernel, MultiValue)
    assert list(out.ConvolutionKernel) == ["B30f", ""]
    assert out.StudyDate == ""  # a malformed date is emptied, not "--"


def test_type_1_and_2_attributes_are_replaced_not_removed(deidentifier: Deidentifier) -> None:
    ds = load("rtplan.dcm")
    ds.OperatorsName = "FOREMAN^ERIC"
    ds.RTPlanLabel = "FOREMAN plan"
    out = roundtrip(deidentifier, ds)
    assert out.RTPlanLabel == "plan"
    assert "OperatorsName" in out and out.OperatorsName == ""
    assert "InstitutionName" not in ds or "InstitutionName" in out
