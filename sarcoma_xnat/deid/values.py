"""Collect the identifying values a dataset carries, at any depth, as decoded text.

Every person name (VR PN, wherever it is: top level, request and reference sequences,
SR content items, private elements whose VR is known) and every identity attribute
(:data:`IDENTITY_KEYWORDS`) anywhere in the dataset is collected. Values are read
through pydicom, which decodes them with the dataset's Specific Character Set
(ISO 2022 IR 87, ISO_IR 192, ISO_IR 100, ...), so they are compared as text, never as
bytes in some encoding. :func:`value_tokens` splits a value into what to look for
elsewhere: the whole value, its name parts (so reversed order and "Given Family"
forms are found too) and accent-free forms; CJK parts of any length are kept.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path

from pydicom.datadict import dictionary_VR, keyword_for_tag
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

__all__ = ["COMMON_WORDS", "IDENTITY_KEYWORDS", "PLACE_WORDS", "identifying_values", "texts_of",
           "tokens_of", "value_tokens"]

#: attributes whose values identify a person, an institution or an encounter, wherever they are
IDENTITY_KEYWORDS = frozenset({
    "PatientName", "PatientID", "OtherPatientIDs", "OtherPatientNames", "PatientBirthName",
    "PatientMotherBirthName", "PatientBirthDate", "PatientAddress", "PatientTelephoneNumbers",
    "AccessionNumber", "StudyID", "IssuerOfPatientID", "MedicalRecordLocator",
    "ReferringPhysicianName", "PerformingPhysicianName", "OperatorsName",
    "NameOfPhysiciansReadingStudy", "PhysiciansOfRecord", "RequestingPhysician",
    "InstitutionName", "InstitutionAddress", "StationName", "InstitutionalDepartmentName",
    "ReferringPhysicianAddress", "ReferringPhysicianTelephoneNumbers", "PersonAddress",
    "PersonTelephoneNumbers", "RequestedProcedureID", "ScheduledProcedureStepID",
    "PerformedProcedureStepID", "AdmissionID", "ServiceEpisodeID", "PatientInsurancePlanCodeSequence",
    "FillerOrderNumberImagingServiceRequest", "PlacerOrderNumberImagingServiceRequest",
    "InstitutionCodeSequence", "ResponsibleOrganization", "ResponsiblePerson", "ClinicalTrialSiteName",
    "ClinicalTrialSubjectID", "ClinicalTrialSubjectReadingID", "CountryOfResidence",
    "RegionOfResidence", "MilitaryRank", "BranchOfService", "PatientReligiousPreference",
    "DeviceSerialNumber", "PatientTransportArrangements", "CurrentPatientLocation",
    "PatientInstitutionResidence", "VerifyingObserverName", "PersonName", "ContentCreatorName",
})

#: words too common to look for on their own (they come from names of places, titles, particles)
COMMON_WORDS = frozenset({
    "THE", "AND", "FOR", "HOSPITAL", "UNIVERSITY", "CENTRE", "CENTER", "CLINIC", "CLINICA",
    "ROAD", "LANE", "STREET", "AVENUE", "ROW", "ROYAL", "SAINT", "GENERAL", "MEDICAL",
    "INFIRMARY", "NATIONAL", "HEALTH", "REGISTER", "SAN", "DR", "MR", "MRS", "MS", "MD", "PHD",
    "JR", "SR", "II", "III", "IV", "DE", "LA", "DA", "DI", "DU", "EL", "LE", "VON", "VAN", "DEL",
    "DER", "DEN", "OF", "ST", "CT", "PT", "NM", "US", "RT",
})
#: ordinary words of institution, department and address values ("Sarcoma" of "St Winifred
#: Sarcoma Centre"): vocabulary a description needs ("MR THIGH SARCOMA PROTOCOL"), so never
#: looked for alone in such a value (the whole value and its other words still are)
PLACE_WORDS = frozenset(
    line.strip().lower()
    for line in (Path(__file__).with_name("data") / "place-vocabulary.txt").read_text("utf-8").splitlines()
    if line.strip() and not line.startswith("#"))
_SPLIT = re.compile("[\\^=\\s,;/\\\\()\"\ufffd]+")  # U+FFFD: an undecodable delimiter
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def texts_of(value: object) -> Iterator[str]:
    """Yield the text of each value of an element (PN, multi-valued and code sequences)."""
    if value is None or value == "":
        return
    if isinstance(value, (list, MultiValue)) or value.__class__.__name__ == "Sequence":
        for item in value:
            if isinstance(item, Dataset):
                for keyword in ("CodeValue", "CodeMeaning"):
                    text = str(item.get(keyword, "") or "").strip()
                    if text:
                        yield text
            else:
                yield from texts_of(item)
        return
    if isinstance(value, bytes):
        return  # an unresolved UN value: the walker decodes those separately
    yield str(value)


_SKIPS: dict[tuple[int, str | None], bool] = {}


def _skip(tag: int, elem: object) -> bool:
    """Return whether ``elem`` is neither PN, SQ nor an identity attribute, without decoding it."""
    if not getattr(elem, "is_raw", False):
        return False
    vr = getattr(elem, "VR")
    answer = _SKIPS.get((tag, vr))
    if answer is None:
        answer = _SKIPS[(tag, vr)] = _skip_vr(tag, vr)
    return answer


def _skip_vr(tag: int, vr: str | None) -> bool:
    """Return whether an element of ``tag`` read with ``vr`` can be left undecoded."""
    if vr is None or vr == "UN":
        if tag >> 16 & 1:
            return False  # a private VR is found through its creator: read it
        try:
            vr = dictionary_VR(tag)
        except KeyError:
            return True  # unknown public attribute: read as bytes, never collected here
    return "SQ" not in vr and "PN" not in vr and keyword_for_tag(tag) not in IDENTITY_KEYWORDS


def identifying_values(ds: Dataset, memo: dict[object, frozenset[str]] | None = None) -> set[str]:
    """Return every PN value and identity attribute value in ``ds`` and its items.

    Elements that can be neither (by VR and keyword) are not decoded. ``memo`` maps a
    public top-level element as read (tag, VR, bytes, with the data set's character set
    and encoding) to the values found in it: the files of a series repeat most of their
    header, so each distinct element is decoded once.
    """
    out: set[str] = set()
    if memo is None:
        _walk(ds, out)
        return out
    context = (tuple(ds._character_set), ds.original_encoding)
    for tag, raw in list(ds._dict.items()):
        if _skip(tag, raw):
            continue
        data = raw.value if getattr(raw, "is_raw", False) and not tag >> 16 & 1 else None
        if isinstance(data, bytes) and len(data) <= _MEMO_VALUE:
            key = (context, tag, raw.VR, raw.length, data)
            found = memo.get(key)
            if found is None:
                values: set[str] = set()
                for item in _collect(ds, tag, values):
                    _walk(item, values)
                found = memo[key] = frozenset(values)
            out |= found
        else:
            for item in _collect(ds, tag, out):
                _walk(item, out)
    return out


_MEMO_VALUE = 16_384


def _walk(ds: Dataset, out: set[str]) -> None:
    """Add the identifying values of ``ds`` and its items to ``out``."""
    stack = [ds]
    while stack:
        current = stack.pop()
        for tag, raw in list(current._dict.items()):
            if not _skip(tag, raw):
                stack.extend(_collect(current, tag, out))


def _collect(ds: Dataset, tag: int, out: set[str]) -> list[Dataset]:
    """Add the values of element ``tag`` to ``out``; return its items (for a sequence)."""
    try:
        elem = ds[tag]
    except Exception:  # noqa: BLE001 - an unreadable value cannot be collected
        return []
    if elem.VR == "SQ":
        if elem.keyword in IDENTITY_KEYWORDS:
            out.update(t.strip() for t in texts_of(elem.value) if t.strip())
        return [item for item in (elem.value or ()) if isinstance(item, Dataset)]
    if elem.VR == "PN" or elem.keyword in IDENTITY_KEYWORDS:
        out.update(t.strip() for t in texts_of(elem.value) if t.strip())
    return []


def _fold(text: str) -> str:
    """Return ``text`` without accents (Müller -> Muller)."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _keep(part: str, whole: bool) -> bool:
    """Return whether a part of a value is specific enough to look for."""
    if not part:
        return False
    if _NON_ASCII.search(part):
        return True  # CJK and other scripts: a one-character name part is still a name
    if part.upper() in COMMON_WORDS:
        return False
    if part.isdigit():
        return len(part) >= (3 if whole else 5)
    return len(part) >= (3 if whole else 2)


def value_tokens(value: str) -> set[str]:
    """Return what to look for from one identifying value: itself, its parts, folded forms."""
    out: set[str] = set()
    words = _SPLIT.split(value)
    # a place (not a PN: no component or group delimiters) keeps its vocabulary words
    place = "^" not in value and "=" not in value and len(words) > 1 and \
        any(w.lower() in PLACE_WORDS for w in words)
    groups = value.split("=")  # PN: alphabetic=ideographic=phonetic
    candidates = [(value.strip(" ^="), True)]
    for group in groups:
        components = group.split("^")
        candidates.append((" ".join(c for c in components[:3] if c.strip()), True))
        for component in components[:3]:  # family, given, middle; not prefix or suffix
            candidates += [(p.strip(" .'-"), False) for p in _SPLIT.split(component)]
    for text, whole in candidates:
        if place and not whole and text.lower() in PLACE_WORDS:
            continue
        for form in {text, _fold(text)}:
            if _keep(form, whole):
                out.add(form)
    return out


def tokens_of(values: Iterable[str]) -> tuple[str, ...]:
    """Return the tokens of all ``values``, longest first (stable order)."""
    tokens: set[str] = set()
    for value in values:
        tokens |= value_tokens(value)
    return tuple(sorted(tokens, key=lambda t: (-len(t), t)))
