"""Our pipeline against the LangChain peer, in one process: alternating runs, medians, ratios.

Indexing: our `index_documents` and the peer's split+embed+store run one after the other,
`reps` times (ours, peer, ours, peer, ...), each into a fresh folder, with both embedding
models loaded beforehand; the ratio is peer seconds / our seconds (above 1: we are faster).
Latency: per query, our default (hybrid) retrieval then the peer's similarity_search(k=4),
alternating, over `reps` passes; the ratio is peer p50 / our p50.
Quality: the peer's chunk ranking (similarity_search with k=40, documents in order of first
appearance) scored with evals.beir's nDCG@10, like ours.
This module does not build the peer itself (peer_langchain.py does).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from evals import peer_langchain
from evals.bench_index import fresh_settings, index_docs, peak_rss
from evals.bench_retrieval import median, percentiles
from index.config import IndexSettings
from index.types import Document

QUALITY_K = 40  # chunks fetched to rank 10+ documents (abstracts split into 1-3 chunks)


def peer_index(
    documents: Sequence[Document], folder: Path, embeddings: Any, load_s: float = 0.0
) -> tuple[peer_langchain.PeerIndex, dict[str, Any]]:
    """Build the peer's store into `folder`; its figures in the same shape as ours."""
    with peak_rss() as peak:
        started = time.perf_counter()
        built, parts = peer_langchain.build(documents, folder, embeddings, folder.name)
        seconds = time.perf_counter() - started + load_s
    return built, {
        "documents": len(documents),
        "chunks": built.chunks,
        "seconds": round(seconds, 2),
        "docs_per_s": round(len(documents) / seconds, 1) if seconds else None,
        "chunks_per_s": round(built.chunks / seconds, 1) if seconds else None,
        "timings_s": {"load": round(load_s, 2), **{k: round(v, 2) for k, v in parts.items()}},
        "peak_rss_mb": round(peak.mb, 1),
    }


def compare_indexing(
    documents: Sequence[Document],
    base: IndexSettings,
    root: Path,
    embeddings: Any,
    reps: int,
    label: str,
    load_s: float = 0.0,
    log: Callable[[str], None] = lambda _: None,
) -> tuple[IndexSettings, peer_langchain.PeerIndex, dict[str, Any]]:
    """Alternating indexing runs; returns our last index settings, the peer's last index."""
    ours: list[dict[str, Any]] = []
    peers: list[dict[str, Any]] = []
    settings = base
    peer: peer_langchain.PeerIndex | None = None
    for rep in range(reps):
        log(f"indexing {label}: ours, run {rep + 1}/{reps}")
        settings = fresh_settings(base, root, f"{label}-ours-{rep}")
        ours.append(index_docs(documents, settings, load_s))
        log(f"indexing {label}: LangChain peer, run {rep + 1}/{reps}")
        peer, figures = peer_index(documents, root / f"{label}-peer-{rep}", embeddings, load_s)
        peers.append(figures)
    assert peer is not None
    our_s = median([r["seconds"] for r in ours])
    peer_s = median([r["seconds"] for r in peers])
    result = {
        "ours": ours[-1] | {"median_seconds": round(our_s, 2)},
        "peer": peers[-1] | {"median_seconds": round(peer_s, 2)},
        "runs": {"ours": [r["seconds"] for r in ours], "peer": [r["seconds"] for r in peers]},
        "speedup_vs_peer": round(peer_s / our_s, 2) if our_s else None,
    }
    return settings, peer, result


def compare_latency(
    ours: Callable[[], Callable[[str], Any]],
    peer: peer_langchain.PeerIndex,
    queries: Sequence[str],
    reps: int,
) -> dict[str, Any]:
    """Per-query alternating timing; `ours()` gives a fresh retrieve function per pass."""
    ours_ms: list[float] = []
    peer_ms: list[float] = []
    p50s: list[tuple[float, float]] = []
    for _ in range(reps):
        call = ours()
        for q in queries[:3]:  # warm-up, untimed
            call(q)
            peer.search(q)
        run_ours, run_peer = [], []
        for q in queries:
            started = time.perf_counter()
            call(q)
            run_ours.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            peer.search(q)
            run_peer.append((time.perf_counter() - started) * 1000)
        ours_ms += run_ours
        peer_ms += run_peer
        p50s.append((median(run_ours), median(run_peer)))
    ratio = median([p / o for o, p in p50s if o])
    return {
        "ours_hybrid": percentiles(ours_ms),
        "peer_similarity_k4": percentiles(peer_ms),
        "peer_over_ours_p50": round(ratio, 2),
        "passes": reps,
    }


def peer_quality(
    peer: peer_langchain.PeerIndex,
    queries: Mapping[str, str],
    qrels: Mapping[str, Mapping[str, int]],
) -> dict[str, float]:
    """The peer's nDCG@10 and recall@10 (it ranks at most QUALITY_K chunks)."""
    from evals.beir import score_rankings

    rankings = {
        qid: list(dict.fromkeys(peer.search(text, QUALITY_K))) for qid, text in queries.items()
    }
    scored = score_rankings(rankings, {q: dict(qrels[q]) for q in queries})
    return {"ndcg_at_10": scored["ndcg_at_10"], "recall_at_10": scored["recall_at_10"]}
