"""Optional retrieval stages, each a `Retriever` wrapping another one.

- `CrossEncoderReranker`: re-scores the inner candidates with a local sentence-transformers
  CrossEncoder (loaded lazily, once per path per process).
- `MMRRetriever`: maximal marginal relevance over the inner candidates, so near-duplicate
  passages give way to different ones.
- `DenseScores`: fills in the cosine similarity of hits only BM25 found (abstention uses it).
- `NeighbourRetriever`: adds the chunks at positions +-1..n of each hit's document.
- `DefaultSources`: applies the configured source filter when a call gives none.

None of these searches the index by itself: they only reorder, re-score or add to what the
inner retriever returns.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from index.types import Chunk
from rag.retrieval.base import (
    RetrievalError,
    Retriever,
    chunk_vectors,
    normalise_sources,
    query_vector,
)
from rag.types import Hit

if TYPE_CHECKING:
    from index.embedding import Embedder
    from index.store import ChunkIndex

_CROSS_ENCODERS: dict[str, Any] = {}
_CROSS_ENCODER_LOCK = threading.Lock()


def _cross_encoder(path: str) -> Any:
    """The CrossEncoder at `path`, loaded on first use and kept for the process."""
    with _CROSS_ENCODER_LOCK:
        model = _CROSS_ENCODERS.get(path)
        if model is None:
            from sentence_transformers import CrossEncoder

            model = CrossEncoder(path, device="cpu", local_files_only=True)
            _CROSS_ENCODERS[path] = model
        return model


class CrossEncoderReranker:
    """Re-scores the inner retriever's `candidates` hits with a CrossEncoder; keeps the best k.

    `score` becomes the CrossEncoder's score; the dense/BM25 scores and ranks are kept.
    """

    def __init__(self, inner: Retriever, model_path: str | Path, *, candidates: int = 30) -> None:
        path = Path(model_path).expanduser()
        if not path.exists():
            raise RetrievalError(
                f"Reranker model not found: {path} (retrieval.reranker must be a local "
                "sentence-transformers CrossEncoder folder)"
            )
        self.inner = inner
        self.model_path = str(path)
        self.candidates = candidates

    def retrieve(self, query: str, k: int, sources: Sequence[str] | None = None) -> list[Hit]:
        hits = self.inner.retrieve(query, max(self.candidates, k), sources)
        if len(hits) <= 1 or k < 1:
            return hits[:k]
        model = _cross_encoder(self.model_path)
        scores = np.asarray(model.predict([(query, h.chunk.text) for h in hits]), dtype=float)
        if scores.ndim == 2:  # a classifier with several labels: the last one means "relevant"
            scores = scores[:, -1]
        order = sorted(range(len(hits)), key=lambda i: -scores[i])  # stable: ties keep order
        return [replace(hits[i], score=float(scores[i])) for i in order[:k]]


def mmr_order(relevance: np.ndarray, similarity: np.ndarray, k: int, lambda_: float) -> list[int]:
    """Greedy maximal marginal relevance: indices of the k items picked, in pick order.

    `relevance` (n,) in [0, 1]; `similarity` (n, n) pairwise cosine. Each step picks the item
    maximising `lambda_ * relevance - (1 - lambda_) * max similarity to those already picked`.
    """
    n = len(relevance)
    picked: list[int] = []
    max_sim = np.full(n, -np.inf)
    left = np.ones(n, dtype=bool)
    for _ in range(min(k, n)):
        penalty = np.where(np.isfinite(max_sim), max_sim, 0.0)
        gain = lambda_ * relevance - (1.0 - lambda_) * penalty
        gain[~left] = -np.inf
        best = int(np.argmax(gain))  # argmax takes the first of equal gains: the better ranked
        picked.append(best)
        left[best] = False
        max_sim = np.maximum(max_sim, similarity[best])
    return picked


class MMRRetriever:
    """Re-orders the inner retriever's `fetch_k` candidates by maximal marginal relevance.

    Relevance is the inner score, min-max scaled to [0, 1] (so `lambda_ = 1` keeps the inner
    order); similarity is the cosine between chunk embeddings. Hits keep their inner scores:
    the list order is the ranking. The candidate pool is `fetch_k`, or `per_k * k` when that
    is smaller (chunk vectors may have to be computed, so the pool is kept near what is used).
    """

    def __init__(
        self,
        inner: Retriever,
        index: ChunkIndex,
        embedder: Embedder,
        *,
        lambda_: float = 0.7,
        fetch_k: int = 30,
        per_k: int | None = None,
    ) -> None:
        if not 0.0 <= lambda_ <= 1.0:
            raise RetrievalError(f"retrieval.mmr_lambda must be between 0 and 1, got {lambda_}")
        self.inner = inner
        self.index = index
        self.embedder = embedder
        self.lambda_ = lambda_
        self.fetch_k = fetch_k
        self.per_k = per_k

    def retrieve(self, query: str, k: int, sources: Sequence[str] | None = None) -> list[Hit]:
        pool = self.fetch_k if self.per_k is None else min(self.fetch_k, self.per_k * k)
        hits = self.inner.retrieve(query, max(pool, k), sources)
        if len(hits) <= 1 or k < 1:
            return hits[:k]
        scores = np.array([h.score for h in hits], dtype=float)
        spread = scores.max() - scores.min()
        relevance = (scores - scores.min()) / spread if spread > 0 else np.ones(len(hits))
        vecs = chunk_vectors(self.index, self.embedder, [h.chunk for h in hits])
        similarity = np.asarray(vecs @ vecs.T, dtype=float)
        return [hits[i] for i in mmr_order(relevance, similarity, k, self.lambda_)]


class DenseScores:
    """Gives every hit its cosine similarity to the query, also those only BM25 found."""

    def __init__(self, inner: Retriever, index: ChunkIndex, embedder: Embedder) -> None:
        self.inner = inner
        self.index = index
        self.embedder = embedder

    def retrieve(self, query: str, k: int, sources: Sequence[str] | None = None) -> list[Hit]:
        hits = self.inner.retrieve(query, k, sources)
        missing = [i for i, h in enumerate(hits) if h.dense_score is None]
        if not missing:
            return hits
        qvec = query_vector(self.embedder, query)
        vecs = chunk_vectors(self.index, self.embedder, [hits[i].chunk for i in missing])
        out = list(hits)
        for i, cosine in zip(missing, vecs @ qvec, strict=True):
            out[i] = replace(hits[i], dense_score=float(cosine))
        return out


class NeighbourRetriever:
    """Adds, after each hit, the chunks at positions +-1..n of the same document.

    A neighbour is scored just below its anchor and carries no dense/BM25 score of its own;
    a chunk already in the list (as a hit or as an earlier neighbour) is not added again.
    """

    def __init__(self, inner: Retriever, index: ChunkIndex, n: int = 1) -> None:
        if n < 0:
            raise RetrievalError(f"retrieval.neighbours must not be negative, got {n}")
        self.inner = inner
        self.index = index
        self.n = n

    def retrieve(self, query: str, k: int, sources: Sequence[str] | None = None) -> list[Hit]:
        hits = self.inner.retrieve(query, k, sources)
        if self.n == 0 or not hits:
            return hits
        seen = {h.chunk.id for h in hits}
        documents: dict[str, dict[int, Chunk]] = {}
        out: list[Hit] = []
        for hit in hits:
            out.append(hit)
            source = hit.chunk.source
            if source not in documents:
                documents[source] = {c.position: c for c in self.index.chunks_of(source)}
            by_position = documents[source]
            for distance in range(1, self.n + 1):
                for position in (hit.chunk.position - distance, hit.chunk.position + distance):
                    chunk = by_position.get(position)
                    if chunk is None or chunk.id in seen:
                        continue
                    seen.add(chunk.id)
                    out.append(Hit(chunk, hit.score - 1e-6 * distance))
        return out


class DefaultSources:
    """Searches only the configured sources when a call does not name its own."""

    def __init__(self, inner: Retriever, sources: Sequence[str]) -> None:
        self.inner = inner
        self.sources = normalise_sources(sources)

    def retrieve(self, query: str, k: int, sources: Sequence[str] | None = None) -> list[Hit]:
        return self.inner.retrieve(query, k, normalise_sources(sources) or self.sources)
