"""Retrieval figures for `rag bench`: warm latency p50/p95 per mode, and SciFact quality.

Latency is measured the way a user meets it: the default retrieval settings with one half
switched off for "dense" / "bm25", top_k hits, warm (index open, model loaded, a few warm-up
queries), and every timed query embedded afresh (the per-process query-vector cache is keyed
by embedder name, so each pass uses its own name). Quality reuses `evals.retrieval_eval`
(same document ranking and metrics as `rag eval --beir`). This module builds no index.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from evals.bench.results import Latency, Percentiles, Quality
from evals.bench.stats import percentiles
from index.embedding import Embedder
from rag.config import RetrievalSettings

MODES = ("dense", "bm25", "hybrid")
WARMUP = 3


class _FreshQueries:
    """The same embedder under a new name, so the query-vector cache starts empty."""

    def __init__(self, inner: Embedder, tag: str) -> None:
        self._inner = inner
        self.name = f"{inner.name}#bench-{tag}"
        self.dim = inner.dim

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._inner.embed_documents(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self._inner.embed_query(text)


def same_embedder(index: Any, embedder: Embedder) -> str:
    """The embedder name the index records; ValueError if the queries would use another
    (their vectors would not match the stored ones, and the figures carry the wrong name)."""
    recorded = str(index.status().embedding_model)
    if recorded != embedder.name:
        raise ValueError(f"the index holds {recorded!r} vectors, the queries use {embedder.name!r}")
    return recorded


def mode_retrieval(base: RetrievalSettings, mode: str) -> RetrievalSettings:
    """The default retrieval settings with only the halves `mode` names switched on."""
    return base.model_copy(update={"dense": mode != "bm25", "bm25": mode != "dense"})


_pass_counter = 0


def retriever_for(index: Any, embedder: Embedder, retrieval: RetrievalSettings) -> Any:
    """A retriever whose query embeddings are not cached from earlier passes."""
    from rag.retrieval import build_retriever

    global _pass_counter
    _pass_counter += 1
    return build_retriever(retrieval, index, _FreshQueries(embedder, str(_pass_counter)))


def time_calls(call: Callable[[str], Any], queries: Sequence[str]) -> list[float]:
    """Milliseconds per call, after WARMUP untimed calls."""
    for q in queries[:WARMUP]:
        call(q)
    samples = []
    for q in queries:
        started = time.perf_counter()
        call(q)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def latency(
    index: Any, embedder: Embedder, base: RetrievalSettings, queries: Sequence[str]
) -> Latency:
    """p50/p95 per mode over the queries (top_k hits each)."""
    recorded = same_embedder(index, embedder)

    def timed(mode: str) -> Percentiles:
        retriever = retriever_for(index, embedder, mode_retrieval(base, mode))
        return percentiles(time_calls(lambda q: retriever.retrieve(q, base.top_k), queries))

    chunks = index.count()
    dense, bm25, hybrid = (timed(mode) for mode in MODES)
    return Latency(embedder=recorded, chunks=chunks, dense=dense, bm25=bm25, hybrid=hybrid)


def quality(
    index: Any,
    embedder: Embedder,
    base: RetrievalSettings,
    queries: Mapping[str, str],
    qrels: Mapping[str, Mapping[str, int]],
) -> dict[str, Quality]:
    """nDCG@10, recall@10, recall@100, MRR@10 per mode (as `rag eval --beir` scores them)."""
    from evals.retrieval_eval import CHUNKS_PER_QUERY, mode_settings, rank_documents, score_rankings
    from rag.retrieval import build_retriever

    same_embedder(index, embedder)
    out = {}
    for mode in MODES:
        retriever = build_retriever(mode_settings(base, mode), index, embedder)
        rankings = {
            qid: rank_documents(retriever.retrieve(text, CHUNKS_PER_QUERY))
            for qid, text in queries.items()
        }
        out[mode] = Quality(**score_rankings(rankings, {q: dict(qrels[q]) for q in queries}))
    return out
