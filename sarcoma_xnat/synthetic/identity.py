"""Fake but realistic patient identities: the PHI the synthetic headers carry on purpose.

Every value is invented from word lists and a seeded generator. The values are
distinctive enough (rare surnames, long numbers) that a test can search every output
byte for them without false alarms.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

__all__ = ["PatientIdentity", "random_identity"]

_FAMILY = ["Abernathy", "Blackwood", "Castellanos", "Delacroix", "Esterhazy", "Fairweather",
           "Gallagher", "Hollingsworth", "Ivanova", "Jablonski", "Kowalczyk", "Lindqvist",
           "Montgomery", "Nakamura", "Oyelaran", "Pennington", "Quintero", "Rasmussen",
           "Szczepanski", "Thistlewood", "Umberfield", "Vandermeer", "Whitcombe", "Xiong",
           "Yarborough", "Zeferino"]
_GIVEN_F = ["Annabel", "Beatrix", "Cordelia", "Dorothea", "Evangeline", "Florentina",
            "Genevieve", "Henrietta", "Isadora", "Josephine", "Leopoldine", "Marguerite"]
_GIVEN_M = ["Alistair", "Bartholomew", "Cornelius", "Desmond", "Evander", "Fitzgerald",
            "Gideon", "Horatio", "Ignatius", "Jeremiah", "Leander", "Maximilian"]
_STAFF = ["Hargreave", "Okonkwo", "Brightwater", "Villanueva", "Featherstone", "Kristiansen",
          "Underhill", "Ravensworth", "Achterberg", "Sorensen-Lowe"]
_HOSPITALS = ["St Winifred Sarcoma Centre", "Royal Marlowe Infirmary",
              "Ostbrook University Hospital", "Clinica San Aurelio"]
_STREETS = ["Larkspur Lane", "Quarry Hill Road", "Tamarind Avenue", "Wexford Crescent"]
_TOWNS = ["Ellesmere Port", "Kingsbridge", "Villeneuve-sur-Aube", "Marrowgate"]


@dataclass(frozen=True)
class PatientIdentity:
    """One patient's identifying data as a hospital PACS would hold it."""

    family: str
    given: str
    sex: str
    birth_date: str
    patient_id: str
    other_patient_id: str
    accession: str
    study_id: str
    address: str
    phone: str
    institution: str
    institution_address: str
    referring: str
    performing: str
    operator: str
    reader: str

    @property
    def dicom_name(self) -> str:
        """Return the name as a DICOM PN value, ``FAMILY^GIVEN``."""
        return f"{self.family.upper()}^{self.given.upper()}"

    def phi_values(self) -> list[str]:
        """Return every planted identifying string a de-identifier must remove."""
        return [self.dicom_name, self.family.upper(), self.given.upper(), self.family,
                self.given, self.birth_date, self.patient_id, self.other_patient_id,
                self.accession, self.address, self.phone, self.institution,
                self.institution_address, self.referring, self.performing, self.operator,
                self.reader]


def _staff(rng: np.random.Generator, used: set[str]) -> str:
    name = str(rng.choice([s for s in _STAFF if s not in used] or _STAFF))
    used.add(name)
    initial = chr(ord("A") + int(rng.integers(0, 26)))
    return f"{name.upper()}^{initial}"


def random_identity(rng: np.random.Generator, age_years: int, sex: str,
                    study_date: dt.date) -> PatientIdentity:
    """Draw an identity consistent with the given age, sex and study date."""
    given = str(rng.choice(_GIVEN_F if sex == "F" else _GIVEN_M))
    birth = study_date - dt.timedelta(days=int(age_years * 365.25 + rng.integers(1, 360)))
    hospital = int(rng.integers(0, len(_HOSPITALS)))
    used: set[str] = set()
    return PatientIdentity(
        family=str(rng.choice(_FAMILY)),
        given=given,
        sex=sex,
        birth_date=birth.strftime("%Y%m%d"),
        patient_id=f"MRN{int(rng.integers(10**7, 10**8))}",
        other_patient_id=f"NHS{int(rng.integers(10**9, 10**10))}",
        accession=f"ACC{int(rng.integers(10**8, 10**9))}",
        study_id=f"S{int(rng.integers(10**5, 10**6))}",
        address=f"{int(rng.integers(2, 199))} {rng.choice(_STREETS)}, {rng.choice(_TOWNS)}",
        phone=f"+44 1632 {int(rng.integers(100000, 999999))}",
        institution=_HOSPITALS[hospital],
        institution_address=f"{int(rng.integers(1, 99))} Infirmary Row, {_TOWNS[hospital]}",
        referring=_staff(rng, used),
        performing=_staff(rng, used),
        operator=_staff(rng, used),
        reader=_staff(rng, used),
    )
