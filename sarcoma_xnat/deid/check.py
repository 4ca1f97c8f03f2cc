"""``deid check``: an independent scan of a de-identified folder against its originals.

This module shares no code with the de-identifier's value finding (:mod:`.values`,
:mod:`.scrub`, :mod:`.engine`): it walks the originals with its own rules, collects
every identifying value (all PN elements, identity attributes, original UIDs, private
text, identifier-like words of file and folder names) and reports each one that
appears in the output — in any element at any depth (private and UN elements read as
text too) or in a file or folder name — with the output's tag path. It also reports
references that no longer resolve, pixel data that changed, and IOD attributes present
in an original but missing from its output. The values themselves are never printed:
a finding names where the value was found and where it came from.

A survivor is a whole identifying value, a word of a person's name, or an ID. The
words of a place (institution, department, issuer of patient IDs, station, address) are
looked for on their own only when they are not ordinary vocabulary: "Sarcoma" of "St
Winifred Sarcoma Centre" also names the disease in a kept description ("MR THIGH SARCOMA
PROTOCOL"), so it alone is no survivor, while "Winifred" and the whole name are. Ordinary vocabulary is the word
list ``data/place-vocabulary.txt`` and every word that DICOM's code meanings use in
lower case (pydicom's code dictionary, the standard's and SNOMED's terms: common
nouns, not the proper names of eponyms). A place value made only of such words
("Department of Radiology") identifies nothing and is not looked for.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import UID_dictionary

__all__ = ["CheckReport", "Finding", "check_folders"]

#: identity attributes (by keyword), wherever they are; PN elements are taken by VR
_IDENTITY = frozenset({
    "PatientID", "OtherPatientIDs", "PatientBirthDate", "PatientAddress", "AccessionNumber",
    "PatientTelephoneNumbers", "StudyID", "MedicalRecordLocator", "InstitutionName",
    "InstitutionAddress", "InstitutionalDepartmentName", "StationName", "DeviceSerialNumber",
    "RequestedProcedureID", "ScheduledProcedureStepID", "PerformedProcedureStepID",
    "AdmissionID", "IssuerOfPatientID", "ReferringPhysicianAddress", "PersonAddress",
    "PersonTelephoneNumbers", "FillerOrderNumberImagingServiceRequest",
    "PlacerOrderNumberImagingServiceRequest", "ClinicalTrialSubjectID", "ServiceEpisodeID",
})
#: attributes that are Type 1 or 2 in the modules of the IODs this study uses
_IOD_REQUIRED = frozenset({
    "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID",
    "StudyDate", "StudyTime", "ReferringPhysicianName", "StudyID", "AccessionNumber",
    "Modality", "SeriesInstanceUID", "SeriesNumber", "SOPClassUID", "SOPInstanceUID",
    "Manufacturer", "FrameOfReferenceUID", "PositionReferenceIndicator", "InstanceNumber",
    "ContentDate", "ContentTime", "RTPlanLabel", "StructureSetLabel", "ContentLabel",
    "ContentCreatorName", "SegmentSequence", "ImageType", "Rows", "Columns", "BitsAllocated",
    "PixelData", "ReferencedFrameOfReferenceSequence", "StructureSetROISequence",
    "ROIContourSequence", "ContentSequence", "ConceptNameCodeSequence", "ValueType",
    "CompletionFlag", "VerificationFlag", "SeriesDate", "OperatorsName", "ContentQualification",
})
_TEXT = frozenset({"AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT", "DA", "DT"})
_STOP = frozenset({"THE", "AND", "OF", "DR", "MR", "MRS", "MS", "MD", "JR", "DE", "LA", "VAN",
                   "VON", "HOSPITAL", "CENTER", "CENTRE", "CLINIC", "UNIVERSITY", "MEDICAL",
                   "IMAGING", "GENERAL", "DEPARTMENT", "RADIOLOGY", "CT", "MR", "PT", "US",
                   "NM", "CR", "DX", "SR", "RT", "OT", "SC", "SEG", "NAME", "HERE", "TEST"})
#: identity attributes of places, organisations and devices (the issuer of patient IDs is
#: a hospital): only their longer words that are not ordinary vocabulary are looked for alone
_PLACES = frozenset({"InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName",
                     "IssuerOfPatientID", "StationName", "ReferringPhysicianAddress",
                     "PersonAddress"})
#: what the de-identifier stamps on its output (its own name, the profile)
_STAMPS = frozenset({"DeidentificationMethod", "DeidentificationMethodCodeSequence"})
_ID_LIKE = re.compile(r"^(?=(?:.*\d){3})(?=.*[A-Za-z])[A-Za-z0-9]{5,}$|^\d{6,}$")
#: UIDs of coding schemes and classes name no instance: they are kept, not collected
_VOCABULARY_UID = re.compile(r"Coding|Context|Mapping|ClassUID|TransferSyntax|Implementation")
_SPLIT = re.compile(r"[\^=\s,;/\\()._\-'\"\ufffd]+")
_VOCABULARY_FILE = Path(__file__).with_name("data") / "place-vocabulary.txt"


@cache
def _ordinary() -> frozenset[str]:
    """Return the ordinary words of place values (lower case): the list, and code meanings."""
    words = {line.strip().lower() for line in _VOCABULARY_FILE.read_text("utf-8").splitlines()
             if line.strip() and not line.startswith("#")}
    try:
        from pydicom.sr.codedict import codes
    except ImportError:  # pragma: no cover - pydicom without its code dictionary
        return frozenset(words)
    for scheme in codes.schemes():
        collection = getattr(codes, scheme)
        for keyword in collection.dir():
            meaning = str(getattr(collection, keyword).meaning)
            # past the first word, a word in lower case is a common noun, never a name
            words.update(w for w in re.findall(r"[A-Za-z]+", meaning)[1:] if w.islower())
    return frozenset(words)


@dataclass(frozen=True)
class Finding:
    """One problem: ``kind`` (survivor, reference, pixels, removed), output file, where, why."""

    kind: str
    file: str
    where: str
    detail: str


@dataclass
class CheckReport:
    """What :func:`check_folders` found."""

    findings: list[Finding] = field(default_factory=list)
    originals: int = 0
    outputs: int = 0
    values: int = 0

    @property
    def survivors(self) -> list[Finding]:
        """Return the identifying values found in the output."""
        return [f for f in self.findings if f.kind == "survivor"]

    @property
    def ok(self) -> bool:
        """Return whether nothing was found."""
        return not self.findings


def _read(path: Path) -> Dataset | None:
    try:
        return pydicom.dcmread(path, force=True)
    except Exception:  # noqa: BLE001 - not DICOM, or unreadable: nothing to compare
        return None


def _walk(ds: Dataset, prefix: str = ""):
    """Yield (tag path, element) for every element at any depth (pixel data left out)."""
    for elem in ds:
        name = elem.keyword or f"({elem.tag.group:04X},{elem.tag.element:04X})"
        path = f"{prefix}{name}"
        if elem.tag in (0x7FE00010, 0x7FE00008, 0x7FE00009):
            continue
        if elem.VR == "SQ":
            if elem.keyword in _STAMPS:
                continue
            for index, item in enumerate(elem.value or ()):
                yield from _walk(item, f"{path}[{index}].")
        else:
            yield path, elem


def _strings(elem) -> list[str]:
    value = elem.value
    if value is None or value == "":
        return []
    if isinstance(value, bytes):
        return [value.decode("latin-1"), value.decode("utf-8", "replace")]
    if isinstance(value, (list, tuple)) or value.__class__.__name__ == "MultiValue":
        return [str(v) for v in value]
    return [str(value)]


def _words(text: str, shortest: int = 2, ordinary: frozenset[str] = frozenset()) -> list[str]:
    """Return an identifying value and its words worth looking for on their own.

    A word in ``ordinary`` (lower case) is not looked for alone, and a value made only
    of such words (and stop words) is not looked for at all.
    """
    whole = text.strip(" ^=\0")
    words = [w for w in _SPLIT.split(text) if w]
    common = [w.upper() in _STOP or w.lower() in ordinary for w in words]
    out = [whole] if len(whole) >= (4 if whole.isdigit() else 3) and whole.upper() not in _STOP \
        and not (ordinary and all(common)) else []
    for word, is_common in zip(words, common):
        if is_common:
            continue
        if re.search(r"[^\x00-\x7f]", word) or (word.isalpha() and len(word) >= shortest) \
                or _ID_LIKE.match(word):
            out.append(word)
    return out


class _Needles:
    """Identifying values of the originals, with where each came from."""

    def __init__(self) -> None:
        self.source: dict[str, str] = {}
        self.private_slots: dict[str, set[str]] = {}
        self._pattern: re.Pattern[str] | None = None

    def add(self, value: str, source: str, whole_only: bool = False, shortest: int = 2,
            ordinary: frozenset[str] = frozenset()) -> None:
        for word in ([value.strip()] if whole_only else _words(value, shortest, ordinary)):
            if len(word) >= 2 or re.search(r"[^\x00-\x7f]", word):
                self.source.setdefault(word.lower(), source)

    def pattern(self) -> re.Pattern[str] | None:
        if self._pattern is None and self.source:
            parts = []
            for needle in sorted(self.source, key=len, reverse=True):
                body = re.escape(needle)
                if needle[:1].isascii() and needle[:1].isalnum():
                    body = r"(?<![0-9a-z])" + body
                if needle[-1:].isascii() and needle[-1:].isalnum():
                    body += r"(?![0-9a-z])"
                parts.append(body)
            self._pattern = re.compile("|".join(parts))
        return self._pattern

    def find(self, text: str) -> list[str]:
        pattern = self.pattern()
        return [] if pattern is None else sorted({m.group(0) for m in pattern.finditer(
            text.lower())})


def _collect(ds: Dataset, rel: str, needles: _Needles, uids: set[str]) -> None:
    for path, elem in _walk(ds):
        group = elem.tag.group
        for text in _strings(elem):
            if elem.VR == "PN" or elem.keyword in _IDENTITY:
                place = elem.VR != "PN" and elem.keyword in _PLACES
                needles.add(text, f"{path} of {rel}", shortest=5 if place else 2,
                            ordinary=_ordinary() if place else frozenset())
            elif elem.VR == "UI" and text.strip("\0 ") not in UID_dictionary \
                    and not text.startswith("1.2.840.10008.") \
                    and not _VOCABULARY_UID.search(elem.keyword):
                uids.add(text.strip("\0 "))
            elif group % 2 and elem.tag.element >= 0x1000 and elem.VR in _TEXT | {"UN"} \
                    and len(text.strip()) >= 6 and re.search(r"[A-Za-z]{3}", text):
                value = text.strip("\0 ").lower()
                needles.private_slots.setdefault(value, set()).add(path)
                needles.add(text.strip("\0 "), f"private {path} of {rel}", whole_only=True)


def _pixel_hash(ds: Dataset) -> str | None:
    elem = ds.get(0x7FE00010)
    return None if elem is None else hashlib.sha256(bytes(elem.value or b"")).hexdigest()


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))


def _refs(ds: Dataset) -> list[tuple[str, str]]:
    return [(path, str(e.value)) for path, e in _walk(ds)
            if e.keyword == "ReferencedSOPInstanceUID" and e.value]


def _match_key(ds: Dataset) -> tuple:
    return (str(ds.get("SOPClassUID", "")), _pixel_hash(ds), str(ds.get("InstanceNumber", "")),
            str(ds.get("SeriesNumber", "")), len(ds))


def check_folders(original: str | os.PathLike[str],
                  deidentified: str | os.PathLike[str]) -> CheckReport:
    """Scan ``deidentified`` for identifying values of ``original`` and for damage."""
    src, out = Path(original), Path(deidentified)
    report, needles, uids = CheckReport(), _Needles(), set()
    originals: dict[str, Dataset] = {}
    for path in _files(src):
        rel = path.relative_to(src).as_posix()
        ds = _read(path)
        if ds is not None and "SOPClassUID" in ds:
            originals[rel] = ds
            _collect(ds, rel, needles, uids)
    for path in _files(src):  # names: words that are header values, or look like IDs/dates
        for part in path.relative_to(src).with_suffix("").parts:
            for word in _words(part)[1:]:
                if word.lower() in needles.source or _ID_LIKE.match(word):
                    needles.source.setdefault(word.lower(), "an original file or folder name")
    for uid in uids:
        needles.source.setdefault(uid.lower(), "an original UID")
    report.originals, report.values = len(originals), len(needles.source)
    outputs: dict[str, Dataset] = {}
    for path in _files(out):
        rel = path.relative_to(out).as_posix()
        for hit in needles.find(rel):
            report.findings.append(Finding("survivor", rel, "name", needles.source[hit]))
        ds = _read(path)
        if ds is None or "SOPClassUID" not in ds:
            continue
        outputs[rel] = ds
        for tag_path, elem in _walk(ds):
            if elem.keyword in _STAMPS:
                continue
            for text in _strings(elem):
                for hit in needles.find(text):
                    if tag_path in needles.private_slots.get(hit, ()):
                        continue  # a kept private slot holding its own value
                    report.findings.append(Finding("survivor", rel, tag_path,
                                                   f"value of {needles.source[hit]}"))
    report.outputs = len(outputs)
    _damage(originals, outputs, report)
    return report


def _damage(originals: dict[str, Dataset], outputs: dict[str, Dataset],
            report: CheckReport) -> None:
    """Add broken references, changed pixel data and removed IOD attributes."""
    pixels = Counter(h for ds in originals.values() if (h := _pixel_hash(ds)))
    for rel, ds in outputs.items():
        digest = _pixel_hash(ds)
        if digest is not None and digest not in pixels:
            report.findings.append(Finding("pixels", rel, "PixelData",
                                           "pixel data differs from every original's"))

    def resolved(sets: dict[str, Dataset]) -> tuple[int, list[tuple[str, str]]]:
        known = {str(ds.get("SOPInstanceUID", "")) for ds in sets.values()}
        ok, broken = 0, []
        for rel, ds in sets.items():
            for path, uid in _refs(ds):
                if uid in known:
                    ok += 1
                else:
                    broken.append((rel, path))
        return ok, broken

    before, _ = resolved(originals)
    after, broken = resolved(outputs)
    if after < before:
        report.findings += [Finding("reference", rel, path, "references no output instance")
                            for rel, path in broken]
    by_key: dict[tuple, list[Dataset]] = {}
    for ds in originals.values():
        by_key.setdefault(_match_key(ds)[:4], []).append(ds)
    for rel, ds in outputs.items():
        candidates = by_key.get(_match_key(ds)[:4], [])
        if len(candidates) != 1:
            continue
        for keyword in sorted(_IOD_REQUIRED):
            if keyword in candidates[0] and keyword not in ds:
                report.findings.append(Finding("removed", rel, keyword,
                                               "present in the original, missing here"))
