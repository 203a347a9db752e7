"""`BackendContract`: the tests every chat backend passes, built in or from a plugin.

A backend's test module subclasses it and provides one fixture, `backend` (a working
backend); a backend that can fail also provides `broken_backend` (one that cannot answer: a
missing model file, a closed port), and one whose options have required fields provides
`settings` (settings whose `[llm.<name>]` table fills them):

    from rag.testing.backend import BackendContract

    class TestMyBackend(BackendContract):
        @pytest.fixture
        def backend(self):
            return MyBackend.from_settings(Settings())

The contract checks the `ChatBackend` protocol: the declared members and capabilities
(context window, compact-context budget, follow-up rewriting), the `Options` model
(documented fields, unknown names refused), `from_settings`, `status`, `stream` and the
failure behaviour. It needs pytest; nothing here runs a model of its own.
"""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from index.types import Chunk
from rag.backends.base import (
    BackendError,
    BackendStatus,
    ChatBackend,
    ChatRequest,
    Passage,
    backend_options,
    complete,
    missing_members,
)
from rag.config import Settings
from rag.types import Message

PASSAGES = (
    "CIA Director John Ratcliffe called his counterpart, SVR Director Sergey Naryshkin. "
    "The two spy chiefs agreed to keep in regular contact.",
    "The call took place on a Tuesday, the first contact between them in over two years.",
)
QUESTION = "Who is the director of the SVR?"


def simple_request(max_tokens: int = 40) -> ChatRequest:
    """A question over two numbered passages, as the assistant would send it."""
    passages = tuple(
        Passage(
            n=i + 1,
            chunk=Chunk(
                id=f"c{i}",
                source=f"doc{i}.txt",
                title=f"Doc {i}",
                text=text,
                position=0,
                start=0,
                end=len(text),
                n_tokens=len(text.split()),
            ),
        )
        for i, text in enumerate(PASSAGES)
    )
    documents = "\n".join(f"[{p.n}] {p.chunk.text}" for p in passages)
    return ChatRequest(
        messages=(
            Message("system", "Answer using only the documents. Cite them like [1]."),
            Message("user", f"Documents:\n{documents}\n\nQuestion: {QUESTION}"),
        ),
        question=QUESTION,
        passages=passages,
        max_tokens=max_tokens,
        temperature=0.0,
    )


class BackendContract:
    """What the assistant relies on, for any backend."""

    @pytest.fixture
    def backend(self) -> ChatBackend:
        raise NotImplementedError("a backend's test class provides this fixture")

    @pytest.fixture
    def broken_backend(self) -> ChatBackend:
        pytest.skip("this backend has no way to fail")

    @pytest.fixture
    def settings(self) -> Settings:
        """Settings the backend can be built from (the defaults, unless overridden)."""
        return Settings()

    # -- the protocol ---------------------------------------------------------------------

    def test_is_a_chat_backend(self, backend: ChatBackend) -> None:
        assert isinstance(backend, ChatBackend)
        assert isinstance(backend.name, str) and backend.name
        assert isinstance(backend.model, str) and backend.model
        assert backend.context_window >= 512

    def test_declares_every_protocol_member(self, backend: ChatBackend) -> None:
        assert missing_members(backend) == []

    def test_declares_what_the_assistant_needs(self, backend: ChatBackend) -> None:
        assert isinstance(backend.context_window, int)
        budget = backend.context_tokens
        assert budget is None or (isinstance(budget, int) and 0 < budget < backend.context_window)
        assert isinstance(backend.can_rewrite, bool)

    # -- options and from_settings --------------------------------------------------------

    def test_options_are_a_documented_pydantic_model(self, backend: ChatBackend) -> None:
        options = type(backend).Options
        assert isinstance(options, type) and issubclass(options, BaseModel)
        undocumented = [n for n, f in options.model_fields.items() if not f.description]
        assert not undocumented, f"options without a description: {undocumented}"

    def test_unknown_option_names_are_refused(self, backend: ChatBackend) -> None:
        with pytest.raises(ValidationError):
            type(backend).Options.model_validate({"no_such_option_at_all": 1})

    def test_from_settings_builds_the_backend_with_its_options(
        self, backend: ChatBackend, settings: Settings
    ) -> None:
        backend_cls = type(backend)
        options = backend_options(backend_cls, settings)
        assert isinstance(options, backend_cls.Options)
        built = backend_cls.from_settings(settings, options)
        assert isinstance(built, backend_cls) and built.name == backend.name
        # without options it reads them from the settings itself
        assert isinstance(backend_cls.from_settings(settings), backend_cls)

    # -- answering ------------------------------------------------------------------------

    def test_status_is_available(self, backend: ChatBackend) -> None:
        status = backend.status()
        assert isinstance(status, BackendStatus)
        assert status.name == backend.name
        assert status.available, status.detail

    def test_stream_yields_non_empty_text_pieces(self, backend: ChatBackend) -> None:
        pieces = list(backend.stream(simple_request()))
        assert pieces
        assert all(isinstance(p, str) and p for p in pieces)

    def test_complete_answer_is_non_empty(self, backend: ChatBackend) -> None:
        assert complete(backend, simple_request()).strip()

    # -- failure --------------------------------------------------------------------------

    def test_broken_backend_reports_status_without_raising(
        self, broken_backend: ChatBackend
    ) -> None:
        status = broken_backend.status()
        assert isinstance(status, BackendStatus)
        assert not status.available
        assert status.detail

    def test_broken_backend_raises_backend_error(self, broken_backend: ChatBackend) -> None:
        with pytest.raises(BackendError) as caught:
            complete(broken_backend, simple_request())
        message = str(caught.value)
        assert message and "\n" not in message and "Traceback" not in message
