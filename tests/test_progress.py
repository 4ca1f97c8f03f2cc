"""Progress lines without a terminal: few, after the item, and a closing line."""

from __future__ import annotations

import logging

import pytest

from sarcoma_xnat import progress as progress_module
from sarcoma_xnat.progress import LOG_EVERY_S, progress


class FakeClock:
    """A clock that advances by ``tick`` seconds each time it is read."""

    def __init__(self, tick: float) -> None:
        self.now, self.tick = 0.0, tick

    def __call__(self) -> float:
        self.now += self.tick
        return self.now


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "sarcoma_xnat.progress"]


def test_many_items_give_about_ten_lines(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="sarcoma_xnat.progress")
    assert list(progress(range(5916), "de-identifying", clock=FakeClock(0.0))) == list(range(5916))
    lines = _lines(caplog)
    assert 9 <= len(lines) <= 11, lines
    assert lines[0] == "de-identifying: 592/5916"
    assert lines[-1].startswith("de-identifying: 5916/5916 done in ")


def test_a_line_counts_finished_items_only(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="sarcoma_xnat.progress")
    seen = []
    for item in progress(["a", "b"], "storing", clock=FakeClock(0.0)):
        seen.append((item, list(_lines(caplog))))
    # while the last item is being processed no line claims 2/2
    assert not any("2/2" in line for line in seen[-1][1])
    assert _lines(caplog)[-1].startswith("storing: 2/2 done")


def test_slow_items_log_by_time(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="sarcoma_xnat.progress")
    clock = FakeClock(LOG_EVERY_S + 0.1)  # one read per item: each item takes longer than the interval
    list(progress(iter(range(3)), "training", total=None, clock=clock))
    lines = _lines(caplog)
    assert lines[:2] == ["training: 1/?", "training: 2/?"]
    assert lines[-1].startswith("training: 3/3 done")


def test_terminal_bar_routes_log_records_through_tqdm(monkeypatch: pytest.MonkeyPatch) -> None:
    written: list[str] = []
    import tqdm

    monkeypatch.setattr(progress_module.sys.stderr, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(tqdm.tqdm, "write", classmethod(lambda cls, s, *a, **k: written.append(s)))
    logger = logging.getLogger("sarcoma_xnat.test")
    logging.getLogger().addHandler(handler := logging.StreamHandler())
    try:
        for _ in progress(range(2), "working"):
            logger.warning("skipped file #1234abcd")
    finally:
        logging.getLogger().removeHandler(handler)
    assert any("skipped file #1234abcd" in line for line in written)
