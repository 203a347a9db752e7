"""Pick the sentences of the numbered passages that best answer a question (no model).

`best_sentences(question, passages)` splits every passage into sentences
(`index.sentences.split_sentences`), scores each one against the question and returns the
top few with the passage number [n] they come from and their character span in the cleaned
document (the same space as `Chunk.start`/`Citation.start`). The score is:

- lexical: BM25 (bm25s) over the candidate sentences' content terms (rag.terms: stop words
  removed, stemmed), normalised by the best sentence, averaged with the share of the
  question's terms the sentence contains;
- a bonus for sentences in top-ranked passages ([1] is the retriever's best);
- optionally, the cosine similarity of the sentence to the question, when an `Embedder`
  (index.embedding) is passed.

A sentence that shares no content term with the question is never returned, so an empty
list means "the passages do not answer this". Headings, titles and bylines (`is_heading`:
the chunk's title, or a line without a closing full stop) are never returned: they name
things but state nothing. Deterministic: ties break on passage number
and position. This module only selects (and writes a selection with its markers); the
extractive backend streams the answer, and rag.fallback reuses the selection when a model's
answer has no supported sentence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import bm25s
import numpy as np

from index.sentences import split_sentences
from index.types import Chunk
from rag.backends.base import Passage
from rag.reader_text import BYLINE
from rag.terms import content_terms
from rag.types import ShortAnswer

if TYPE_CHECKING:
    from index.embedding import Embedder

_BULLET = re.compile(r"^(?:[-*•▪◦]|\d{1,3}[.)])\s+")  # list markers before a quoted item
# Weights of the score parts; with no embedder the semantic share goes to the lexical one.
_LEXICAL_WEIGHT = 0.65
_SEMANTIC_WEIGHT = 0.25
_RANK_WEIGHT = 0.10
_MIN_WORDS = 3  # shorter "sentences" are headings, bylines or list stubs
_MAX_CHARS = 600  # longer spans are run-on text (tables, lists without full stops)
_CLOSES = re.compile(r"[.!?…][\"'”’)\]]*$")


def is_heading(sentence: str, title: str = "") -> bool:
    """A heading, title or byline rather than a statement: the document's title, a "By NAME"
    line, or text without a closing full stop (the splitter ends headings at the line)."""
    text = " ".join(sentence.split())
    if title and text == " ".join(title.split()):
        return True
    return bool(BYLINE.match(text)) or not _CLOSES.search(text)


@dataclass(frozen=True)
class SelectedSentence:
    """One supporting sentence: passage number, its chunk, span in the document, score."""

    n: int
    chunk: Chunk
    start: int  # character offset in the cleaned document text (chunk.start + offset in chunk)
    end: int
    text: str  # chunk.text[start - chunk.start : end - chunk.start]
    score: float  # in [0, 1]; higher is better

    @property
    def clean_text(self) -> str:
        """The sentence on one line (newlines and runs of spaces collapsed)."""
        return " ".join(self.text.split())


def _candidates(passages: Sequence[Passage]) -> list[tuple[Passage, int, int, str]]:
    """(passage, start in chunk, end in chunk, text) of every usable sentence, deduplicated."""
    seen: set[str] = set()
    out: list[tuple[Passage, int, int, str]] = []
    for passage in sorted(passages, key=lambda p: p.n):
        text = passage.chunk.text
        for start, end in split_sentences(text):
            sentence = text[start:end].strip()
            key = " ".join(sentence.lower().split())
            # Overlapping chunks repeat sentences: keep the first (best-ranked) copy.
            if key in seen or len(sentence) > _MAX_CHARS or len(key.split()) < _MIN_WORDS:
                continue
            if is_heading(sentence, passage.chunk.title):
                continue
            seen.add(key)
            lead = len(text[start:end]) - len(text[start:end].lstrip())
            out.append((passage, start + lead, start + lead + len(sentence), sentence))
    return out


def best_sentences(
    question: str,
    passages: Sequence[Passage],
    k: int = 3,
    *,
    embedder: Embedder | None = None,
    min_relative_score: float = 0.7,
) -> list[SelectedSentence]:
    """The (at most `k`) sentences of `passages` that best answer `question`, best first.

    Sentences after the first are kept only when their score is at least
    `min_relative_score` times the best one, so a clear answer is not padded with noise.
    Returns [] when no sentence shares a content term with the question.
    """
    query = list(dict.fromkeys(content_terms(question)))  # each question term counts once
    if not query or not passages or k < 1:
        return []
    candidates = _candidates(passages)
    tokens = [content_terms(c[3]) for c in candidates]
    query_set = set(query)
    keep = [i for i, toks in enumerate(tokens) if query_set.intersection(toks)]
    if not keep:
        return []
    candidates = [candidates[i] for i in keep]
    tokens = [tokens[i] for i in keep]

    retriever = bm25s.BM25()
    retriever.index(tokens, show_progress=False)
    bm25 = np.asarray(retriever.get_scores(query), dtype=np.float64)
    bm25 = bm25 / bm25.max() if bm25.max() > 0 else bm25
    # IDF over a handful of sentences is noisy (one rare word can win): also count the share
    # of the question's terms the sentence holds.
    coverage = np.array([len(query_set.intersection(t)) / len(query_set) for t in tokens])
    lexical = 0.5 * bm25 + 0.5 * coverage

    ranks = np.array([c[0].n for c in candidates], dtype=np.float64)
    rank_bonus = 1.0 / ranks  # [1] -> 1.0, [2] -> 0.5, ...
    if embedder is not None:
        sentence_vecs = embedder.embed_documents([c[3] for c in candidates])
        semantic = np.clip(sentence_vecs @ embedder.embed_query(question), 0.0, 1.0)
        scores = _LEXICAL_WEIGHT * lexical + _SEMANTIC_WEIGHT * semantic + _RANK_WEIGHT * rank_bonus
    else:
        scores = (_LEXICAL_WEIGHT + _SEMANTIC_WEIGHT) * lexical + _RANK_WEIGHT * rank_bonus

    order = sorted(range(len(candidates)), key=lambda i: (-scores[i], ranks[i], i))
    best = float(scores[order[0]])
    chosen: list[SelectedSentence] = []
    for i in order[:k]:
        if chosen and scores[i] < min_relative_score * best:
            break
        passage, start, end, text = candidates[i]
        chosen.append(
            SelectedSentence(
                n=passage.n,
                chunk=passage.chunk,
                start=passage.chunk.start + start,
                end=passage.chunk.start + end,
                text=text,
                score=round(float(scores[i]), 6),
            )
        )
    return chosen


def cite(sentence: SelectedSentence) -> str:
    """The sentence on one line with its marker before the final punctuation: 'X is Y [2].'"""
    return cite_text(sentence.text, sentence.n)


def cite_text(text: str, n: int) -> str:
    """`text` on one line, list marker removed, with [n] before the final punctuation."""
    text = _BULLET.sub("", " ".join(text.split()))
    match = re.search(r"([.!?]+[\"'”’)\]]*)$", text)
    if match:
        return f"{text[: match.start()]} [{n}]{match.group(1)}"
    return f"{text} [{n}]."


def lead_with(short: ShortAnswer, passages: Sequence[Passage]) -> str:
    """The answer-first reply: the short answer, then its supporting sentence cited:
    'John Ratcliffe — CIA Director John Ratcliffe initiated the call ... [1].' ('' when the
    passage [n] is not among `passages`)."""
    passage = next((p for p in passages if p.n == short.n), None)
    if passage is None:
        return ""
    chunk = passage.chunk
    sentence = chunk.text[short.sentence_start - chunk.start : short.sentence_end - chunk.start]
    return f"{' '.join(short.text.split())} — {cite_text(sentence, short.n)}"


def extractive_answer(selected: Sequence[SelectedSentence]) -> str:
    """The selected sentences joined into one cited answer ('' when there are none)."""
    return " ".join(cite(s) for s in selected)
