"""Cleaning free text: remove the identifiers a dataset itself carries, and typical patterns.

Used for the ``C`` (clean) action on descriptors the study keeps (series and study
descriptions, protocol and ROI names), for file and folder names, and as a safety
net over text attributes the profile table does not list.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

__all__ = ["IDENTIFYING_KEYWORDS", "Scrubber", "identifying_tokens"]

#: top-level attributes whose values are identifiers to hunt for elsewhere in the dataset
IDENTIFYING_KEYWORDS = (
    "PatientName", "PatientID", "OtherPatientIDs", "OtherPatientNames", "PatientBirthName",
    "PatientMotherBirthName", "PatientBirthDate", "PatientAddress", "PatientTelephoneNumbers",
    "AccessionNumber", "StudyID", "IssuerOfPatientID", "MedicalRecordLocator",
    "ReferringPhysicianName", "PerformingPhysicianName", "OperatorsName",
    "NameOfPhysiciansReadingStudy", "PhysiciansOfRecord", "RequestingPhysician",
    "InstitutionName", "InstitutionAddress", "StationName",
)

_MIN_TOKEN = 3
#: words too common to scrub on their own when they come from institution names or addresses
_COMMON = frozenset({"THE", "AND", "FOR", "HOSPITAL", "UNIVERSITY", "CENTRE", "CENTER", "CLINIC",
                     "CLINICA", "ROAD", "LANE", "STREET", "AVENUE", "ROW", "ROYAL", "SAINT",
                     "GENERAL", "MEDICAL", "INFIRMARY", "NATIONAL", "HEALTH", "REGISTER", "SAN"})
#: patterns that are identifying whatever the dataset says: dates, long numbers, titles + name,
#: phone numbers
_PATTERNS = (
    r"\b(?:19|20)\d{2}[-./]?\d{2}[-./]?\d{2}\b",
    r"\b\d{1,2}[./-]\d{1,2}[./-](?:19|20)?\d{2}\b",
    r"\+?\d[\d ()-]{6,}\d",
    r"\b\d{5,}\b",
    r"\b(?:dr|mr|mrs|ms|miss|prof)\b\.?\s*[A-Za-z'-]+",
)


def _split(value: str) -> list[str]:
    """Return the whole value and its words (PN components, spaces, punctuation)."""
    parts = [value.strip()]
    parts += re.split(r"[\^=\s,;/\\]+", value)
    return [p.strip(" .") for p in parts if p and len(p.strip(" .")) >= _MIN_TOKEN]


def identifying_tokens(ds: Dataset) -> tuple[str, ...]:
    """Return the identifying strings this dataset carries at its top level, longest first."""
    tokens: set[str] = set()
    for keyword in IDENTIFYING_KEYWORDS:
        value = ds.get(keyword)
        if value is None or value == "":
            continue
        for value in (value if isinstance(value, MultiValue) else [value]):
            text = str(value)
            whole = text.strip()
            if len(whole) >= _MIN_TOKEN:
                tokens.add(whole)
            for part in _split(text):
                if part.upper() in _COMMON or (part.isdigit() and len(part) < 5):
                    continue
                tokens.add(part)
    return tuple(sorted(tokens, key=lambda t: (-len(t), t)))


class Scrubber:
    """Remove identifying tokens and patterns from text.

    Parameters
    ----------
    tokens : iterable of str
        Strings to remove wherever they occur (case-insensitive).
    """

    def __init__(self, tokens: Iterable[str]) -> None:
        self.tokens = tuple(tokens)
        self._text, self._bytes = _compile(self.tokens)

    def clean(self, text: str) -> str:
        """Return ``text`` with every token and pattern removed, whitespace tidied."""
        out = self._text.sub(" ", text)
        out = re.sub(r"\s{2,}", " ", out).strip(" ,;:-_")
        return out

    def is_dirty(self, raw: bytes) -> bool:
        """Return whether raw (encoded) element bytes contain a token or pattern."""
        return self._bytes.search(raw) is not None


@functools.lru_cache(maxsize=256)
def _compile(tokens: tuple[str, ...]) -> tuple[re.Pattern[str], re.Pattern[bytes]]:
    """Compile one alternation for the tokens and the fixed patterns (cached per patient)."""
    alternatives = [re.escape(t) for t in tokens] + list(_PATTERNS)
    text = re.compile("|".join(alternatives), re.IGNORECASE)
    encoded = [re.escape(t.encode("utf-8", "ignore")) for t in tokens]
    encoded += [p.encode() for p in _PATTERNS]
    return text, re.compile(b"|".join(encoded), re.IGNORECASE)
