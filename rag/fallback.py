"""The extractive fallback: when no sentence of a model's answer is supported, quote instead.

`fallback_answer` takes the sentences of the passages that best answer the question
(rag.extractive.best_sentences), made plain text like any answer (rag.sanitize), skips those
that read as injected instructions (rag.injection), and returns them verbatim, each with its
[n] marker, as a `GroundingResult` with `fallback=True`. Each quoted sentence is scored like
an answer sentence (they score high, being verbatim), and each cited passage gets one
`Citation` whose span is the first quoted sentence from it.

This module does not decide when to fall back (rag.grounding does) or call a model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from index.types import Chunk
from rag.backends.base import Passage
from rag.citations import add_marker, citation_for, strip_markers
from rag.extractive import SelectedSentence, best_sentences
from rag.injection import hostile_profile, looks_hostile
from rag.sanitize import clean_answer
from rag.support import GroundingResult, SupportScorer
from rag.types import SentenceCheck

FALLBACK_SENTENCES = 2
_WORD_RE = re.compile(r"\w+")


def fallback_answer(
    question: str, passages: Sequence[Passage], scorer: SupportScorer, k: int = FALLBACK_SENTENCES
) -> GroundingResult:
    """The (at most `k`) best supporting sentences of the passages, verbatim, with markers."""
    by_n = {p.n: p for p in passages}
    links = hostile_profile(passages).links
    selected: list[SelectedSentence] = []
    texts: list[str] = []
    for sel in best_sentences(question, list(passages), k + 3, embedder=scorer.embedder):
        # Quotes are plain text too: a sentence that is only markup has nothing to say.
        text = " ".join(clean_answer(strip_markers(sel.text), links).split())
        if text and _WORD_RE.search(text) and not looks_hostile(sel.text) and len(texts) < k:
            selected.append(sel)
            texts.append(text)
    sentences: list[str] = []
    checks: list[SentenceCheck] = []
    cited: dict[int, tuple[int, int]] = {}
    vectors = scorer.prepare([p.chunk for p in passages], texts)
    for sel, text, vector in zip(selected, texts, vectors, strict=True):
        chunk = by_n[sel.n].chunk
        cited.setdefault(sel.n, _chunk_relative(chunk, sel.start, sel.end, sel.text))
        sentences.append(add_marker(text, sel.n))
        support = scorer.score(text, vector, [by_n[sel.n]], pick=False)
        checks.append(support.check(text, (sel.n,), scorer.threshold))
    citations = tuple(citation_for(by_n[n], span) for n, span in sorted(cited.items()))
    return GroundingResult(
        text=" ".join(sentences), citations=citations, sentences=tuple(checks), fallback=True
    )


def _chunk_relative(chunk: Chunk, start: int, end: int, text: str) -> tuple[int, int]:
    """Offsets of a selected sentence inside the chunk (accepts chunk or document offsets)."""
    if chunk.text[start:end] == text:
        return start, end
    if chunk.text[start - chunk.start : end - chunk.start] == text:
        return start - chunk.start, end - chunk.start
    found = chunk.text.find(text)
    return (found, found + len(text)) if found >= 0 else (0, len(chunk.text))
