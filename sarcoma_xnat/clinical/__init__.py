"""The clinical table: data dictionary, checks, CSV/REDCap import into subject fields, export."""

from sarcoma_xnat.clinical.dictionary import ID_COLUMNS, OUTCOME_VARIABLES, VARIABLES, Variable
from sarcoma_xnat.clinical.store import ImportReport, export_table, write_rows
from sarcoma_xnat.clinical.table import ClinicalRow, Problem, check_rows, read_csv_rows

__all__ = [
    "ClinicalRow",
    "ID_COLUMNS",
    "ImportReport",
    "OUTCOME_VARIABLES",
    "Problem",
    "VARIABLES",
    "Variable",
    "check_rows",
    "export_table",
    "read_csv_rows",
    "write_rows",
]
