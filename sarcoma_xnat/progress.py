"""Progress reporting: a bar on a terminal, a few plain log lines in a container or CI.

Without a terminal (a container's log, CI) a line per item floods the log: one
de-identification of a study wrote thousands of lines. :func:`progress` logs
there at most every :data:`LOG_EVERY_S` seconds or every tenth of the work, each
line after the item it counts has finished, and always a last line with the total
and the time taken. On a terminal it shows a tqdm bar, and log records emitted
while the bar is shown go through the bar's own ``write`` so they do not break it.
"""

from __future__ import annotations

import contextlib
import logging
import math
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

__all__ = ["LOG_EVERY_S", "progress"]

T = TypeVar("T")
log = logging.getLogger("sarcoma_xnat.progress")

#: without a terminal, at most one progress line per this many seconds (besides the 10 % steps)
LOG_EVERY_S = 10.0


def progress(items: Iterable[T], desc: str, total: int | None = None,
             clock: Callable[[], float] = time.monotonic) -> Iterator[T]:
    """Iterate over ``items`` showing progress.

    Parameters
    ----------
    items : iterable
        What to iterate over.
    desc : str
        What is being done, e.g. ``"de-identifying"``; never a patient's name or path.
    total : int, optional
        Number of items (default: ``len(items)`` when it has one).
    clock : callable
        Monotonic clock in seconds (tests pass a fake one).
    """
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    if sys.stderr.isatty():
        yield from _bar(items, desc, total)
        return
    yield from _log_lines(items, desc, total, clock)


def _bar(items: Iterable[T], desc: str, total: int | None) -> Iterator[T]:
    """Yield from a tqdm bar; log records go through ``tqdm.write`` meanwhile."""
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    loggers = [logging.getLogger(), logging.getLogger("sarcoma_xnat")]
    with contextlib.ExitStack() as stack:
        stack.enter_context(logging_redirect_tqdm(loggers=loggers))
        yield from tqdm(items, desc=desc, total=total, unit="item", leave=False)


def _log_lines(items: Iterable[T], desc: str, total: int | None,
               clock: Callable[[], float]) -> Iterator[T]:
    """Yield items, logging a line per tenth of the work or per LOG_EVERY_S, and at the end."""
    start = last = clock()
    step = max(1, math.ceil(total / 10)) if total else 0
    done = 0
    for item in items:
        yield item
        done += 1
        now = clock()
        if total and done >= total:
            continue  # the closing line says it
        if (step and done % step == 0) or now - last >= LOG_EVERY_S:
            log.info("%s: %d/%s", desc, done, total if total is not None else "?")
            last = now
    log.info("%s: %d/%s done in %.1f s", desc, done, total if total is not None else done,
             clock() - start)
