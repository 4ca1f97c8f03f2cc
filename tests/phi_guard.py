"""A guard over the whole test run: no planted PHI of the synthetic cohorts in any output.

The synthetic cohort writes the PHI it planted in its headers to
``ground-truth/<project>-phi.json``. This plugin keeps every test's captured stdout,
stderr, log records and failure text, and at the end of the run looks for each planted
value of every cohort the run generated (under pytest's temporary folder). A value
found fails the run and names the test, the output section and the kind of value, not
the value itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

__all__ = ["find_leaks", "planted_values"]

#: values shorter than this (initials) would match ordinary words
MIN_LENGTH = 4

_outputs: list[tuple[str, str, str]] = []
_state: dict[str, Path] = {}


def planted_values(folder: Path) -> set[str]:
    """Return every planted PHI value listed by the ``*-phi.json`` files below ``folder``."""
    values: set[str] = set()
    for path in folder.rglob("*-phi.json"):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        for listed in (data.values() if isinstance(data, Mapping) else [data]):
            for value in listed if isinstance(listed, list) else [listed]:
                text = str(value).strip()
                if len(text) >= MIN_LENGTH:
                    values.add(text)
    return values


def find_leaks(outputs: Iterable[tuple[str, str, str]], values: Iterable[str]
               ) -> list[tuple[str, str, int]]:
    """Return ``(test, section, how many values)`` for each output that holds a planted value.

    A value matches as a whole word, case-insensitively (names appear as ``NAME^GIVEN``,
    ``Name`` and ``NAME``).
    """
    patterns = [re.compile(r"(?<![A-Za-z0-9])" + re.escape(v) + r"(?![A-Za-z0-9])", re.I)
                for v in sorted(values)]
    leaks = []
    for test, section, text in outputs:
        found = sum(1 for p in patterns if p.search(text))
        if found:
            leaks.append((test, section, found))
    return leaks


@pytest.fixture(scope="session", autouse=True)
def _phi_guard_basetemp(tmp_path_factory: pytest.TempPathFactory) -> None:
    _state["base"] = tmp_path_factory.getbasetemp()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for section, content in report.sections:
        if content:
            _outputs.append((report.nodeid, section, content))
    if report.failed and report.longreprtext:
        _outputs.append((report.nodeid, f"failure ({report.when})", report.longreprtext))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    base = _state.get("base")
    if base is None or not base.exists() or not _outputs:
        return
    leaks = find_leaks(_outputs, planted_values(base))
    if not leaks:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = [f"PHI guard: planted PHI of a synthetic cohort appears in {len(leaks)} output(s):"]
    lines += [f"  {test} [{section}]: {n} planted value(s)" for test, section, n in leaks]
    for line in lines:
        (reporter.write_line if reporter else print)(line)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
