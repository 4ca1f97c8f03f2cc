"""The shipped data dictionaries match the checks, and what the checks accept the model encodes."""

from __future__ import annotations

import csv
import io
from importlib.resources import files

from sarcoma_xnat.clinical.dictionary import dictionary_csv, redcap_dictionary_csv
from sarcoma_xnat.clinical.table import check_rows
from sarcoma_xnat.models.encoding import CLINICAL_VARIABLES, encode_clinical


def _shipped(name: str) -> str:
    return files("sarcoma_xnat.clinical").joinpath("data", name).read_text(encoding="utf-8")


def test_shipped_files_are_what_the_code_writes() -> None:
    assert _shipped("data_dictionary.csv") == dictionary_csv()
    assert _shipped("redcap_data_dictionary.csv") == redcap_dictionary_csv()


def test_redcap_dictionary_has_the_upload_layout() -> None:
    rows = list(csv.reader(io.StringIO(_shipped("redcap_data_dictionary.csv"))))
    assert rows[0][0] == "Variable / Field Name" and len(rows[0]) == 18
    assert all(len(r) == 18 for r in rows)
    assert rows[1][0] == "patient_id" and rows[1][10] == "y"  # record ID, an identifier
    by_name = {r[0]: r for r in rows[1:]}
    assert by_name["tumour_location"][3] == "radio"
    assert by_name["tumour_location"][5] == "thigh, thigh | buttock, buttock | knee, knee | other, other"
    assert by_name["age"][7:10] == ["integer", "0", "120"]
    assert set(CLINICAL_VARIABLES) <= set(by_name)


def test_every_accepted_value_is_encodable() -> None:
    rows = list(csv.DictReader(io.StringIO(_shipped("data_dictionary.csv"))))
    choices = {r["variable"]: r["allowed"][len("one of "):].split(", ") for r in rows
               if r["type"] == "choice"}
    base = {"subject": "S1", "age": "0", "sex": "F", "tumour_location": "thigh", "diagnosis": "UPS",
            "neoadjuvant_chemo": "no", "tumour_size_cm": "0.1", "tumour_volume_cm3": "100000",
            "tumour_depth": "deep", "tumour_grade": "1", "metastases_at_presentation": "no",
            "radiotherapy": "none"}
    for name in CLINICAL_VARIABLES:
        for value in choices.get(name, [base[name]]):
            row = {**base, name: value}
            [checked] = check_rows([row])
            assert not checked.problems, (name, value, checked.problems)
            assert encode_clinical(checked.values).shape == (19,)
