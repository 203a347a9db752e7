"""The guards of one indexing run: a file lock and the crash marker.

`locked(settings)` holds the data dir's lock for the whole run, so a second concurrent run
fails at once with `IndexBusyError` instead of interleaving writes. The marker file
(`DIRTY_MARKER`) exists from a run's first write to its clean end; a run that finds it knows
the previous one died midway (see `index.reconcile`). This module does not write the stores.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from index.config import IndexSettings

DIRTY_MARKER = "index.dirty"
_LOCK_TIMEOUT = 2.0  # seconds to wait for another run before giving up


class IndexBusyError(RuntimeError):
    """Another `rag index` holds the lock on this data dir."""


@contextmanager
def locked(settings: IndexSettings) -> Iterator[None]:
    """Hold the data dir's indexing lock, or raise IndexBusyError at once."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(settings.lock_path), timeout=_LOCK_TIMEOUT)
    try:
        lock.acquire()
    except Timeout:
        raise IndexBusyError(
            f"Another `rag index` is updating {settings.data_dir} right now "
            f"(lock {settings.lock_path}); wait for it to finish and run again."
        ) from None
    try:
        yield
    finally:
        lock.release()


def dirty_marker(settings: IndexSettings) -> Path:
    """The file that says a run has written and not yet finished."""
    return settings.data_dir / DIRTY_MARKER
