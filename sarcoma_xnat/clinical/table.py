"""Read, check and write the clinical table (one row per subject).

A row is keyed by the site's original ``patient_id`` (mapped to the pseudonym with
the site secret, :meth:`~sarcoma_xnat.deid.keys.SiteKey.pseudonym`) or by the
``subject`` label (the pseudonym itself). Every cell is checked against the data
dictionary (:mod:`sarcoma_xnat.clinical.dictionary`); a problem names the row number
(the spreadsheet's line, header = line 1), the pseudonym and the column, never the
original ID or the cell's value (a free-text cell may hold anything).
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sarcoma_xnat.clinical.dictionary import ID_COLUMNS, VARIABLES, Variable
from sarcoma_xnat.deid.keys import SiteKey
from sarcoma_xnat.errors import ConfigurationError, InputDataError

__all__ = ["ClinicalRow", "Problem", "check_rows", "read_csv_rows", "table_csv"]


@dataclass(frozen=True)
class Problem:
    """One missing or invalid cell (or a row-level problem when ``column`` is empty)."""

    column: str
    kind: str  # "missing", "invalid", "unknown subject", "duplicate"
    expected: str

    def __str__(self) -> str:
        where = f"{self.column}: " if self.column else ""
        return f"{where}{self.kind} (expected {self.expected})"


@dataclass
class ClinicalRow:
    """One row of the table: where it was, whose it is, its valid values and its problems."""

    row_number: int
    subject: str | None
    values: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def who(self) -> str:
        """Return how reports name the row: its line and the pseudonym (never the original ID)."""
        return f"row {self.row_number}" + (f" (subject {self.subject})" if self.subject else "")


def read_csv_rows(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """Read a CSV file (UTF-8, with or without Excel's byte-order mark) into rows."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigurationError(f"cannot read the clinical table {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InputDataError(f"the clinical table {path} is not UTF-8 text (save it as CSV UTF-8)") \
            from None
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise InputDataError(f"the clinical table {path} is empty: expected a header row")
    return [{k.strip(): (v or "") for k, v in row.items() if k is not None} for row in reader]


def _check_value(var: Variable, raw: str) -> Problem | None:
    if var.kind == "choice":
        return None if raw in var.choices else Problem(var.name, "invalid", var.describe_rule())
    try:
        number = float(raw)
    except ValueError:
        return Problem(var.name, "invalid", var.describe_rule())
    if not math.isfinite(number) or (var.kind == "integer" and not number.is_integer()):
        return Problem(var.name, "invalid", var.describe_rule())
    assert var.minimum is not None and var.maximum is not None
    if not var.minimum <= number <= var.maximum:
        return Problem(var.name, "out of range", var.describe_rule())
    return None


def _id_column(header: Iterable[str], wanted: str | None) -> str:
    header = list(header)
    if wanted is not None:
        if wanted not in header:
            raise InputDataError(f"the clinical table has no {wanted!r} column "
                                 f"(columns: {', '.join(header)})")
        return wanted
    for name in ID_COLUMNS:
        if name in header:
            return name
    raise InputDataError(f"the clinical table needs a {' or '.join(ID_COLUMNS)} column "
                         f"(columns: {', '.join(header)})")


def check_rows(rows: list[Mapping[str, str]], key: SiteKey | None = None,
               id_column: str | None = None, known_subjects: Iterable[str] | None = None,
               ) -> list[ClinicalRow]:
    """Check every cell of every row; return the rows with their valid values and problems.

    ``patient_id`` rows need ``key`` to find their pseudonym. With ``known_subjects``
    a row whose subject is not among them gets an ``unknown subject`` problem. An
    empty optional cell (an outcome not known yet) is left out, not a problem.
    """
    if not rows:
        raise InputDataError("the clinical table has no rows")
    column = _id_column(rows[0].keys(), id_column)
    if column == "patient_id" and key is None:
        raise ConfigurationError("rows keyed by patient_id need the site secret (--secret-file or "
                                 "$SARCOMA_XNAT_SITE_SECRET) to find each pseudonym")
    known = set(known_subjects) if known_subjects is not None else None
    out: list[ClinicalRow] = []
    for number, row in enumerate(rows, start=2):
        ident = str(row.get(column, "")).strip()
        subject = None
        if ident:
            subject = key.pseudonym(ident) if column == "patient_id" and key is not None else ident
        checked = ClinicalRow(number, subject)
        if subject is None:
            checked.problems.append(Problem(column, "missing", "the row's ID"))
        elif known is not None and subject not in known:
            checked.problems.append(Problem("", "unknown subject",
                                            "a subject of the project with this pseudonym"))
        for var in VARIABLES:
            raw = str(row.get(var.name, "") or "").strip()
            if not raw:
                if var.required:
                    checked.problems.append(Problem(var.name, "missing", var.describe_rule()))
                continue
            problem = _check_value(var, raw)
            if problem is None:
                checked.values[var.name] = raw
            else:
                checked.problems.append(problem)
        out.append(checked)
    seen: dict[str, ClinicalRow] = {}
    for checked in out:
        if checked.subject is None:
            continue
        if checked.subject in seen:
            for dup in (seen[checked.subject], checked):
                dup.problems.append(Problem("", "duplicate", "one row per subject"))
        else:
            seen[checked.subject] = checked
    return out


def table_csv(records: Iterable[tuple[str, Mapping[str, str]]], id_column: str = "subject") -> str:
    """Return the clinical table as CSV text: an ID column, then the dictionary's columns."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([id_column, *(v.name for v in VARIABLES)])
    for ident, values in records:
        writer.writerow([ident, *(values.get(v.name, "") for v in VARIABLES)])
    return buf.getvalue()
