"""Regenerate ``ps3.15-e1-1.csv`` from the innolitics/dicom-standard JSON (run once, by hand).

Usage: ``python make_profile.py confidentiality_profile_attributes.json > ps3.15-e1-1.csv``.
See README.md in this folder for the pinned source and edition.
"""

from __future__ import annotations

import csv
import json
import sys

from pydicom.datadict import keyword_for_tag

OPTION_COLUMNS = {  # innolitics key -> our column
    "rtnSafePrivOpt": "retain_safe_private",
    "rtnUIDsOpt": "retain_uids",
    "rtnDevIdOpt": "retain_device_identity",
    "rtnInstIdOpt": "retain_institution_identity",
    "rtnPatCharsOpt": "retain_patient_characteristics",
    "rtnLongFullDatesOpt": "retain_long_full_dates",
    "rtnLongModifDatesOpt": "retain_long_modified_dates",
    "cleanDescOpt": "clean_descriptors",
    "cleanStructContOpt": "clean_structured_content",
    "cleanGraphOpt": "clean_graphics",
}


def main(path: str) -> None:
    rows = json.load(open(path, encoding="utf-8"))
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["tag", "keyword", "name", "in_std_iod", "basic", *OPTION_COLUMNS.values()])
    for row in sorted(rows, key=lambda r: r["id"]):
        tag = row["id"].upper()
        if tag.startswith("GGGGEEEE"):
            tag = "PRIVATE"
        keyword = ""
        if len(tag) == 8 and "X" not in tag:
            keyword = keyword_for_tag(int(tag, 16)) or ""
        out.writerow([tag, keyword, " ".join(row["name"].split()), row.get("stdCompIOD", ""),
                      row["basicProfile"].strip(), *(row.get(k, "") for k in OPTION_COLUMNS)])


if __name__ == "__main__":
    main(sys.argv[1])
