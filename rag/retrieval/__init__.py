"""Retrieval: from a question to ranked, scored chunks of the index.

`build_retriever(settings.retrieval, index, embedder)` composes the pipeline the settings ask
for: hybrid search (dense + BM25, either half may be off, fused by a score-scaled convex
combination or by reciprocal-rank fusion), then an optional CrossEncoder reranker, optional
MMR, the cosine score of every hit, optional neighbour-chunk expansion, and the configured
source filter. Every stage is a `Retriever`, so callers (the assistant, the web UI, the
evals) only ever call `retrieve(query, k, sources)`.

Building is cheap (no model is loaded here except the cached CrossEncoder, lazily), so the
web UI can build one per request with its own top-k, halves and source filter. This package
does not number, pack or cite hits (see `rag.context`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rag.retrieval.base import RetrievalError, Retriever
from rag.retrieval.search import (
    BM25Retriever,
    DenseRetriever,
    HybridRetriever,
    convex_fuse,
    rrf_fuse,
)
from rag.retrieval.stages import (
    CrossEncoderReranker,
    DefaultSources,
    DenseScores,
    MMRRetriever,
    NeighbourRetriever,
    mmr_order,
)

if TYPE_CHECKING:
    from index.embedding import Embedder
    from index.store import ChunkIndex
    from rag.config import RetrievalSettings

__all__ = [
    "BM25Retriever",
    "CrossEncoderReranker",
    "DefaultSources",
    "DenseRetriever",
    "DenseScores",
    "HybridRetriever",
    "MMRRetriever",
    "NeighbourRetriever",
    "RetrievalError",
    "Retriever",
    "build_retriever",
    "convex_fuse",
    "mmr_order",
    "rrf_fuse",
]


def build_retriever(
    retrieval: RetrievalSettings, index: ChunkIndex, embedder: Embedder
) -> Retriever:
    """The retrieval pipeline the settings describe. Raises RetrievalError when misconfigured.

    Order: hybrid search -> reranker -> MMR -> cosine scores -> neighbours -> source filter.
    """
    retriever: Retriever = HybridRetriever(
        DenseRetriever(index, embedder) if retrieval.dense else None,
        BM25Retriever(index) if retrieval.bm25 else None,
        rrf_k=retrieval.rrf_k,
        dense_weight=retrieval.dense_weight,
        bm25_weight=retrieval.bm25_weight,
        candidates=retrieval.candidates,
        fusion=retrieval.fusion,
    )
    if retrieval.reranker:
        retriever = CrossEncoderReranker(
            retriever, retrieval.reranker, candidates=retrieval.candidates
        )
    if retrieval.mmr:
        retriever = MMRRetriever(
            retriever,
            index,
            embedder,
            lambda_=retrieval.mmr_lambda,
            fetch_k=retrieval.candidates,
            per_k=4,
        )
    retriever = DenseScores(retriever, index, embedder)
    if retrieval.neighbours:
        retriever = NeighbourRetriever(retriever, index, retrieval.neighbours)
    if retrieval.sources:
        retriever = DefaultSources(retriever, retrieval.sources)
    return retriever
