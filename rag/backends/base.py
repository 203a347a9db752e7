"""The one protocol every chat backend implements, and the values it exchanges.

A backend turns a `ChatRequest` (chat messages plus the same numbered passages in typed form)
into a stream of text pieces. It declares what the assistant needs to know about it (context
window, a compact-context budget, whether it may rewrite follow-up questions) and owns its
options: a pydantic model, `Options`, filled from the `[llm.<name>]` table of the settings
(`RAG_LLM__<NAME>__<OPTION>` in the environment, "-" in a name written "_") and given to
`from_settings`. It does not retrieve, pack context, cite or check grounding: the assistant
does that around it, identically for every backend.

Failures (unreachable server, timeout, 4xx/5xx, bad model name, missing package) are raised
as `BackendError` with a message a user can act on; callers turn it into a readable answer.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, ValidationError

from index.types import Chunk
from rag.types import Message, ShortAnswer

if TYPE_CHECKING:
    from rag.config import Settings

BackendState = Literal["available", "missing package", "unreachable", "misconfigured"]


class BackendError(RuntimeError):
    """A backend could not answer. `str(err)` is shown to the user as is."""


class NoOptions(BaseModel):
    """The options of a backend that takes none."""

    model_config = ConfigDict(extra="forbid")


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
    # the reader's short answer from `passages`, for backends that lead with it (extractive)
    short_answer: ShortAnswer | None = None


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
    Options: ClassVar[type[BaseModel]]  # its settings; `NoOptions` when it has none

    @classmethod
    def from_settings(cls, settings: Settings, options: Any = None) -> ChatBackend:
        """Build the backend. `options` is an `Options` instance; None reads it from
        `settings` (`backend_options(cls, settings)`)."""
        ...

    @property
    def model(self) -> str:
        """The model that answers (a file name, a served model id...)."""
        ...

    @property
    def context_window(self) -> int:
        """Tokens the model accepts, prompt and answer together."""
        ...

    @property
    def context_tokens(self) -> int | None:
        """Tokens of document text the prompt should carry, passages cut to their sentences
        most relevant to the question (None: as many whole passages as the window holds).
        A small local model reads its prompt slowly; this bounds the time to the first token."""
        ...

    @property
    def can_rewrite(self) -> bool:
        """Whether the model is capable enough to rewrite follow-up questions into standalone
        queries when `llm.rewrite` is "auto" (otherwise a heuristic does it)."""
        ...

    def status(self) -> BackendStatus:
        """Cheap check: is the package there, is the server reachable. Never raises."""
        ...

    def stream(self, request: ChatRequest) -> Iterator[str]:
        """Yield the answer's text in pieces. Raises BackendError on failure."""
        ...


_MEMBERS = (
    *("name", "Options", "from_settings", "model", "context_window", "context_tokens"),
    *("can_rewrite", "status", "stream"),
)


def missing_members(backend: object) -> list[str]:
    """The `ChatBackend` members `backend` lacks (empty when it implements the protocol)."""
    return [member for member in _MEMBERS if not hasattr(backend, member)]


def options_key(name: str) -> str:
    """The settings key of a backend's options: `[llm.<key>]`, `RAG_LLM__<KEY>__...`."""
    return name.replace("-", "_")


def _problems(err: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'options'}: {e['msg']}" for e in err.errors()
    )


def backend_options(
    backend_cls: type[ChatBackend],
    settings: Settings,
    overrides: Mapping[str, Any] | None = None,
    *,
    name: str | None = None,
) -> BaseModel:
    """The backend's `Options`: its `[llm.<name>]` table, with `overrides` on top.

    `overrides` are options given with one question (None values are left out); `name` is
    the name the backend is registered under (default: its own `name`). Raises BackendError
    naming an unknown or invalid option.
    """
    name = name or backend_cls.name
    model: type[BaseModel] = backend_cls.Options
    table = getattr(settings.llm, options_key(name), None)
    if overrides:
        if not model.model_fields:
            raise BackendError(f"The {name} backend takes no options.")
        unknown = sorted(set(overrides) - set(model.model_fields))
        if unknown:
            raise BackendError(f"Unknown option(s) for the {name} backend: {', '.join(unknown)}.")
    elif isinstance(table, model):
        return table
    data = table.model_dump() if isinstance(table, BaseModel) else dict(table or {})
    data |= {k: v for k, v in (overrides or {}).items() if v is not None}
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise BackendError(f"Invalid option for the {name} backend: {_problems(err)}") from None


def settings_with_options(settings: Settings, name: str, options: BaseModel) -> Settings:
    """A copy of `settings` whose `[llm.<name>]` table is `options` (the original is kept)."""
    llm = settings.llm.model_copy(update={options_key(name): options})
    return settings.model_copy(update={"llm": llm})


def complete(backend: ChatBackend, request: ChatRequest) -> str:
    """Run a backend to completion and return the whole text."""
    return "".join(backend.stream(request))
