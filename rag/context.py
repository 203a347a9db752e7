"""Number retrieved chunks [1]..[n] and pack them, with the chat history, under a token budget.

The budget is the backend's context window minus the longest answer, the system prompt, the
question and a safety margin (the model's own tokenizer differs from tiktoken's cl100k, so
counts are approximate). History gets at most `history_share` of what is left and is trimmed
oldest-first, whole turns only; chunks are added in rank order, whole chunks only. Nothing
is cut silently: `ContextInfo` records what was used and which chunk ids were dropped.

A backend may ask for a compact context (`context_tokens`: a small local model reads its
prompt at a few hundred tokens/s, so every passage token delays the first answer token). The
documents then hold only the sentences most relevant to the question
(`rag.extractive.best_sentences`), each passage one contiguous span of its chunk, so that
`chunk.text == document[start:end]` still holds and citations keep exact document offsets.

This module does not retrieve, build the final messages (prompts.py) or call a model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from index.sentences import split_sentences
from index.tokens import count_tokens
from index.types import Chunk
from rag.backends.base import Passage
from rag.extractive import best_sentences
from rag.injection import looks_like_instruction
from rag.prompts import format_document, format_question
from rag.types import ContextInfo, Hit, Message

# Tokens each chat turn costs beyond its text (role markers of the chat template).
TURN_OVERHEAD = 8


@dataclass(frozen=True)
class PackedContext:
    passages: tuple[Passage, ...]  # numbered 1..n in rank order
    history: tuple[Message, ...]  # the most recent turns that fit, oldest first
    info: ContextInfo


def safety_margin(context_window: int) -> int:
    """Head-room for tokenizer differences and the chat template: 10% + 32 tokens."""
    return context_window // 10 + 32


def trim_history(history: Sequence[Message], budget: int) -> tuple[tuple[Message, ...], int]:
    """The most recent turns whose tokens fit in `budget` (oldest dropped first)."""
    kept: list[Message] = []
    used = 0
    for message in reversed([m for m in history if m.role != "system"]):
        cost = count_tokens(message.content) + TURN_OVERHEAD
        if used + cost > budget:
            break
        kept.append(message)
        used += cost
    kept.reverse()
    return tuple(kept), used


def _span(chunk: Chunk, start: int, end: int) -> Chunk:
    """The part of `chunk` between document offsets `start` and `end`, as a chunk of its own.

    It keeps the chunk's id (citations point at the retrieved chunk) and its metadata.
    """
    text = chunk.text[start - chunk.start : end - chunk.start]
    return replace(chunk, text=text, start=start, end=end, n_tokens=count_tokens(text))


def _passage_cost(passage: Passage) -> int:
    return count_tokens(format_document(passage)) + 2  # blank line between documents


def compact_passages(
    passages: Sequence[Passage], question: str, budget: int
) -> tuple[tuple[Passage, ...], tuple[str, ...]]:
    """Passages cut down to their sentences most relevant to `question`, within `budget`.

    Sentences are taken best first (rag.extractive scoring); each passage becomes the one
    contiguous span of its chunk that covers its chosen sentences, and a sentence whose span
    would not fit is skipped. Passages keep the retriever's order and are renumbered 1..n;
    chunks with no chosen sentence are returned as dropped ids. When no sentence shares a word
    with the question, the chunks' opening sentences are used in rank order instead. Sentences
    that read as instructions to the model are never picked.
    """
    ranked = sorted(passages, key=lambda p: p.n)
    # A sentence addressed to the model (an injection) can support nothing: never pick it.
    picks = [
        (s.n, s.start, s.end)
        for s in best_sentences(question, ranked, k=10**6, min_relative_score=0.0)
        if not looks_like_instruction(s.text)
    ]
    if not picks:  # nothing shares a term: the leading sentences, best-ranked chunk first
        for p in ranked:
            picks += [
                (p.n, p.chunk.start + a, p.chunk.start + b)
                for a, b in split_sentences(p.chunk.text)[:2]
            ]
    by_n = {p.n: p for p in ranked}
    spans: dict[int, tuple[int, int]] = {}
    costs: dict[int, int] = {}
    used = 0
    for n, start, end in picks:
        old = spans.get(n)
        span = (start, end) if old is None else (min(old[0], start), max(old[1], end))
        if span == old:
            continue
        cost = _passage_cost(Passage(n, _span(by_n[n].chunk, *span)))
        if used - costs.get(n, 0) + cost > budget:
            continue
        spans[n] = span
        used += cost - costs.get(n, 0)
        costs[n] = cost
    kept = [Passage(i + 1, _span(by_n[n].chunk, *spans[n])) for i, n in enumerate(sorted(spans))]
    dropped = tuple(p.chunk.id for p in ranked if p.n not in spans)
    return tuple(kept), dropped


def pack_context(
    hits: Sequence[Hit],
    question: str,
    history: Sequence[Message] = (),
    *,
    context_window: int,
    max_answer_tokens: int,
    system_prompt: str,
    history_share: float = 0.25,
    context_tokens: int | None = None,
) -> PackedContext:
    """Number `hits` in rank order and keep what fits; report the rest as dropped.

    With `context_tokens`, the documents get at most that many tokens and are cut down to
    their most relevant sentences (compact_passages) instead of being dropped whole.
    """
    fixed = (
        count_tokens(system_prompt)
        + count_tokens(format_question(question))
        + count_tokens("Documents:\n")
        + 2 * TURN_OVERHEAD
    )
    budget = max(0, context_window - max_answer_tokens - fixed - safety_margin(context_window))

    kept_history, history_tokens = trim_history(history, int(budget * history_share))
    remaining = budget - history_tokens

    unique: list[Hit] = []
    seen: set[str] = set()
    for hit in hits:
        if hit.chunk.id not in seen:
            seen.add(hit.chunk.id)
            unique.append(hit)

    if context_tokens is not None:
        budget = min(budget, history_tokens + context_tokens)
        candidates = [Passage(i + 1, hit.chunk) for i, hit in enumerate(unique)]
        limit = min(remaining, context_tokens)
        kept, dropped = compact_passages(candidates, question, limit)
        info = ContextInfo(
            chunks_used=len(kept),
            tokens_used=sum(_passage_cost(p) for p in kept) + history_tokens,
            token_budget=budget,
            dropped_chunk_ids=dropped,
            history_turns_used=len(kept_history),
        )
        return PackedContext(passages=kept, history=kept_history, info=info)

    passages: list[Passage] = []
    dropped_ids: list[str] = []
    doc_tokens = 0
    for hit in unique:
        candidate = Passage(n=len(passages) + 1, chunk=hit.chunk)
        cost = _passage_cost(candidate)
        if doc_tokens + cost > remaining:
            dropped_ids.append(hit.chunk.id)
            continue
        passages.append(candidate)
        doc_tokens += cost

    info = ContextInfo(
        chunks_used=len(passages),
        tokens_used=doc_tokens + history_tokens,
        token_budget=budget,
        dropped_chunk_ids=tuple(dropped_ids),
        history_turns_used=len(kept_history),
    )
    return PackedContext(passages=tuple(passages), history=kept_history, info=info)
