"""The backend registry: names -> backend classes, extended through entry points.

Built-in backends are declared in pyproject.toml under the `ragchat.backends` entry-point
group, exactly as a third-party package would declare its own, so both are found the same way.
`register()` adds one in-process (tests, plugins loaded by hand). Building a backend imports
its module lazily: a missing optional package shows up as a status, not an import error.
`create()` gives the backend its `Options` (from settings, plus per-question overrides) and
checks that what was built implements the `ChatBackend` protocol.
This module does not pick the backend to use (the assistant does, from settings).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from rag.backends.base import (
    BackendError,
    BackendStatus,
    ChatBackend,
    backend_options,
    missing_members,
    options_key,
    settings_with_options,
)

if TYPE_CHECKING:
    from rag.config import Settings

ENTRY_POINT_GROUP = "ragchat.backends"

_lock = threading.Lock()
_registered: dict[str, type[ChatBackend] | EntryPoint] = {}  # an EntryPoint until loaded
_loaded_entry_points = False


class UnknownBackend(BackendError):
    """No backend is registered under the name asked for."""


def register(name: str, backend_cls: type[ChatBackend]) -> None:
    """Register a backend class (a `ChatBackend` implementation) under `name`."""
    with _lock:
        _registered[name] = backend_cls


def unregister(name: str) -> None:
    with _lock:
        _registered.pop(name, None)


@contextmanager
def override(name: str, backend_cls: type[ChatBackend]) -> Iterator[None]:
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


def check_name(name: str) -> None:
    """Raise UnknownBackend, naming the known backends, unless `name` is registered."""
    if name not in names():
        known = ", ".join(names())
        raise UnknownBackend(
            f"Unknown backend '{name}': it does not exist in this install. Known backends: {known}."
        )


def name_for_key(key: str) -> str | None:
    """The registered backend whose options live under `[llm.<key>]` (None: there is none)."""
    return next((n for n in names() if options_key(n) == key), None)


def backend_class(name: str) -> type[ChatBackend]:
    """The class registered under `name`. Raises BackendError naming the known backends."""
    check_name(name)
    target = _registered[name]
    if isinstance(target, EntryPoint):
        try:
            target = target.load()
        except ImportError as err:
            raise BackendError(
                f"Backend '{name}' could not be loaded: {err}. Is its package installed?"
            ) from None
        with _lock:
            _registered[name] = target
    return target


def options(name: str, settings: Settings) -> BaseModel:
    """The effective `Options` of backend `name` under `settings`. Raises BackendError."""
    return backend_options(backend_class(name), settings, name=name)


def create(
    name: str, settings: Settings, overrides: Mapping[str, Any] | None = None
) -> ChatBackend:
    """Build the backend `name` from settings, with `overrides` of its options.

    The backend receives its `Options` and the settings (a copy carrying the overridden
    options when there are any). Raises BackendError with a readable reason.
    """
    backend_cls = backend_class(name)
    resolved = backend_options(backend_cls, settings, overrides, name=name)
    if overrides:
        settings = settings_with_options(settings, name, resolved)
    backend = backend_cls.from_settings(settings, resolved)
    missing = missing_members(backend)
    if missing:
        raise BackendError(
            f"The {name} backend does not implement the ChatBackend protocol "
            f"(missing: {', '.join(missing)})."
        )
    return backend


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
