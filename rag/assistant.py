"""The one public entry point of the question side: `Assistant`.

`Assistant.from_settings()` wires the pieces together for every caller (CLI, web app, API,
evals): validate the question -> rewrite a follow-up into a standalone query -> retrieve ->
decide abstention from retrieval signals -> pack numbered context under the token budget ->
the backend streams an answer -> grounding validates markers, scores support, builds
citations or falls back to an extractive answer -> final abstention check. `ask()` returns the
typed `Answer`; `stream()` yields text pieces and then the final `Answer` (always last; its
text replaces what was streamed). Problems (bad question, no index, backend failure) come back
as an `Answer` with `error` set and a readable text, never as an exception.

The index, embedder and backends are opened lazily and cached; caches are guarded by a lock so
several web users can share one Assistant. This module holds no retrieval, prompt or grounding
logic of its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from rag.abstain import AbstainDecision, TermStats, after_generation, should_abstain
from rag.backends import registry
from rag.backends.base import BackendError, BackendStatus, ChatBackend, ChatRequest
from rag.config import RetrievalSettings, Settings, load_settings
from rag.context import count_tokens, pack_context
from rag.grounding import SupportScorer, check_answer
from rag.prompts import ABSTAIN_TEXT, DEFAULT_VARIANT, build_messages, system_prompt
from rag.rewrite import rewrite_query
from rag.types import Answer, ContextInfo, Hit, Message

# Settings groups a backend's options map onto (backend_options={"base_url": ..., "model": ...}).
_OPTION_GROUPS = {"openai": "openai", "llama-cpp": "llama_cpp"}
_MAX_STATS_CHUNKS = 50_000  # above this, key terms are weighted equally (no IDF pass)


class IndexUnavailable(RuntimeError):
    """There is no usable index; the message says what to run."""


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


def _as_messages(history: Sequence[Any]) -> tuple[Message, ...]:
    """Accept Messages, {"role", "content"} dicts or (role, content) pairs."""
    out: list[Message] = []
    for item in history:
        if isinstance(item, Message):
            out.append(item)
        elif isinstance(item, Mapping):
            role, content = item.get("role"), item.get("content")
            if role in ("user", "assistant") and isinstance(content, str):
                out.append(Message(role, content))
        elif isinstance(item, tuple | list) and len(item) == 2:
            out.append(Message(str(item[0]), str(item[1])))  # type: ignore[arg-type]
    return tuple(out)


class Assistant:
    """Answers questions over the index with checked citations. Thread-safe."""

    def __init__(
        self,
        settings: Settings,
        prompt_variant: str = DEFAULT_VARIANT,
        *,
        index=None,
        embedder=None,
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

    def ensure_index(self):
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

    def _embedder_for_index(self):
        with self._lock:
            if self._embedder is None:
                from index.embedding import get_embedder

                self._embedder = get_embedder(self.settings.index)
            return self._embedder

    def _term_stats(self, index) -> TermStats | None:
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

    def index_status(self):
        """IndexStatus of the open index, or None when there is none (see index_problem())."""
        try:
            return self.ensure_index().status()
        except IndexUnavailable:
            return None

    def index_problem(self) -> str | None:
        """Why there is no usable index (None when there is one)."""
        try:
            self.ensure_index()
        except IndexUnavailable as err:
            return str(err)
        return None

    # -- backends ---------------------------------------------------------------------------

    def _settings_for(self, name: str, options: Mapping[str, Any] | None) -> Settings:
        if not options:
            return self.settings
        group = _OPTION_GROUPS.get(name)
        if group is None:
            raise BackendError(f"The {name} backend takes no options.")
        current = getattr(self.settings.llm, group)
        unknown = sorted(set(options) - set(type(current).model_fields))
        if unknown:
            raise BackendError(f"Unknown option(s) for the {name} backend: {', '.join(unknown)}.")
        group_data = current.model_dump() | {k: v for k, v in options.items() if v is not None}
        try:
            new_group = type(current).model_validate(group_data)
        except ValueError as err:
            raise BackendError(f"Invalid option for the {name} backend: {err}") from None
        llm = self.settings.llm.model_copy(update={group: new_group})
        return self.settings.model_copy(update={"llm": llm})

    def backend(self, name: str | None = None, options: Mapping[str, Any] | None = None):
        """The (cached) backend `name` with `options`. Raises BackendError."""
        name = name or self.settings.llm.backend
        key = (name, tuple(sorted((k, str(v)) for k, v in (options or {}).items())))
        with self._lock:
            if key not in self._backends:
                self._backends[key] = registry.create(name, self._settings_for(name, options))
            return self._backends[key]

    def backend_statuses(self) -> list[BackendStatus]:
        """Status of every registered backend (never raises)."""
        return registry.statuses(self.settings)

    def _model_capable(self, name: str) -> bool:
        """Whether "auto" rewriting may use this backend (not the tiny default, not extractive)."""
        if name == "extractive":
            return False
        return not (name == "llama-cpp" and self.settings.llm.llama_cpp.model_path is None)

    # -- answering --------------------------------------------------------------------------

    def validate(self, question: str) -> str | None:
        """Why `question` cannot be asked (None when it can)."""
        if not isinstance(question, str) or not question.strip():
            return "Please type a question."
        limit = self.settings.server.max_question_chars
        if len(question) > limit:
            return f"The question is too long ({len(question)} characters; the limit is {limit})."
        return None

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
        final: Answer | None = None
        for item in self.stream(
            question,
            history,
            backend=backend,
            retrieval=retrieval,
            backend_options=backend_options,
        ):
            if isinstance(item, Answer):
                final = item
        assert final is not None
        return final

    def _retrieval(self, retrieval: RetrievalSettings | Mapping[str, Any] | None):
        if retrieval is None:
            return self.settings.retrieval
        if isinstance(retrieval, RetrievalSettings):
            return retrieval
        data = self.settings.retrieval.model_dump() | dict(retrieval)
        return RetrievalSettings.model_validate(data)

    def stream(
        self,
        question: str,
        history: Sequence[Any] = (),
        *,
        backend: str | None = None,
        retrieval: RetrievalSettings | Mapping[str, Any] | None = None,
        backend_options: Mapping[str, Any] | None = None,
    ) -> Iterator[str | Answer]:
        """Yield the answer's text in pieces, then the final Answer (always last)."""
        start = time.perf_counter()
        timings: dict[str, float] = {}
        name = backend or self.settings.llm.backend
        base = {"backend": name, "model": "", "query": question}

        def fail(message: str, hits: Sequence[Hit] = (), **extra: Any) -> Answer:
            timings["total"] = _ms(start)
            fields = base | extra
            return Answer(
                text=message,
                citations=(),
                hits=tuple(hits),
                abstained=False,
                error=message,
                timings_ms=dict(timings),
                **fields,
            )

        problem = self.validate(question)
        if problem:
            answer = fail(problem)
            yield answer.text
            yield answer
            return
        history = _as_messages(history)
        try:
            chat = self.backend(name, backend_options)
            base["model"] = str(chat.model)
        except BackendError as err:
            answer = fail(str(err))
            yield answer.text
            yield answer
            return
        except Exception as err:
            answer = fail(f"The {name} backend could not be started: {err}")
            yield answer.text
            yield answer
            return

        t = time.perf_counter()
        rewrite = rewrite_query(
            question,
            history,
            mode=self.settings.llm.rewrite,
            backend=chat,
            model_capable=self._model_capable(name),
        )
        timings["rewrite"] = _ms(t)
        query = rewrite.query
        base["query"] = query

        t = time.perf_counter()
        try:
            settings = self._retrieval(retrieval)
            index = self.ensure_index()
            from rag.retrieval import build_retriever

            retriever = build_retriever(settings, index, self._embedder_for_index())
            hits = retriever.retrieve(query, settings.top_k, settings.sources or None)
            stats = self._term_stats(index)
        except IndexUnavailable as err:
            answer = fail(str(err))
            yield answer.text
            yield answer
            return
        except Exception as err:  # a misconfigured retrieval, an unreachable Chroma server
            answer = fail(f"Retrieval failed: {err}")
            yield answer.text
            yield answer
            return
        timings["retrieval"] = _ms(t)

        decision = should_abstain(query, hits, self.settings.grounding, stats)
        if decision.abstain:
            answer = self._abstained(base, hits, decision, timings, start)
            yield answer.text
            yield answer
            return

        prompt_question = question if rewrite.method != "model" else query
        packed = pack_context(
            hits,
            prompt_question,
            history,
            context_window=chat.context_window,
            max_answer_tokens=self.settings.llm.max_tokens,
            system_prompt=system_prompt(self.prompt_variant),
            context_tokens=getattr(chat, "context_tokens", None),  # a compact-context backend
        )
        messages = build_messages(
            prompt_question, packed.passages, packed.history, variant=self.prompt_variant
        )
        request = ChatRequest(
            messages=messages,
            question=query,
            passages=packed.passages,
            max_tokens=self.settings.llm.max_tokens,
            temperature=self.settings.llm.temperature,
        )
        tokens_in = sum(count_tokens(m.content) for m in messages)

        t = time.perf_counter()
        pieces: list[str] = []
        error: str | None = None
        try:
            for piece in chat.stream(request):
                if not pieces:
                    timings["first_token"] = _ms(start)
                pieces.append(piece)
                yield piece
        except BackendError as err:
            error = str(err)
        except Exception as err:  # a third-party backend's own exception
            error = f"The {name} backend failed: {err}"
        timings["generation"] = _ms(t)
        raw = "".join(pieces)
        if error is not None:
            yield fail(error, hits, context=packed.info, tokens_in=tokens_in)
            return

        t = time.perf_counter()
        grounding = check_answer(raw, packed.passages, self._support_scorer(), question=query)
        timings["grounding"] = _ms(t)
        after = after_generation(decision, grounding, self.settings.grounding)
        if after.abstain:
            yield self._abstained(
                base, hits, after, timings, start, packed.info, tokens_in, count_tokens(raw)
            )
            return
        timings["total"] = _ms(start)
        yield Answer(
            text=grounding.text,
            citations=grounding.citations,
            hits=tuple(hits),
            abstained=False,
            sentences=grounding.sentences,
            fallback=grounding.fallback,
            context=packed.info,
            tokens_in=tokens_in,
            tokens_out=count_tokens(raw),
            timings_ms=dict(timings),
            **base,
        )

    @staticmethod
    def _abstained(
        base: dict[str, Any],
        hits: Sequence[Hit],
        decision: AbstainDecision,
        timings: dict[str, float],
        start: float,
        context: ContextInfo | None = None,
        tokens_in: int = 0,
        tokens_out: int = 0,
    ) -> Answer:
        timings["total"] = _ms(start)
        return Answer(
            text=ABSTAIN_TEXT,
            citations=(),
            hits=tuple(hits),
            abstained=True,
            abstain_reason=decision.reason,
            context=context,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            timings_ms=dict(timings),
            **base,
        )
