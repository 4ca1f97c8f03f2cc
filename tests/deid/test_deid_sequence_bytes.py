"""Sequences cleaned from their bytes come out as the walk through pydicom makes them.

:mod:`sarcoma_xnat.deid.sequences` cleans a sequence value without parsing it when
nothing in it needs decoding. For every file the tests have — the real-world-like
corpus (SR, SEG, non-ASCII, UN, private), pydicom's vendor RT and MR files, the
synthetic cohort (SEG, RTSTRUCT), and the same files with undefined-length sequences
and items, explicit and implicit VR — the output bytes and the action counts must be
those of the walk with the byte path switched off, and the byte path must have done
part of the work.
"""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

import pydicom
import pytest
from deidcorpus import build_corpus, load
from pydicom.dataset import Dataset

from sarcoma_xnat.deid import Deidentifier, SiteKey, sequences, walker
from sarcoma_xnat.deid.scrub import Scrubber
from sarcoma_xnat.deid.split import split_bytes
from sarcoma_xnat.errors import DeidentificationError

VENDOR = ["rtstruct.dcm", "rtplan.dcm", "rtdose.dcm", "CT_small.dcm", "MR_small.dcm"]
TOKENS = ("HOUSE", "Gregory", "WILSON", "Cuddy", "Lisa", "CAMERON", "FOREMAN", "CHASE")


def _outcome(data: bytes, key: SiteKey, byte_sequences: bool) -> tuple[bytes, Counter[str]] | str:
    engine = Deidentifier(key)
    engine.byte_sequences = byte_sequences
    try:
        split = split_bytes(data, "")
        result = engine.deidentify(split.dataset, None, Scrubber(TOKENS), split.has_pixels)
    except DeidentificationError as exc:
        return exc.message
    return split.encode(), result.counts


def _undefined_lengths(data: bytes, syntax: str | None, sequences: bool = True) -> bytes:
    """Return the file rewritten with undefined-length items, and sequences (and ``syntax``)."""
    ds = pydicom.dcmread(io.BytesIO(data))
    for element in ds.iterall():
        if element.VR == "SQ":
            element.is_undefined_length = sequences
            for item in element.value:
                item.is_undefined_length_sequence_item = True
    if syntax is not None:
        ds.file_meta.TransferSyntaxUID = syntax
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _nested_actions() -> bytes:
    """Return a CT whose unlisted sequences hold sequences the profile removes, empties, remaps."""
    ds = load("CT_small.dcm")
    item = Dataset()
    item.ReferencedPatientSequence = [Dataset()]  # X: removed unread
    item.ReferencedPatientSequence[0].ReferencedSOPInstanceUID = "1.2.826.0.1.3680043.2.1143.6"
    item.ReferencedImageSequence = [Dataset(), Dataset()]  # U: its items cleaned
    for n, ref in enumerate(item.ReferencedImageSequence):
        ref.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
        ref.ReferencedSOPInstanceUID = f"1.2.826.0.1.3680043.2.1143.8.{n}"
    item.SeriesInstanceUID = "1.2.826.0.1.3680043.2.1143.9"
    item.ReferringPhysicianName = "HOUSE^GREGORY"
    plain = Dataset()
    plain.SeriesInstanceUID = "1.2.826.0.1.3680043.2.1143.10"
    plain.OperatorsName = "CHASE^ROBERT"
    ds.ReferencedSeriesSequence = [item, plain]
    other = Dataset()  # what the byte path hands to the walk through pydicom
    other.ReferencedStudySequence = [Dataset()]  # Z on a sequence
    other.ReferencedStudySequence[0].ReferencedSOPInstanceUID = "1.2.826.0.1.3680043.2.1143.7"
    other.add_new(0x00091010, "LO", "private")
    ds.DerivationImageSequence = [other]
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _files(tmp_path: Path, session_dir: Path) -> dict[str, bytes]:
    files = {p.name: p.read_bytes() for p in build_corpus(tmp_path / "corpus")}
    files["nested actions"] = _nested_actions()
    for name in VENDOR:
        buffer = io.BytesIO()
        load(name).save_as(buffer, enforce_file_format=True)
        files[name] = buffer.getvalue()
    for path in sorted(session_dir.rglob("*.dcm")):
        files.setdefault(path.parent.name, path.read_bytes())  # one file per series
    return files


def test_byte_path_gives_the_walks_bytes_and_counts(tmp_path: Path, session_dir: Path,
                                                    key: SiteKey,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    used: list[bool] = []
    clean = sequences.clean_sequence

    def counting(*args: object) -> object:
        done = clean(*args)  # type: ignore[arg-type]
        used.append(done is not None)
        return done

    monkeypatch.setattr(walker, "clean_sequence", counting)
    files = _files(tmp_path, session_dir)
    variants = {}
    for name, data in files.items():
        variants[name] = data
        for syntax in (None, "1.2.840.10008.1.2"):
            for whole in (True, False):  # sequences and items, or items only
                try:
                    variants[f"{name} {syntax} {whole}"] = _undefined_lengths(data, syntax, whole)
                except Exception:  # noqa: BLE001 - pydicom cannot rewrite it so: no variant
                    continue
    for name, data in variants.items():
        assert _outcome(data, key, True) == _outcome(data, key, False), name
    assert used.count(True) >= 20 and False in used  # both paths were taken


def test_byte_path_cleans_the_references_of_a_segmentation(tmp_path: Path, session_dir: Path,
                                                           key: SiteKey) -> None:
    seg = next(p for p in sorted(session_dir.rglob("*.dcm")) if "SEG" in p.parent.name.upper()
               or b"1.2.840.10008.5.1.4.1.1.66.4" in p.read_bytes()[:2048])
    data = seg.read_bytes()
    out, counts = _outcome(data, key, True)  # type: ignore[misc]
    original = split_bytes(data, "").dataset
    for item in original.PerFrameFunctionalGroupsSequence:
        for source in item.DerivationImageSequence[0].SourceImageSequence:
            uid = source.ReferencedSOPInstanceUID
            assert uid.encode() not in out and key.uid(uid).encode() in out
    assert counts["U"] >= len(original.PerFrameFunctionalGroupsSequence)
