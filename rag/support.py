"""How well passages support an answer sentence: lexical and semantic support, and names.

Lexical support is the share of the sentence's content words (rag.terms) found in the
passages; semantic support is the best cosine between the sentence and a sentence of the
passages (the embedder; without one, the lexical share stands in). Combined =
w * lexical + (1 - w) * semantic (w = settings.grounding.lexical_weight). A sentence is
supported when the combined score reaches settings.grounding.support_threshold and every
name and number it holds occurs in the passages. `SupportScorer` caches each chunk's sentence
spans and embeddings, so the passages of an answer are embedded once, and reports the
best-matching sentence of each passage (the span a citation highlights). Sentences that read
as injected instructions (rag.injection) are never counted as support.

`GroundingResult` is what checking an answer produces (rag.grounding and its extractive
fallback, rag.fallback). This module does not read markers, rewrite answers or decide
abstention.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from index.sentences import split_sentences
from index.types import Chunk
from rag.backends.base import Passage
from rag.config import GroundingSettings
from rag.injection import looks_hostile
from rag.terms import content_terms, name_terms
from rag.types import Citation, SentenceCheck

if TYPE_CHECKING:
    from index.embedding import Embedder

_CACHED_CHUNKS = 2048


@dataclass(frozen=True)
class GroundingResult:
    text: str
    citations: tuple[Citation, ...]
    sentences: tuple[SentenceCheck, ...]
    fallback: bool = False
    model_abstained: bool = False  # the model wrote the abstention sentence


@dataclass(frozen=True)
class Support:
    """The support a sentence gets from a set of passages."""

    combined: float
    lexical: float
    semantic: float
    best_n: int  # passage with the best match
    spans: dict[int, tuple[int, int]]  # passage n -> best chunk-relative sentence span
    missing_names: tuple[str, ...] = ()  # names/numbers of the sentence the passages lack

    def holds(self, threshold: float) -> bool:
        """Supported: the score reaches `threshold` and no name or number is invented."""
        return self.combined >= threshold and not self.missing_names

    def check(self, sentence: str, markers: Sequence[int], threshold: float) -> SentenceCheck:
        """The verdict on `sentence`, which cites `markers`."""
        return SentenceCheck(
            sentence=sentence,
            citations=tuple(markers),
            supported=self.holds(threshold),
            score=self.combined,
            lexical=self.lexical,
            semantic=self.semantic,
        )


def _key(chunk: Chunk) -> tuple[str, str]:
    return (chunk.id, chunk.text)


class SupportScorer:
    """Scores sentences against chunks; caches each chunk's sentence spans and embeddings."""

    def __init__(
        self, embedder: Embedder | None = None, settings: GroundingSettings | None = None
    ) -> None:
        self.embedder = embedder
        self.settings = settings or GroundingSettings()
        # Keyed by id and text: a compact context passes a chunk cut to a few of its
        # sentences under the same id, and spans cached for one text are wrong for another.
        self._cache: OrderedDict[
            tuple[str, str], tuple[list[tuple[int, int]], np.ndarray | None]
        ] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def threshold(self) -> float:
        return self.settings.support_threshold

    def _spans(self, chunk: Chunk) -> list[tuple[int, int]]:
        spans = [
            (s, e)
            for s, e in split_sentences(chunk.text)
            if chunk.text[s:e].strip() and not looks_hostile(chunk.text[s:e])
        ]
        return spans or [(0, 0)]

    def prepare(self, chunks: Sequence[Chunk], sentences: list[str]) -> list[np.ndarray | None]:
        """Cache the chunks' sentences (one embedding batch per chunk not cached yet) and
        return the vectors of `sentences` (one batch)."""
        with self._lock:
            todo = list({_key(c): c for c in chunks if _key(c) not in self._cache}.values())
        spans = {_key(c): self._spans(c) for c in todo}
        groups = [[c.text[s:e] for s, e in spans[_key(c)]] for c in todo] + [sentences]
        vectors = None
        if self.embedder is not None and any(groups):
            # An int8 embedder's vector for a text depends on the other texts of its batch:
            # batched by chunk, a chunk's vectors do not depend on what was asked before.
            vectors = np.vstack(
                [
                    np.asarray(self.embedder.embed_documents(g)).reshape(len(g), -1)
                    for g in groups
                    if g
                ]
            )
        offset = 0
        with self._lock:
            for chunk in todo:
                n = len(spans[_key(chunk)])
                chunk_vecs = vectors[offset : offset + n] if vectors is not None else None
                self._cache[_key(chunk)] = (spans[_key(chunk)], chunk_vecs)
                offset += n
            while len(self._cache) > _CACHED_CHUNKS:
                self._cache.popitem(last=False)
        if vectors is None:
            return [None] * len(sentences)
        return list(vectors[offset:])

    def _chunk_sentences(self, chunk: Chunk) -> tuple[list[tuple[int, int]], np.ndarray | None]:
        with self._lock:
            cached = self._cache.get(_key(chunk))
        if cached is None:
            self.prepare([chunk], [])
            with self._lock:
                cached = self._cache[_key(chunk)]
        return cached

    def _one(
        self, terms: set[str], vector: np.ndarray | None, chunk: Chunk
    ) -> tuple[set[str], float, tuple[int, int]]:
        """(covered terms, best cosine, best-matching sentence span) for one chunk."""
        w = self.settings.lexical_weight
        chunk_spans, vectors = self._chunk_sentences(chunk)
        covered: set[str] = set()
        best_value, best_sim, best_span = -1.0, 0.0, chunk_spans[0]
        for i, (s, e) in enumerate(chunk_spans):
            sentence_terms = terms & set(content_terms(chunk.text[s:e]))
            covered |= sentence_terms
            lex = len(sentence_terms) / len(terms) if terms else 0.0
            sim = float(vectors[i] @ vector) if vectors is not None and vector is not None else 0.0
            value = w * lex + (1 - w) * sim if vector is not None else lex
            best_sim = max(best_sim, sim)
            if value > best_value:
                best_value, best_span = value, (s, e)
        return covered, best_sim, best_span

    def score(
        self, sentence: str, vector: np.ndarray | None, passages: Sequence[Passage], *, pick: bool
    ) -> Support:
        """Support of `sentence` by `passages` together (pick=False: the passages it cites) or
        by the single best of them (pick=True: an unmarked sentence gets that one's marker)."""
        terms = set(content_terms(sentence))
        w = self.settings.lexical_weight
        per = {p.n: self._one(terms, vector, p.chunk) for p in passages}

        def verdict(covered: set[str], sim: float) -> tuple[float, float, float]:
            lexical = len(covered) / len(terms) if terms else 0.0
            semantic = sim if vector is not None else lexical
            return w * lexical + (1 - w) * max(0.0, semantic), lexical, semantic

        spans = {n: span for n, (_, _, span) in per.items()}
        names = name_terms(sentence)
        if pick:
            scored = {n: verdict(cov, sim) for n, (cov, sim, _) in per.items()}
            best_n = max(scored, key=lambda n: (scored[n][0], -n))
            missing = tuple(t for t in names if t not in per[best_n][0])
            return Support(*scored[best_n], best_n, spans, missing)
        covered = set().union(*(cov for cov, _, _ in per.values()))
        best_sim = max(sim for _, sim, _ in per.values())
        best_n = max(per, key=lambda n: (per[n][1], -n))
        missing = tuple(t for t in names if t not in covered)
        return Support(*verdict(covered, best_sim), best_n, spans, missing)
