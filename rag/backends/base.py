"""The one protocol every chat backend implements, and the values it exchanges.

A backend turns a `ChatRequest` (chat messages plus the same numbered passages in typed form)
into a stream of text pieces. It does not retrieve, pack context, cite or check grounding:
the assistant does that around it, identically for every backend.

Failures (unreachable server, timeout, 4xx/5xx, bad model name, missing package) are raised
as `BackendError` with a message a user can act on; callers turn it into a readable answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar, Literal, Protocol, runtime_checkable

from index.types import Chunk
from rag.types import Message

BackendState = Literal["available", "missing package", "unreachable", "misconfigured"]


class BackendError(RuntimeError):
    """A backend could not answer. `str(err)` is shown to the user as is."""


@dataclass(frozen=True)
class Passage:
    """A numbered context passage, as the model sees it: [n] chunk.text."""

    n: int
    chunk: Chunk


@dataclass(frozen=True)
class ChatRequest:
    messages: tuple[Message, ...]  # the full prompt for chat models
    question: str  # the standalone question (after rewriting)
    passages: tuple[Passage, ...] = ()  # the numbered context, for backends that use it directly
    max_tokens: int = 256
    temperature: float = 0.1
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class BackendStatus:
    name: str
    state: BackendState
    model: str = ""
    detail: str = ""  # why it is not available, or what it runs

    @property
    def available(self) -> bool:
        return self.state == "available"

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "state": self.state,
            "available": self.available,
            "model": self.model,
            "detail": self.detail,
        }


@runtime_checkable
class ChatBackend(Protocol):
    """What the assistant needs from a model backend."""

    name: ClassVar[str]

    @property
    def model(self) -> str:
        """The model that answers (a file name, a served model id...)."""
        ...

    @property
    def context_window(self) -> int:
        """Tokens the model accepts, prompt and answer together."""
        ...

    def status(self) -> BackendStatus:
        """Cheap check: is the package there, is the server reachable. Never raises."""
        ...

    def stream(self, request: ChatRequest) -> Iterator[str]:
        """Yield the answer's text in pieces. Raises BackendError on failure."""
        ...


@dataclass
class BackendInfo:
    """What the registry knows of a backend before it is built."""

    name: str
    factory: type  # a class with `from_settings(settings) -> ChatBackend`
    description: str = ""
    origin: str = "builtin"  # "builtin", or the distribution that registered it
    options: dict[str, str] = field(default_factory=dict)


def complete(backend: ChatBackend, request: ChatRequest) -> str:
    """Run a backend to completion and return the whole text."""
    return "".join(backend.stream(request))
