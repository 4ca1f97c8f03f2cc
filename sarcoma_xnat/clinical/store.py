"""Clinical table ↔ subject custom fields of a project (local archive or XNAT).

Values land as subject custom fields, one per variable, under the variable's name:
on XNAT that is ``PUT /data/projects/P/subjects/S?xnat:subjectData/fields/field[name=age]/field=63``
(:meth:`sarcoma_xnat.xnat.objects.ObjectsApi.set_fields`), the query-string form
XNAT's own REST tests use for custom variables
(``NrgXnat/xnat-rest-tests:src/test/java/org/nrg/testing/xnat/tests/TestCustomVariables.java``),
which lists them back as search columns
(``columns=xnat:subjectData/fields/field/field,xnat:subjectData/fields/field/name``).
XNAT sites with the Custom Forms JSON fields read the same names through
``/xapi/custom-fields/projects/P/subjects/S/fields`` (xnat-web
``src/main/java/org/nrg/xapi/rest/customfields/CustomFieldsApi.java``); this module
writes the classic custom variables, which every XNAT 1.7-1.9 supports.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sarcoma_xnat.archive.base import Archive
from sarcoma_xnat.archive.refs import ObjectRef
from sarcoma_xnat.clinical.dictionary import VARIABLES
from sarcoma_xnat.clinical.table import ClinicalRow, table_csv
from sarcoma_xnat.errors import ObjectNotFoundError

__all__ = ["ImportReport", "export_table", "project_subjects", "write_rows"]

log = logging.getLogger(__name__)


@dataclass
class ImportReport:
    """What an import did: rows checked, subjects written, and every problem by row."""

    rows: list[ClinicalRow]
    written: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def bad_rows(self) -> list[ClinicalRow]:
        """Return the rows with at least one problem."""
        return [r for r in self.rows if r.problems]

    def lines(self) -> list[str]:
        """Return the report: one line per problem, then a summary (no original IDs, no values)."""
        out = [f"{row.who}: {problem}" for row in self.bad_rows for problem in row.problems]
        verb = "would write" if self.dry_run else "wrote"
        out.append(f"{len(self.rows)} rows checked, {len(self.bad_rows)} with problems; "
                   f"{verb} clinical fields of {len(self.written)} subjects")
        return out


def project_subjects(archive: Archive, project: str) -> list[str]:
    """Return the subject labels of ``project`` (an error when the project does not exist)."""
    ref = ObjectRef(project)
    if not archive.exists(ref):
        raise ObjectNotFoundError(f"no project {project!r} in the archive", project=project)
    return [s.label for s in archive.children(ref, "subject")]


def write_rows(archive: Archive, project: str, rows: list[ClinicalRow], partial: bool = False,
               dry_run: bool = False) -> ImportReport:
    """Write the rows' values as subject custom fields; all or nothing unless ``partial``.

    Without ``partial`` a single problem anywhere writes nothing. With it every row
    whose subject is known gets its valid cells (a bad cell is left as it was).
    """
    report = ImportReport(rows, dry_run=dry_run)
    if report.bad_rows and not partial:
        return report
    for row in rows:
        if row.subject is None or any(p.kind in ("unknown subject", "duplicate")
                                      for p in row.problems):
            continue
        if not row.values:
            continue
        if not dry_run:
            archive.set_fields(ObjectRef(project, row.subject), row.values)
        report.written.append(row.subject)
    log.info("clinical import into %s: %d subjects written, %d rows with problems",
             project, len(report.written), len(report.bad_rows))
    return report


def export_table(archive: Archive, project: str) -> str:
    """Return the project's clinical table as CSV text, one row per subject with clinical fields."""
    names = {v.name for v in VARIABLES}
    records = []
    for subject in archive.children(ObjectRef(project), "subject"):
        values = {k: v for k, v in subject.fields.items() if k in names}
        if values:
            records.append((subject.label, values))
    return table_csv(records)
