"""The one public entry point of the question side: `Assistant`.

`Assistant.from_settings()` wires the pieces together for every caller (CLI, web app, API,
evals). `stream()` runs the answering pipeline (rag.pipeline_steps): check the question and
build the backend -> retrieve (rewrite a follow-up into a standalone query, search, decide
abstention from retrieval signals) -> generate (pack numbered context under the token budget,
the backend streams an answer) -> check (grounding validates markers, scores support, builds
citations or falls back to an extractive answer; final abstention). It yields `TextPiece`s and
then the final `Answer` (always last; its text replaces what was streamed); `ask()` drains it
(`rag.types.AnswerStream`). Problems (bad question, unknown backend, no index, backend
failure) come back as an `Answer` with `error` set and a readable text, never as an exception.
`validate()`, `index_problem()` and `source_problem()` let a caller check before it asks.

The index, embedder and backends are opened lazily and cached; caches are guarded by a lock so
several web users can share one Assistant. This module holds no retrieval, prompt or grounding
logic of its own.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rag.abstain import TermStats, premise_decision, should_abstain
from rag.backends import registry
from rag.backends.base import BackendError, BackendStatus, ChatBackend
from rag.config import RetrievalSettings, Settings, load_settings
from rag.grounding import SupportScorer
from rag.pipeline_steps import (
    Found,
    StepFailed,
    Trace,
    as_messages,
    check,
    generate,
    prepare,
    question_problem,
)
from rag.prompts import DEFAULT_VARIANT
from rag.rewrite import resolve_references, rewrite_query
from rag.types import Answer, AnswerEvent, AnswerStream, Hit, Message, TextPiece

if TYPE_CHECKING:
    from index.embedding import Embedder
    from index.store import ChunkIndex
    from index.types import IndexStatus

_MAX_STATS_CHUNKS = 50_000  # above this, key terms are weighted equally (no IDF pass)


class IndexUnavailable(RuntimeError):
    """There is no usable index; the message says what to run."""


def _told(answer: Answer) -> Iterator[AnswerEvent]:
    """An answer that was not streamed: its text as the one piece, then the Answer."""
    yield TextPiece(answer.text)
    yield answer


class Assistant:
    """Answers questions over the index with checked citations. Thread-safe."""

    def __init__(
        self,
        settings: Settings,
        prompt_variant: str = DEFAULT_VARIANT,
        *,
        index: ChunkIndex | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        """`index`/`embedder` may be given ready-made (tests, evals); otherwise opened lazily."""
        self.settings = settings
        self.prompt_variant = prompt_variant
        self._lock = threading.RLock()
        self._index = index
        self._embedder = embedder
        self._stats: TermStats | None = None
        self._scorer: SupportScorer | None = None
        self._backends: dict[tuple, ChatBackend] = {}

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Assistant:
        """An assistant over `settings` (load_settings() when None). Opens nothing yet."""
        return cls(settings if settings is not None else load_settings())

    # -- the index side, opened lazily ------------------------------------------------------

    def _missing_message(self) -> str:
        return f"No index found in {self.settings.index.data_dir} — run `rag index` first."

    def _open_index(self) -> ChunkIndex:
        """The open ChunkIndex. Raises IndexUnavailable with a readable message."""
        with self._lock:
            if self._index is not None:
                return self._index
            cfg = self.settings.index
            if cfg.chroma_url is None and not cfg.manifest_path.is_file():
                raise IndexUnavailable(self._missing_message())
            from index.store import IndexMismatchError, StoreError, open_index

            try:
                index = open_index(cfg)
            except (IndexMismatchError, StoreError) as err:
                raise IndexUnavailable(str(err)) from None
            if index.count() == 0:
                raise IndexUnavailable(self._missing_message())
            self._index = index
            return index

    def _embedder_for_index(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                from index.embedding import get_embedder

                self._embedder = get_embedder(self.settings.index)
            return self._embedder

    def _term_stats(self, index: ChunkIndex) -> TermStats | None:
        with self._lock:
            if self._stats is None and index.count() <= _MAX_STATS_CHUNKS:
                texts = (c.text for src in index.sources() for c in index.chunks_of(src))
                self._stats = TermStats(texts)
            return self._stats

    def _support_scorer(self) -> SupportScorer:
        with self._lock:
            if self._scorer is None:
                self._scorer = SupportScorer(self._embedder_for_index(), self.settings.grounding)
            return self._scorer

    def reload_index(self) -> None:
        """Forget the open index (after an upload or `rag index`); reopened on next use."""
        with self._lock:
            self._index = None
            self._stats = None
            self._scorer = None

    def index_status(self) -> IndexStatus | None:
        """IndexStatus of the open index, or None when there is none (see index_problem())."""
        try:
            return self._open_index().status()
        except IndexUnavailable:
            return None

    def index_problem(self) -> str | None:
        """Why there is no usable index (None when there is one)."""
        try:
            self._open_index()
        except IndexUnavailable as err:
            return str(err)
        return None

    def sources(self) -> list[str]:
        """The indexed source files (empty when there is no index)."""
        try:
            return list(self._open_index().sources())
        except IndexUnavailable:
            return []

    def source_problem(self, sources: Sequence[str]) -> str | None:
        """Why `sources` cannot filter a search (None when all are indexed)."""
        known = set(self.sources())
        unknown = [s for s in sources if s not in known]
        if not unknown:
            return None
        indexed = ", ".join(sorted(known)) or "none"
        return f"Unknown source {', '.join(unknown)}. Indexed files: {indexed}."

    # -- backends ---------------------------------------------------------------------------

    def backend(
        self, name: str | None = None, options: Mapping[str, Any] | None = None
    ) -> ChatBackend:
        """The (cached) backend `name` with `options` over its settings. Raises BackendError."""
        name = name or self.settings.llm.backend
        key = (name, tuple(sorted((k, str(v)) for k, v in (options or {}).items())))
        with self._lock:
            if key not in self._backends:
                self._backends[key] = registry.create(name, self.settings, options)
            return self._backends[key]

    def backend_statuses(self) -> list[BackendStatus]:
        """Status of every registered backend (never raises)."""
        return registry.statuses(self.settings)

    # -- answering --------------------------------------------------------------------------

    def validate(self, question: str) -> str | None:
        """Why `question` cannot be asked (None when it can): empty, or over the length limit."""
        return question_problem(question, self.settings.server.max_question_chars)

    def ask(
        self,
        question: str,
        history: Sequence[Any] = (),
        *,
        backend: str | None = None,
        retrieval: RetrievalSettings | Mapping[str, Any] | None = None,
        backend_options: Mapping[str, Any] | None = None,
    ) -> Answer:
        """Answer `question` (with the conversation so far). Never raises."""
        events = self.stream(
            question,
            history,
            backend=backend,
            retrieval=retrieval,
            backend_options=backend_options,
        )
        return AnswerStream(events).answer

    def stream(
        self,
        question: str,
        history: Sequence[Any] = (),
        *,
        backend: str | None = None,
        retrieval: RetrievalSettings | Mapping[str, Any] | None = None,
        backend_options: Mapping[str, Any] | None = None,
    ) -> Iterator[AnswerEvent]:
        """Yield the answer's text in `TextPiece`s, then the final Answer (always last).

        `history`: Messages, {"role", "content"} dicts or (role, content) pairs. `retrieval`
        replaces settings.retrieval (a mapping: only the keys it names). `backend_options`
        override the backend's options for this question (e.g. base_url, model).
        """
        trace = Trace(backend or self.settings.llm.backend, question)
        try:
            chat = self._chat(trace, question, backend_options)
            messages = as_messages(history)
            found = self._retrieve(trace, question, messages, chat, retrieval)
        except StepFailed as failure:
            yield from _told(trace.failed(failure))
            return
        if found.decision.abstain:
            yield from _told(trace.abstained(found.hits, found.decision))
            return
        prepared = prepare(
            trace,
            chat,
            found,
            messages,
            llm=self.settings.llm,
            prompt_variant=self.prompt_variant,
            min_short_score=(
                self.settings.grounding.min_short_answer_score
                if self.settings.grounding.short_answers
                else None
            ),
        )
        if self.settings.grounding.check_premises:
            with trace.timed("premises"):
                decision = premise_decision(
                    found.reader_question or found.query,
                    found.hits,
                    found.decision,
                    prepared.short_answer_chunk(),
                )
            if decision is not None:
                yield from _told(
                    trace.abstained(found.hits, decision, prepared.packed.info, prepared.tokens_in)
                )
                return
        try:
            reply = yield from generate(trace, chat, found, prepared)
        except StepFailed as failure:  # its pieces were streamed: only the Answer follows
            yield trace.failed(failure)
            return
        yield check(
            trace,
            found,
            reply,
            scorer=self._support_scorer(),
            grounding=self.settings.grounding,
        )

    # -- the steps that need what the assistant opens ---------------------------------------

    def _chat(self, trace: Trace, question: str, options: Mapping[str, Any] | None) -> ChatBackend:
        """Check the question, then build (or reuse) the backend that answers."""
        problem = self.validate(question)
        if problem:
            raise StepFailed(problem)
        try:
            chat = self.backend(trace.backend, options)
        except BackendError as err:
            raise StepFailed(str(err)) from None
        except Exception as err:
            raise StepFailed(f"The {trace.backend} backend could not be started: {err}") from None
        trace.model = str(chat.model)
        return chat

    def _retrieve(
        self,
        trace: Trace,
        question: str,
        history: tuple[Message, ...],
        chat: ChatBackend,
        retrieval: RetrievalSettings | Mapping[str, Any] | None,
    ) -> Found:
        """Rewrite a follow-up into a standalone query, search, decide abstention."""
        with trace.timed("rewrite"):
            rewrite = rewrite_query(
                question,
                history,
                mode=self.settings.llm.rewrite,
                backend=chat,
                model_capable=chat.can_rewrite,
            )
        trace.query = rewrite.query
        with trace.timed("retrieval"):
            try:
                hits, stats = self.search(rewrite.query, retrieval)
            except IndexUnavailable as err:
                raise StepFailed(str(err)) from None
            except Exception as err:  # a misconfigured retrieval, an unreachable Chroma server
                raise StepFailed(f"Retrieval failed: {err}") from None
        # a model's rewrite is what the prompt asks; a heuristic one only serves the search
        prompt_question = rewrite.query if rewrite.method == "model" else question
        asked = (
            prompt_question if rewrite.method == "model" else resolve_references(question, history)
        )
        decision = should_abstain(rewrite.query, hits, self.settings.grounding, stats)
        return Found(rewrite.query, prompt_question, tuple(hits), decision, asked)

    def search(
        self, query: str, retrieval: RetrievalSettings | Mapping[str, Any] | None = None
    ) -> tuple[list[Hit], TermStats | None]:
        """The hits for `query` and the corpus's term statistics (None past the size they are
        kept for). Raises IndexUnavailable, or the store's error, like `ask` reports them."""
        settings = self._retrieval(retrieval)
        index = self._open_index()
        from rag.retrieval import build_retriever

        retriever = build_retriever(settings, index, self._embedder_for_index())
        hits = retriever.retrieve(query, settings.top_k, settings.sources or None)
        return list(hits), self._term_stats(index)

    def _retrieval(
        self, retrieval: RetrievalSettings | Mapping[str, Any] | None
    ) -> RetrievalSettings:
        if retrieval is None:
            return self.settings.retrieval
        if isinstance(retrieval, RetrievalSettings):
            return retrieval
        data = self.settings.retrieval.model_dump() | dict(retrieval)
        return RetrievalSettings.model_validate(data)
