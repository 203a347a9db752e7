"""The backend registry: names -> backend classes, extended through entry points.

Built-in backends are declared in pyproject.toml under the `ragchat.backends` entry-point
group, exactly as a third-party package would declare its own, so both are found the same way.
`register()` adds one in-process (tests, plugins loaded by hand). Building a backend imports
its module lazily: a missing optional package shows up as a status, not an import error.
This module does not pick the backend to use (the assistant does, from settings).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from rag.backends.base import BackendError, BackendStatus, ChatBackend

if TYPE_CHECKING:
    from rag.config import Settings

ENTRY_POINT_GROUP = "ragchat.backends"

_lock = threading.Lock()
_registered: dict[str, object] = {}  # name -> class, or an EntryPoint not yet loaded
_loaded_entry_points = False


def register(name: str, backend_cls: type) -> None:
    """Register a backend class (one with `from_settings(settings)`) under `name`."""
    with _lock:
        _registered[name] = backend_cls


def unregister(name: str) -> None:
    with _lock:
        _registered.pop(name, None)


@contextmanager
def override(name: str, backend_cls: type) -> Iterator[None]:
    """Register `backend_cls` as `name` for the duration of a block, then restore what was
    there before (the built-in backend, or nothing). For tests and temporary plugins."""
    _discover()
    with _lock:
        previous = _registered.get(name)
        _registered[name] = backend_cls
    try:
        yield
    finally:
        with _lock:
            if previous is None:
                _registered.pop(name, None)
            else:
                _registered[name] = previous


def _discover() -> None:
    global _loaded_entry_points
    with _lock:
        if _loaded_entry_points:
            return
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            _registered.setdefault(ep.name, ep)
        _loaded_entry_points = True


def names() -> list[str]:
    """Every registered backend name, sorted."""
    _discover()
    return sorted(_registered)


def backend_class(name: str) -> type:
    """The class registered under `name`. Raises BackendError naming the known backends."""
    _discover()
    target = _registered.get(name)
    if target is None:
        known = ", ".join(names())
        raise BackendError(f"Unknown backend '{name}'. Known backends: {known}.")
    if not isinstance(target, type):
        try:
            target = target.load()  # an EntryPoint
        except ImportError as err:
            raise BackendError(
                f"Backend '{name}' could not be loaded: {err}. Is its package installed?"
            ) from None
        with _lock:
            _registered[name] = target
    return target


def create(name: str, settings: Settings) -> ChatBackend:
    """Build the backend `name` from settings. Raises BackendError with a readable reason."""
    return backend_class(name).from_settings(settings)


def statuses(settings: Settings) -> list[BackendStatus]:
    """The status of every registered backend; never raises."""
    out: list[BackendStatus] = []
    for name in names():
        try:
            out.append(create(name, settings).status())
        except BackendError as err:
            out.append(BackendStatus(name=name, state="missing package", detail=str(err)))
        except Exception as err:  # a third-party backend that fails to build
            out.append(BackendStatus(name=name, state="misconfigured", detail=str(err)))
    return out
