"""How close two single words are in meaning: cosine of their local MiniLM embeddings.

The claim and premise checks accept a different word for a plain noun, adjective or verb
("reduce" for "decrease", "nation" for "country") when the words' embeddings are close.
Word vectors come from the index's embedder (index.embedding.get_embedder with default
IndexSettings unless one is given) and are cached for the process. Embeddings do not know
antonyms well ("increase"/"decrease" are close), so callers keep the threshold high and
never use it for names, numbers or dates. This module does not decide anything itself.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from functools import cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from index.embedding import Embedder

_CACHED_WORDS = 50_000


class WordSimilarity:
    """Best cosine between a word and a set of words, with cached word vectors."""

    def __init__(self, embedder: Embedder | None = None) -> None:
        self._embedder = embedder
        self._vectors: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def _embed(self, words: Iterable[str]) -> None:
        todo = [w for w in dict.fromkeys(words) if w not in self._vectors]
        if not todo:
            return
        if self._embedder is None:
            from index.config import IndexSettings
            from index.embedding import get_embedder

            self._embedder = get_embedder(IndexSettings())
        vectors = np.asarray(self._embedder.embed_documents(todo), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        unit = vectors / np.where(norms == 0, 1.0, norms)
        with self._lock:
            if len(self._vectors) + len(todo) > _CACHED_WORDS:
                self._vectors.clear()
            self._vectors.update(zip(todo, unit, strict=True))

    def similar(self, word: str, others: Sequence[str], threshold: float) -> set[str]:
        """The words of `others` whose cosine with `word` reaches `threshold`."""
        if not others:
            return set()
        self._embed([word, *others])
        with self._lock:
            target = self._vectors[word]
            matrix = np.stack([self._vectors[o] for o in others])
        sims = matrix @ target
        return {o for o, sim in zip(others, sims, strict=True) if sim >= threshold}

    def best(self, word: str, others: Sequence[str]) -> tuple[float, str]:
        """(best cosine, the closest of `others`) for `word`; (0, "") when `others` is empty."""
        if not others:
            return 0.0, ""
        self._embed([word, *others])
        with self._lock:
            target = self._vectors[word]
            matrix = np.stack([self._vectors[o] for o in others])
        sims = matrix @ target
        i = int(np.argmax(sims))
        return float(sims[i]), others[i]


@cache
def default_similarity() -> WordSimilarity:
    """The process-wide word similarity over the default local embedder."""
    return WordSimilarity()
