"""Site configuration (--site-config) and the Clean Pixel Data option (PS3.15 E.3.1)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
from deidcorpus import load, write
from pydicom.dataset import Dataset
from pydicom.uid import RLELossless

from sarcoma_xnat.cli import main
from sarcoma_xnat.deid import Deidentifier, SiteKey, deidentify_folder
from sarcoma_xnat.deid.site import load_site_config
from sarcoma_xnat.errors import ConfigurationError

REVIEW = '[review]\nby = "PACS team"\ndate = "2026-11-30"\n'
US = "1.2.840.10008.5.1.4.1.1.6.1"
#: a band of burned-in text at the top of a 128 x 128 image, and a rule that covers it
RULE = ('[[clean_pixels]]\nmanufacturer = "acme"\nmodel = "Sono"\nrows = 128\ncolumns = 128\n'
        'rectangles = [[0, 0, 128, 12], [100, 120, 28, 8]]\n')


def site(tmp_path: Path, text: str, name: str = "site.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


def ultrasound() -> Dataset:
    """A native 16-bit 128 x 128 ultrasound-like image with a bright 'text' band on top."""
    ds = load("CT_small.dcm")
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = US
    ds.Modality, ds.Manufacturer, ds.ManufacturerModelName = "US", "ACME Medical", "Sono 5"
    ds.PatientID, ds.PatientName = "MRN0042117", "HOUSE^GREGORY"
    pixels = ds.pixel_array.copy()
    pixels[0:12, :] = 4000  # the burned-in name
    ds.PixelData = pixels.tobytes()
    return ds


def read(folder: Path) -> list[Dataset]:
    return [pydicom.dcmread(p) for p in sorted(folder.rglob("*.dcm"))]


def test_without_a_rule_a_burned_in_image_is_still_refused(tmp_path: Path,
                                                          deidentifier: Deidentifier) -> None:
    write(ultrasound(), tmp_path / "in" / "us.dcm")
    report = deidentify_folder(tmp_path / "in", tmp_path / "out", deidentifier, jobs=1)
    assert not report.written and "refused" in report.skipped[0].reason


def test_clean_pixel_data_blanks_only_the_rectangles(tmp_path: Path, key: SiteKey) -> None:
    original = ultrasound()
    before = original.pixel_array.copy()
    write(original, tmp_path / "in" / "us.dcm")
    config = site(tmp_path, RULE + REVIEW)
    deidentifier = Deidentifier(key, site=load_site_config(config))
    report = deidentify_folder(tmp_path / "in", tmp_path / "out", deidentifier, jobs=1)
    (out,) = read(tmp_path / "out")
    after = out.pixel_array
    assert (after[0:12, :] == 0).all() and (after[120:128, 100:128] == 0).all()
    outside = np.ones(before.shape, bool)
    outside[0:12, :] = outside[120:128, 100:128] = False
    assert (after[outside] == before[outside]).all()  # nothing else changed
    assert out.BurnedInAnnotation == "NO"
    codes = [item.CodeValue for item in out.DeidentificationMethodCodeSequence]
    assert "113101" in codes and "113100" in codes
    assert len(report.pixels_cleaned) == 1


def test_pixel_change_and_site_config_are_in_the_audit_log(tmp_path: Path,
                                                           secret_file: Path) -> None:
    write(ultrasound(), tmp_path / "in" / "us.dcm")
    config = site(tmp_path, RULE + REVIEW)
    assert main(["deid", "run", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"),
                 "--secret-file", str(secret_file), "--site-config", str(config),
                 "--jobs", "1"]) == 0
    records = [json.loads(line) for line in
               (tmp_path / "out" / "deid-audit.jsonl").read_text().splitlines()]
    pixel = [r for r in records if r["event"] == "clean-pixel-data"]
    assert len(pixel) == 1 and pixel[0]["rule"] == 1 and pixel[0]["rectangles"] == 2
    folder = records[-1]
    assert folder["pixels_cleaned"] == 1
    assert folder["site_config"]["sha256"] == hashlib.sha256(config.read_bytes()).hexdigest()
    assert folder["site_config"]["review"] == {"by": "PACS team", "date": "2026-11-30"}


def test_rle_pixel_data_is_cleaned_and_stays_rle(tmp_path: Path, key: SiteKey) -> None:
    ds = load("SC_rgb_rle.dcm")  # a secondary capture: refused unless a rule cleans it
    ds.Manufacturer, ds.PatientID = "ACME", "MRN0042117"
    before = ds.pixel_array.copy()
    write(ds, tmp_path / "in" / "sc.dcm")
    rule = ('[[clean_pixels]]\nmanufacturer = "ACME"\nrows = 100\ncolumns = 100\n'
            'rectangles = [[10, 20, 30, 5]]\n')
    deidentifier = Deidentifier(key, site=load_site_config(site(tmp_path, rule + REVIEW)))
    deidentify_folder(tmp_path / "in", tmp_path / "out", deidentifier, jobs=1)
    (out,) = read(tmp_path / "out")
    assert out.file_meta.TransferSyntaxUID == RLELossless
    after = out.pixel_array
    assert (after[20:25, 10:40] == 0).all()
    after[20:25, 10:40] = before[20:25, 10:40]
    assert (after == before).all()  # lossless everywhere else


def test_lossy_pixel_data_matching_a_rule_is_refused(tmp_path: Path, key: SiteKey) -> None:
    ds = load("SC_rgb_jpeg_dcmtk.dcm")  # JPEG baseline: cannot be written back losslessly
    ds.Manufacturer, ds.PatientID = "ACME", "MRN0042117"
    write(ds, tmp_path / "in" / "sc.dcm")
    rule = ('[[clean_pixels]]\nmanufacturer = "ACME"\nrows = 100\ncolumns = 100\n'
            'rectangles = [[0, 0, 10, 10]]\n')
    deidentifier = Deidentifier(key, site=load_site_config(site(tmp_path, rule + REVIEW)))
    report = deidentify_folder(tmp_path / "in", tmp_path / "out", deidentifier, jobs=1)
    assert not report.written and "losslessly" in report.skipped[0].reason


def test_screen_saves_and_other_devices_stay_refused(tmp_path: Path, key: SiteKey) -> None:
    screen = ultrasound()
    screen.ImageType = ["DERIVED", "SECONDARY", "SCREEN SAVE"]
    write(screen, tmp_path / "in" / "screen.dcm")
    other = ultrasound()
    other.Manufacturer = "OTHER VENDOR"
    other.SOPInstanceUID = other.file_meta.MediaStorageSOPInstanceUID = "1.2.3.4.5.6"
    write(other, tmp_path / "in" / "other.dcm")
    deidentifier = Deidentifier(key, site=load_site_config(site(tmp_path, RULE + REVIEW)))
    report = deidentify_folder(tmp_path / "in", tmp_path / "out", deidentifier, jobs=1)
    assert not report.written and len(report.skipped) == 2
    assert all("refused" in s.reason for s in report.skipped)


def private_mr() -> Dataset:
    ds = load("MR_small.dcm")
    ds.PatientID = "MRN0042117"
    block = ds.private_block(0x0029, "ACME MR 1.0", create=True)
    block.add_new(0x10, "DS", "800")          # b-value: the site says it is safe
    block.add_new(0x11, "LO", "Dr HOUSE")     # safe-listed too, but holds a name
    block.add_new(0x12, "LO", "kept nowhere")  # not listed: removed
    ds.ReferringPhysicianName = "HOUSE^GREGORY"
    ds.ContrastBolusAgent = "Gadovist 1.0 for HOUSE"
    return ds


def test_site_safe_private_and_kept_descriptors_extend_the_lists(tmp_path: Path,
                                                                key: SiteKey) -> None:
    write(private_mr(), tmp_path / "in" / "mr.dcm")
    config = site(tmp_path, 'kept_descriptors = ["ContrastBolusAgent"]\n' + REVIEW
                  + '[[safe_private]]\ncreator = "ACME MR 1.0"\ngroup = "0x0029"\n'
                    'element = "0x10"\nreason = "b-value"\n'
                  + '[[safe_private]]\ncreator = "acme mr 1.0"\ngroup = "0029"\nelement = "11"\n')
    plain = deidentify_folder(tmp_path / "in", tmp_path / "plain", Deidentifier(key), jobs=1)
    extended = deidentify_folder(tmp_path / "in", tmp_path / "ext",
                                 Deidentifier(key, site=load_site_config(config)), jobs=1)
    assert plain.written and extended.written
    (before,) = read(tmp_path / "plain")
    (after,) = read(tmp_path / "ext")
    assert 0x00291010 not in before and not before.get("ContrastBolusAgent")  # emptied (Z)
    assert str(after[0x00291010].value) == "800"
    assert "HOUSE" not in str(after.get((0x0029, 0x1011), "")).upper()  # still text-checked
    assert 0x00291012 not in after
    assert after.ContrastBolusAgent.startswith("Gadovist 1.0")
    assert "HOUSE" not in after.ContrastBolusAgent.upper()


@pytest.mark.parametrize("text,message", [
    ('kept_descriptors = ["StudyDescription"]\n', "review"),
    (REVIEW.replace('[review]', 'colour = "red"\n[review]'), "unknown keys"),
    ('kept_descriptors = ["PatientName"]\n' + REVIEW, "Clean Descriptors"),
    ('kept_descriptors = ["Rows"]\n' + REVIEW, "Clean Descriptors"),
    (REVIEW + '[[safe_private]]\ncreator = "ACME"\ngroup = "0x0028"\nelement = "0x10"\n', "odd"),
    (REVIEW + RULE.replace("[[0, 0, 128, 12]", "[[0, 0, 200, 12]"), "inside"),
])
def test_bad_site_configs_are_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_site_config(site(tmp_path, text))


def test_json_site_config(tmp_path: Path) -> None:
    config = site(tmp_path, json.dumps({"review": {"by": "x", "date": "2026-01-01"},
                                        "kept_descriptors": ["ContrastBolusAgent"]}), "s.json")
    assert load_site_config(config).kept_descriptors == {"ContrastBolusAgent"}
