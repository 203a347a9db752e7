"""Typed values of the question side: hits, citations, grounding checks and the Answer.

Everything the CLI, the web app and the evals receive from the assistant is one of these.
Frozen dataclasses with a `to_json()` that is the documented `--json` / API shape, and the
answer stream's events: `TextPiece`s, then the final `Answer`; `AnswerStream` drains one.
Nothing here retrieves or generates.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from index.types import Chunk

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk with its fused score and the ranks each retriever gave it."""

    chunk: Chunk
    score: float  # final score after fusion / reranking (higher is better)
    dense_score: float | None = None  # cosine similarity, when the dense half found it
    bm25_score: float | None = None
    dense_rank: int | None = None  # 1-based
    bm25_rank: int | None = None

    def to_json(self) -> dict:
        return {
            "source": self.chunk.source,
            "title": self.chunk.title,
            "chunk_id": self.chunk.id,
            "score": round(self.score, 6),
            "dense_score": None if self.dense_score is None else round(self.dense_score, 6),
            "bm25_score": None if self.bm25_score is None else round(self.bm25_score, 6),
        }


@dataclass(frozen=True)
class Citation:
    """A numbered source [n] and the passage in it that supports the answer.

    `start`/`end` are character offsets into the cleaned document text (the same space as
    `Chunk.start`/`Chunk.end`), so a reader can highlight exactly the supporting passage.
    """

    n: int
    source: str
    title: str
    chunk_id: str
    start: int
    end: int
    text: str  # the supporting passage (document text[start:end])
    chunk_text: str = ""  # the whole cited chunk, for context around the highlight
    chunk_start: int = 0  # offset of chunk_text in the document
    page: int | None = None
    path: str = ""

    def to_json(self) -> dict:
        return {
            "n": self.n,
            "source": self.source,
            "title": self.title,
            "chunk_id": self.chunk_id,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "page": self.page,
        }


@dataclass(frozen=True)
class SentenceCheck:
    """The grounding verdict on one answer sentence."""

    sentence: str
    citations: tuple[int, ...]  # the [n] markers the sentence carries (after validation)
    supported: bool
    score: float  # combined support score in [0, 1]
    lexical: float  # share of the sentence's content words found in the cited text
    semantic: float  # best cosine similarity to a sentence of the cited text
    reason: str = ""  # why an unsupported sentence is not, e.g. "the cited text lacks 'deputy'"

    def to_json(self) -> dict:
        return {
            "sentence": self.sentence,
            "citations": list(self.citations),
            "supported": self.supported,
            "score": round(self.score, 4),
            "lexical": round(self.lexical, 4),
            "semantic": round(self.semantic, 4),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class ShortAnswer:
    """The few words of a passage that answer the question (a name, date, number, phrase)."""

    text: str  # exact text of the document
    n: int  # the [n] of the passage it comes from
    start: int  # document character offsets of the span (Chunk.start-based, like Citation)
    end: int
    sentence_start: int  # the supporting sentence, document offsets
    sentence_end: int
    kind: str  # expected answer type: person, organisation, date, number, place, thing, ...
    score: float  # the reader's confidence that it is right, in [0, 1]

    def to_json(self) -> dict:
        return {
            "text": self.text,
            "n": self.n,
            "start": self.start,
            "end": self.end,
            "kind": self.kind,
            "score": round(self.score, 4),
        }


@dataclass(frozen=True)
class ContextInfo:
    """What went into the prompt: never silently cut."""

    chunks_used: int
    tokens_used: int
    token_budget: int
    dropped_chunk_ids: tuple[str, ...] = ()
    history_turns_used: int = 0

    def to_json(self) -> dict:
        return {
            "chunks_used": self.chunks_used,
            "tokens_used": self.tokens_used,
            "token_budget": self.token_budget,
            "dropped_chunk_ids": list(self.dropped_chunk_ids),
            "history_turns_used": self.history_turns_used,
        }


@dataclass(frozen=True)
class Answer:
    text: str
    citations: tuple[Citation, ...]
    hits: tuple[Hit, ...]
    abstained: bool
    backend: str
    model: str
    query: str = ""  # the standalone query used for retrieval (after rewriting)
    sentences: tuple[SentenceCheck, ...] = ()
    fallback: bool = False  # the model's answer was unsupported; an extractive one replaced it
    error: str | None = None  # a backend failure, as a readable message
    context: ContextInfo | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    timings_ms: dict[str, float] = field(default_factory=dict)  # retrieval, first_token, total
    abstain_reason: str | None = None
    short_answer: ShortAnswer | None = None  # the reply's first words, when a span answers

    @property
    def groundedness(self) -> float:
        """Share of answer sentences supported by what they cite (1.0 for no sentences)."""
        if not self.sentences:
            return 1.0
        return sum(s.supported for s in self.sentences) / len(self.sentences)

    def to_json(self) -> dict:
        return {
            "answer": self.text,
            "short_answer": self.short_answer.to_json() if self.short_answer else None,
            "abstained": self.abstained,
            "abstain_reason": self.abstain_reason,
            "citations": [c.to_json() for c in self.citations],
            "retrieved": [h.to_json() for h in self.hits],
            "sentences": [s.to_json() for s in self.sentences],
            "groundedness": round(self.groundedness, 4),
            "fallback": self.fallback,
            "error": self.error,
            "backend": self.backend,
            "model": self.model,
            "query": self.query,
            "context": self.context.to_json() if self.context else None,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }


class TextPiece(str):
    """A piece of the answer's text as the backend streams it.

    A `str`, so pieces join and print as text; its own type says what it is in a stream.
    """

    __slots__ = ()


AnswerEvent: TypeAlias = TextPiece | Answer
"""What `Assistant.stream()` yields: text pieces, then the final `Answer` (always last)."""


class AnswerStream:
    """Drains an answer stream: iterate it for the text pieces; `answer` is the final Answer.

        stream = AnswerStream(assistant.stream(question))
        for piece in stream:
            show(piece)
        answer = stream.answer  # its text replaces what was streamed

    Reading `answer` first drains the pieces without showing them.
    """

    def __init__(self, events: Iterable[str | Answer]) -> None:
        self._events = iter(events)
        self._answer: Answer | None = None

    def __iter__(self) -> Iterator[TextPiece]:
        for event in self._events:
            if isinstance(event, Answer):
                self._answer = event
            elif event:
                yield TextPiece(event)

    @property
    def answer(self) -> Answer:
        """The final Answer (drains what is left of the stream first)."""
        for _ in self:
            pass
        if self._answer is None:
            raise RuntimeError("The assistant returned no answer.")
        return self._answer
