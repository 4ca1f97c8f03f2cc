"""Progress reporting: a bar on a terminal, plain log lines in a container or CI."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

__all__ = ["progress"]

T = TypeVar("T")
log = logging.getLogger("sarcoma_xnat.progress")


def progress(items: Iterable[T], desc: str, total: int | None = None) -> Iterator[T]:
    """Iterate over ``items`` showing progress.

    On a terminal this is a tqdm bar on stderr; otherwise one INFO log line per item,
    which is what a container's log (``docker logs``) should show.
    """
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    if sys.stderr.isatty():
        from tqdm import tqdm

        yield from tqdm(items, desc=desc, total=total, unit="item", leave=False)
        return
    for index, item in enumerate(items, 1):
        log.info("%s: %d/%s", desc, index, total if total is not None else "?")
        yield item
