"""How close words (or sentences) are in meaning: cosine of their local MiniLM embeddings.

The claim and premise checks accept a different word for a plain noun, adjective or verb
("reduce" for "decrease", "nation" for "country") when the words' embeddings are close.
Word vectors come from the index's embedder (index.embedding.get_embedder with default
IndexSettings unless one is given) and are cached for the process. Embeddings do not know
antonyms well ("increase"/"decrease" are close), so callers keep the threshold high and
never use it for names, numbers or dates. `cosines` compares whole sentences the same way
(the short-answer reader ranks sentences by it beside shared words). This module does not
decide anything itself.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
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

    def _unit(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """The unit vector of texts[0] and the matrix of the others' (embedding the new ones).
        The cache may be cleared by another thread meanwhile: the vectors just made are used."""
        wanted = list(dict.fromkeys(texts))
        with self._lock:
            known = {t: self._vectors[t] for t in wanted if t in self._vectors}
        todo = [t for t in wanted if t not in known]
        if todo:
            if self._embedder is None:
                from index.config import IndexSettings
                from index.embedding import get_embedder

                self._embedder = get_embedder(IndexSettings())
            vectors = np.asarray(self._embedder.embed_documents(todo), dtype=np.float32)
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            made = dict(zip(todo, vectors / np.where(norms == 0, 1.0, norms), strict=True))
            known.update(made)
            with self._lock:
                if len(self._vectors) + len(made) > _CACHED_WORDS:
                    self._vectors.clear()
                self._vectors.update(made)
        return known[texts[0]], np.stack([known[t] for t in texts[1:]])

    def similar(self, word: str, others: Sequence[str], threshold: float) -> set[str]:
        """The words of `others` whose cosine with `word` reaches `threshold`."""
        if not others:
            return set()
        target, matrix = self._unit([word, *others])
        sims = matrix @ target
        return {o for o, sim in zip(others, sims, strict=True) if sim >= threshold}

    def cosines(self, text: str, others: Sequence[str]) -> list[float]:
        """The cosine of `text` with each of `others`, in order (vectors cached by text)."""
        if not others:
            return []
        target, matrix = self._unit([text, *others])
        return [float(v) for v in matrix @ target]

    def best(self, word: str, others: Sequence[str]) -> tuple[float, str]:
        """(best cosine, the closest of `others`) for `word`; (0, "") when `others` is empty."""
        if not others:
            return 0.0, ""
        target, matrix = self._unit([word, *others])
        sims = matrix @ target
        i = int(np.argmax(sims))
        return float(sims[i]), others[i]


@cache
def default_similarity() -> WordSimilarity:
    """The process-wide word similarity over the default local embedder."""
    return WordSimilarity()
