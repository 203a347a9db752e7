"""The steps of answering one question, and the record that goes through them.

`Assistant.stream` runs them in order: check the question and build the backend, retrieve
(rewrite a follow-up, search, decide abstention, including the premise check), `generate`
(pack the numbered context, read the short answer span with rag.reader, stream the backend's
answer) and `check` (grounding with the claim check, the final abstention; the Answer keeps the
short answer when the checked reply states it). A `Trace` collects what
every step learnt (backend, model, standalone query, timings) and builds the `Answer`; a step
that cannot go on raises `StepFailed`, which becomes an `Answer` with `error` set.

This module opens nothing (index, embedder and backends come from the assistant) and holds no
retrieval, prompt or grounding logic of its own.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from index.types import Chunk
from rag.abstain import AbstainDecision, after_generation
from rag.backends.base import BackendError, ChatBackend, ChatRequest, Passage
from rag.config import GroundingSettings, LLMSettings
from rag.context import PackedContext, count_tokens, pack_context
from rag.grounding import SupportScorer, check_answer
from rag.prompts import ABSTAIN_TEXT, build_messages, system_prompt
from rag.types import Answer, ContextInfo, Hit, Message, ShortAnswer, TextPiece


def question_problem(question: object, max_chars: int) -> str | None:
    """Why `question` cannot be asked (None when it can): empty, or over `max_chars`."""
    if not isinstance(question, str) or not question.strip():
        return "The question is empty: please type a question."
    if len(question) > max_chars:
        return (
            f"The question is too long ({len(question)} characters; the limit is {max_chars}): "
            "shorten it and ask again."
        )
    return None


def as_messages(history: Sequence[Any]) -> tuple[Message, ...]:
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


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


class StepFailed(Exception):
    """A step could not go on; `message` is what the user reads."""

    def __init__(
        self,
        message: str,
        hits: Sequence[Hit] = (),
        context: ContextInfo | None = None,
        tokens_in: int = 0,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hits = tuple(hits)
        self.context = context
        self.tokens_in = tokens_in


class Trace:
    """What one question went through: backend, model, standalone query, step timings (ms)."""

    def __init__(self, backend: str, query: str) -> None:
        self.start = time.perf_counter()
        self.backend = backend
        self.model = ""
        self.query = query
        self.timings: dict[str, float] = {}

    @contextmanager
    def timed(self, step: str) -> Iterator[None]:
        """Record how long the block took as `step` (only when it completes)."""
        start = time.perf_counter()
        yield
        self.timings[step] = _ms(start)

    def mark(self, event: str) -> None:
        """Record the time since the question arrived (e.g. the first token)."""
        self.timings[event] = _ms(self.start)

    def answer(self, **fields: Any) -> Answer:
        self.timings["total"] = _ms(self.start)
        return Answer(
            backend=self.backend,
            model=self.model,
            query=self.query,
            timings_ms=dict(self.timings),
            **fields,
        )

    def failed(self, failure: StepFailed) -> Answer:
        return self.answer(
            text=failure.message,
            citations=(),
            hits=failure.hits,
            abstained=False,
            error=failure.message,
            context=failure.context,
            tokens_in=failure.tokens_in,
        )

    def abstained(
        self,
        hits: Sequence[Hit],
        decision: AbstainDecision,
        context: ContextInfo | None = None,
        tokens_in: int = 0,
        tokens_out: int = 0,
    ) -> Answer:
        return self.answer(
            text=ABSTAIN_TEXT,
            citations=(),
            hits=tuple(hits),
            abstained=True,
            abstain_reason=decision.reason,
            context=context,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
        )


@dataclass(frozen=True)
class Found:
    """What retrieval gave: the query searched, the question the prompt asks, the hits and
    whether they hold an answer; `reader_question` is the question with its references to the
    conversation resolved (what the short-answer reader and the premise check read)."""

    query: str
    prompt_question: str
    hits: tuple[Hit, ...]
    decision: AbstainDecision
    reader_question: str = ""


@dataclass(frozen=True)
class Reply:
    """What the backend answered, and the context it was given."""

    text: str
    packed: PackedContext
    tokens_in: int
    short_answer: ShortAnswer | None = None


@dataclass(frozen=True)
class Prepared:
    """What the backend is given: the packed context, the request and the short answer."""

    packed: PackedContext
    request: ChatRequest
    tokens_in: int

    @property
    def short_answer(self) -> ShortAnswer | None:
        return self.request.short_answer

    def short_answer_chunk(self) -> Chunk | None:
        """The chunk the short answer comes from (None without a short answer)."""
        short = self.request.short_answer
        return next((p.chunk for p in self.request.passages if short and p.n == short.n), None)


def prepare(
    trace: Trace,
    chat: ChatBackend,
    found: Found,
    history: tuple[Message, ...],
    *,
    llm: LLMSettings,
    prompt_variant: str,
    min_short_score: float | None = None,
) -> Prepared:
    """Pack the numbered context under the backend's budget and read the short answer from
    it (when `min_short_score` is set); build the backend's request."""
    packed = pack_context(
        found.hits,
        found.prompt_question,
        history,
        context_window=chat.context_window,
        max_answer_tokens=llm.max_tokens,
        system_prompt=system_prompt(prompt_variant),
        context_tokens=chat.context_tokens,
    )
    messages = build_messages(
        found.prompt_question, packed.passages, packed.history, variant=prompt_variant
    )
    short = None
    if min_short_score is not None:
        with trace.timed("reading"):
            question = found.reader_question or found.query
            short = read_short_answer(question, packed.passages, min_short_score)
    request = ChatRequest(
        messages=messages,
        question=found.query,
        passages=packed.passages,
        max_tokens=llm.max_tokens,
        temperature=llm.temperature,
        short_answer=short,
    )
    return Prepared(packed, request, sum(count_tokens(m.content) for m in messages))


def generate(
    trace: Trace, chat: ChatBackend, found: Found, prepared: Prepared
) -> Generator[TextPiece, None, Reply]:
    """Stream the backend's answer; return the whole Reply.

    Raises StepFailed (carrying the hits and context) when the backend fails.
    """
    packed, request, tokens_in = prepared.packed, prepared.request, prepared.tokens_in
    start = time.perf_counter()
    pieces: list[str] = []
    error: str | None = None
    try:
        for piece in chat.stream(request):
            if not pieces:
                trace.mark("first_token")
            pieces.append(piece)
            yield TextPiece(piece)
    except BackendError as err:
        error = str(err)
    except Exception as err:  # a third-party backend's own exception
        error = f"The {trace.backend} backend failed: {err}"
    trace.timings["generation"] = _ms(start)
    if error is not None:
        raise StepFailed(error, found.hits, context=packed.info, tokens_in=tokens_in)
    return Reply("".join(pieces), packed, tokens_in, request.short_answer)


def read_short_answer(
    question: str, passages: Sequence[Passage], min_score: float
) -> ShortAnswer | None:
    """The reader's short answer, or None (also when spaCy's model is not installed)."""
    from rag.nlp import NlpUnavailable
    from rag.reader import read

    try:
        return read(question, passages, min_score=min_score)
    except NlpUnavailable:
        return None


def _states(text: str, short: ShortAnswer | None) -> ShortAnswer | None:
    """`short` when the checked answer `text` says it (word for word, any case), else None."""
    if short is None:
        return None
    said = " ".join(text.lower().split())
    return short if " ".join(short.text.lower().split()) in said else None


def check(
    trace: Trace,
    found: Found,
    reply: Reply,
    *,
    scorer: SupportScorer,
    grounding: GroundingSettings,
) -> Answer:
    """Validate the reply's citations and support (or fall back), then the final abstention."""
    with trace.timed("grounding"):
        result = check_answer(
            reply.text,
            reply.packed.passages,
            scorer,
            question=found.query,
            claims=grounding.check_claims,
        )
    tokens_out = count_tokens(reply.text)
    after = after_generation(found.decision, result, grounding)
    if after.abstain:
        return trace.abstained(found.hits, after, reply.packed.info, reply.tokens_in, tokens_out)
    return trace.answer(
        text=result.text,
        citations=result.citations,
        hits=found.hits,
        abstained=False,
        sentences=result.sentences,
        fallback=result.fallback,
        context=reply.packed.info,
        tokens_in=reply.tokens_in,
        tokens_out=tokens_out,
        short_answer=_states(result.text, reply.short_answer),
    )
