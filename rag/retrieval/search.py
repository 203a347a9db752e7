"""The first stage: dense search, BM25 search, and their fusion.

`DenseRetriever` asks the index for the chunks nearest to the query's embedding (cosine),
`BM25Retriever` for the best keyword matches, and `HybridRetriever` fuses the two lists,
keeping both halves' scores and ranks on each hit. Fusion is either a convex combination of
scores scaled by each half's best score (`convex_fuse`, the default: it ranks better than
reciprocal-rank fusion on SciFact's training claims) or weighted reciprocal-rank fusion,
`score = sum(w / (rrf_k + rank))` (`rrf_fuse`). A source filter is passed down to
both halves, so the index searches inside those files only. Nothing here reranks or diversifies
(see `stages.py`), and nothing loads a model: the embedder comes in ready.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from index.types import Chunk
from rag.retrieval.base import RetrievalError, normalise_sources, query_vector
from rag.types import Hit

if TYPE_CHECKING:
    from index.embedding import Embedder
    from index.store import ChunkIndex


def rrf_fuse(
    rankings: Sequence[tuple[Sequence[str], float]], rrf_k: int = 60
) -> list[tuple[str, float]]:
    """Weighted reciprocal-rank fusion of rankings given as (ids best first, weight).

    Returns (id, fused score) best first. Ties go to the id with the better best rank, then to
    the earlier ranking, so the result is deterministic.
    """
    if rrf_k < 1:
        raise RetrievalError(f"rrf_k must be at least 1, got {rrf_k}")
    scores: dict[str, float] = {}
    best: dict[str, tuple[int, int]] = {}  # id -> (best rank, index of that ranking)
    for which, (ids, weight) in enumerate(rankings):
        for rank, chunk_id in enumerate(dict.fromkeys(ids), start=1):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + weight / (rrf_k + rank)
            best[chunk_id] = min(best.get(chunk_id, (rank, which)), (rank, which))
    return sorted(scores.items(), key=lambda item: (-item[1], best[item[0]]))


def convex_fuse(
    halves: Sequence[tuple[Sequence[tuple[str, float]], float]],
) -> list[tuple[str, float]]:
    """Weighted convex combination of scored lists given as ((id, score) best first, weight).

    Each half's scores are divided by its best score (negatives count as 0), so its top hit
    scores 1. A chunk a half did not return gets that half's lowest scaled score (it ranked
    no better than the half's last candidate). The fused score is the weighted mean, in
    [0, 1]. Ties go to the id with the better best rank, then the earlier half.
    """
    total = sum(weight for _, weight in halves)
    if total <= 0:
        raise RetrievalError("fusion needs a half with a weight above 0")
    scaled: list[tuple[dict[str, float], float, float]] = []  # (id -> scaled, floor, weight)
    best: dict[str, tuple[int, int]] = {}
    for which, (results, weight) in enumerate(halves):
        top = max((s for _, s in results), default=0.0)
        by_id: dict[str, float] = {}
        for rank, (chunk_id, score) in enumerate(results, start=1):
            if chunk_id in by_id:
                continue
            by_id[chunk_id] = max(score, 0.0) / top if top > 0 else 0.0
            best[chunk_id] = min(best.get(chunk_id, (rank, which)), (rank, which))
        scaled.append((by_id, min(by_id.values(), default=0.0), weight))
    fused = {
        chunk_id: sum(w * by_id.get(chunk_id, floor) for by_id, floor, w in scaled) / total
        for chunk_id in best
    }
    return sorted(fused.items(), key=lambda item: (-item[1], best[item[0]]))


def _hits(index: ChunkIndex, results: Sequence[tuple[str, float]], *, dense: bool) -> list[Hit]:
    """Turn (chunk id, score) results into hits, dropping ids the index no longer holds."""
    by_id = {c.id: c for c in index.get([cid for cid, _ in results])}
    hits: list[Hit] = []
    for rank, (cid, score) in enumerate(results, start=1):
        chunk = by_id.get(cid)
        if chunk is None:
            continue
        if dense:
            hits.append(Hit(chunk, float(score), dense_score=float(score), dense_rank=rank))
        else:
            hits.append(Hit(chunk, float(score), bm25_score=float(score), bm25_rank=rank))
    return hits


class DenseRetriever:
    """Nearest chunks by cosine similarity of embeddings (Chroma). `score` is the cosine."""

    def __init__(self, index: ChunkIndex, embedder: Embedder) -> None:
        self.index = index
        self.embedder = embedder

    def retrieve(self, query: str, k: int, sources: Sequence[str] | None = None) -> list[Hit]:
        if k < 1 or not query.strip():
            return []
        vec = query_vector(self.embedder, query)
        results = self.index.dense_search(vec, k, sources=normalise_sources(sources))
        return _hits(self.index, results, dense=True)


class BM25Retriever:
    """Best keyword matches (bm25s). `score` is the BM25 score."""

    def __init__(self, index: ChunkIndex) -> None:
        self.index = index

    def retrieve(self, query: str, k: int, sources: Sequence[str] | None = None) -> list[Hit]:
        if k < 1 or not query.strip():
            return []
        results = self.index.bm25_search(query, k, sources=normalise_sources(sources))
        return _hits(self.index, results, dense=False)


@dataclass
class _Merged:
    chunk: Chunk
    dense_score: float | None = None
    bm25_score: float | None = None
    dense_rank: int | None = None
    bm25_rank: int | None = None


class HybridRetriever:
    """Dense and BM25 fused by `fusion`: "convex" (`convex_fuse`) or "rrf" (`rrf_fuse`).

    Each half that is on (not None, weight > 0) returns `candidates` hits (at least k); the
    fused list is cut to k. With one half on, the order is that half's order. `score` is the
    fused score; each hit keeps the cosine/BM25 score and rank of every half that found it.
    A source filter naming a file the index does not hold raises RetrievalError (a typo
    would otherwise look like "nothing found").
    """

    def __init__(
        self,
        dense: DenseRetriever | None,
        bm25: BM25Retriever | None,
        *,
        rrf_k: int = 60,
        dense_weight: float = 1.0,
        bm25_weight: float = 1.0,
        candidates: int = 30,
        fusion: str = "convex",
    ) -> None:
        if fusion not in ("convex", "rrf"):
            raise RetrievalError(f"retrieval.fusion must be 'convex' or 'rrf', got {fusion!r}")
        if rrf_k < 1:
            raise RetrievalError(f"retrieval.rrf_k must be at least 1, got {rrf_k}")
        if dense_weight < 0 or bm25_weight < 0:
            raise RetrievalError("retrieval weights must not be negative")
        self.dense = dense if dense is not None and dense_weight > 0 else None
        self.bm25 = bm25 if bm25 is not None and bm25_weight > 0 else None
        first = self.dense or self.bm25
        if first is None:
            raise RetrievalError(
                "Retrieval needs dense or BM25 search turned on (with a weight above 0)."
            )
        self.index = first.index
        self.rrf_k = rrf_k
        self.dense_weight = dense_weight
        self.bm25_weight = bm25_weight
        self.candidates = candidates
        self.fusion = fusion

    def retrieve(self, query: str, k: int, sources: Sequence[str] | None = None) -> list[Hit]:
        if k < 1 or not query.strip():
            return []
        n = max(self.candidates, k)
        sources = normalise_sources(sources)
        if sources:
            # per asked source, not a set of every source (100k of them at scale)
            unknown = [s for s in sources if not self.index.chunks_of(s)]
            if unknown:
                raise RetrievalError(
                    f"Not in the index: {', '.join(unknown)} (see the document list for names)"
                )
        merged: dict[str, _Merged] = {}
        halves: list[tuple[list[tuple[str, float]], float]] = []
        if self.dense is not None:
            dense_hits = self.dense.retrieve(query, n, sources)
            for h in dense_hits:
                m = merged.setdefault(h.chunk.id, _Merged(h.chunk))
                m.dense_score, m.dense_rank = h.dense_score, h.dense_rank
            halves.append(([(h.chunk.id, h.score) for h in dense_hits], self.dense_weight))
        if self.bm25 is not None:
            bm25_hits = self.bm25.retrieve(query, n, sources)
            for h in bm25_hits:
                m = merged.setdefault(h.chunk.id, _Merged(h.chunk))
                m.bm25_score, m.bm25_rank = h.bm25_score, h.bm25_rank
            halves.append(([(h.chunk.id, h.score) for h in bm25_hits], self.bm25_weight))
        if self.fusion == "convex":
            fused = convex_fuse(halves)[:k]
        else:
            rankings = [([cid for cid, _ in results], w) for results, w in halves]
            fused = rrf_fuse(rankings, self.rrf_k)[:k]
        return [
            Hit(
                merged[cid].chunk,
                score,
                dense_score=merged[cid].dense_score,
                bm25_score=merged[cid].bm25_score,
                dense_rank=merged[cid].dense_rank,
                bm25_rank=merged[cid].bm25_rank,
            )
            for cid, score in fused
        ]
