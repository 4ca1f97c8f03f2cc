"""Run per-file de-identification work on every core, quietly, in input order.

Both passes of folder de-identification (value collection, then cleaning) are a
function applied to each file. :func:`map_files` applies it in ``jobs`` worker
processes (``--jobs``, default: every core this process may use) and yields the
results in input order, so that the output does not depend on the number of jobs.
Workers print nothing: logging is off and warnings are ignored in them, because a
library warning may quote a value from the file. :func:`quiet` does the same for
the work done in this process.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import multiprocessing
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

from pydicom import config

from sarcoma_xnat.errors import ConfigurationError

__all__ = ["default_jobs", "map_files", "quiet"]

T = TypeVar("T")
R = TypeVar("R")


def default_jobs() -> int:
    """Return the number of cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence pydicom's warnings and value validation (their text may quote a value)."""
    logger = logging.getLogger("pydicom")
    disabled, mode = logger.disabled, config.settings.reading_validation_mode
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logger.disabled = True
        config.settings.reading_validation_mode = config.IGNORE
        try:
            yield
        finally:
            logger.disabled = disabled
            config.settings.reading_validation_mode = mode


def _fork_is_unsafe() -> bool:
    """Return whether this process has loaded gRPC, whose threads do not survive ``fork``.

    A process that has loaded gRPC (NVFlare's transport, e.g. a test run after the FL
    tests, or an FL client) must not fork workers: gRPC's poller threads abort in the child
    ("Check failed: ... KICKED"). Such a process does the work itself, in order.
    """
    return "grpc._cython.cygrpc" in sys.modules


def _start_worker(init: Callable[..., None] | None, args: tuple[Any, ...]) -> None:
    """Set up one worker: nothing it does is logged or warned about, then ``init(*args)``."""
    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")
    config.settings.reading_validation_mode = config.IGNORE
    if init is not None:
        init(*args)


def _chunk(func: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """Return ``func(item)`` for every item of one chunk (in a worker)."""
    return [func(item) for item in items]


def _chunks(groups: Sequence[object], jobs: int) -> list[range]:
    """Return runs of positions with the same group, none longer than a fair share.

    Files of one study go to one worker as far as load allows, so the per-study work a
    worker remembers (compiled token patterns, the walker's memo) is done once, not in
    every worker.
    """
    cap = max(8, -(-len(groups) // (jobs * 6)))
    out: list[range] = []
    start = 0
    for at in range(1, len(groups) + 1):
        if at == len(groups) or groups[at] != groups[start]:
            size = at - start  # a run longer than the cap: split into even pieces
            pieces = -(-size // cap)
            out.extend(range(start + size * i // pieces, start + size * (i + 1) // pieces)
                       for i in range(pieces))
            start = at
    return out


def map_files(func: Callable[[T], R], items: Sequence[T], jobs: int,
              init: Callable[..., None] | None = None,
              init_args: tuple[Any, ...] = (),
              groups: Sequence[object] | None = None) -> Iterator[R]:
    """Yield ``func(item)`` for every item, in order, computed in ``jobs`` processes.

    ``init(*init_args)`` sets up the per-run state ``func`` reads (in each worker, or in
    this process when ``jobs`` is 1 or there is one item). ``func`` must be a module-level
    function. ``groups`` (one per item) keeps consecutive items of a group in the same
    worker where it can (see :func:`_chunks`); the results do not depend on it.
    """
    if jobs < 1:
        raise ConfigurationError(f"--jobs must be at least 1, got {jobs}")
    jobs = min(jobs, len(items))
    if jobs > 1 and _fork_is_unsafe():
        jobs = 1
    if jobs <= 1:
        if init is not None:
            init(*init_args)
        with quiet():
            for item in items:
                yield func(item)
        return
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else methods[0])
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_start_worker,
                             initargs=(init, init_args)) as pool:
        if groups is None:
            chunk = max(1, min(32, len(items) // (jobs * 8)))
            yield from pool.map(func, items, chunksize=chunk)
            return
        for done in pool.map(_chunk, itertools.repeat(func),
                             [items[r.start:r.stop] for r in _chunks(groups, jobs)]):
            yield from done
