"""Our pipeline against the LangChain peer, in one process: alternating runs, medians, ratios.

Indexing: our `index_documents` and the peer's split+embed+store run one after the other,
`reps` times (ours, peer, ours, peer, ...), each into a fresh folder, with both embedding
models loaded beforehand; the ratio is peer seconds / our seconds (above 1: we are faster).
Latency: per query, our default (hybrid) retrieval then the peer's similarity_search(k=4),
alternating, over `reps` passes; the ratio is peer p50 / our p50.
Quality: the peer's chunk ranking (similarity_search with k=40, documents in order of first
appearance) scored with evals.retrieval_eval's nDCG@10, like ours.
This module does not build the peer itself (langchain_peer.py does).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from evals.bench import langchain_peer
from evals.bench.indexing import fresh_settings, index_docs, peak_rss
from evals.bench.results import Indexing, IndexRun, PeerLatency, Quality
from evals.bench.stats import median, percentiles, rate, ratio
from index.config import IndexSettings
from index.types import Document

QUALITY_K = 40  # chunks fetched to rank 10+ documents (abstracts split into 1-3 chunks)


def peer_index(
    documents: Sequence[Document], folder: Path, embeddings: Any, load_s: float = 0.0
) -> tuple[langchain_peer.PeerIndex, IndexRun]:
    """Build the peer's store into `folder`; its figures in the same shape as ours."""
    with peak_rss() as peak:
        started = time.perf_counter()
        built, parts = langchain_peer.build(documents, folder, embeddings, folder.name)
        seconds = time.perf_counter() - started + load_s
    return built, IndexRun(
        embedder=langchain_peer.embedder_description(embeddings),
        documents=len(documents),
        chunks=built.chunks,
        seconds=round(seconds, 2),
        docs_per_s=rate(len(documents), seconds),
        chunks_per_s=rate(built.chunks, seconds),
        timings_s={"load": round(load_s, 2), **{k: round(v, 2) for k, v in parts.items()}},
        peak_rss_mb=round(peak.mb, 1),
    )


def compare_indexing(
    documents: Sequence[Document],
    base: IndexSettings,
    root: Path,
    embeddings: Any,
    reps: int,
    label: str,
    load_s: float = 0.0,
    log: Callable[[str], None] = lambda _: None,
) -> tuple[IndexSettings, langchain_peer.PeerIndex, Indexing]:
    """Alternating indexing runs; returns our last index settings, the peer's last index."""
    ours: list[IndexRun] = []
    peers: list[IndexRun] = []
    settings = base
    peer: langchain_peer.PeerIndex | None = None
    for rep in range(reps):
        log(f"indexing {label}: ours, run {rep + 1}/{reps}")
        settings = fresh_settings(base, root, f"{label}-ours-{rep}")
        ours.append(index_docs(documents, settings, load_s))
        log(f"indexing {label}: LangChain peer, run {rep + 1}/{reps}")
        peer, figures = peer_index(documents, root / f"{label}-peer-{rep}", embeddings, load_s)
        peers.append(figures)
    assert peer is not None
    our_s = median([r.seconds for r in ours])
    peer_s = median([r.seconds for r in peers])
    result = Indexing(
        ours=dataclasses.replace(ours[-1], median_seconds=round(our_s, 2)),
        peer=dataclasses.replace(peers[-1], median_seconds=round(peer_s, 2)),
        runs={"ours": [r.seconds for r in ours], "peer": [r.seconds for r in peers]},
        speedup_vs_peer=ratio(peer_s, our_s),
    )
    return settings, peer, result


def compare_latency(
    ours: Callable[[], Callable[[str], Any]],
    peer: langchain_peer.PeerIndex,
    queries: Sequence[str],
    reps: int,
) -> PeerLatency:
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
    return PeerLatency(
        ours_hybrid=percentiles(ours_ms),
        peer_similarity_k4=percentiles(peer_ms),
        peer_over_ours_p50=round(median([p / o for o, p in p50s if o]), 2),
        passes=reps,
    )


def peer_quality(
    peer: langchain_peer.PeerIndex,
    queries: Mapping[str, str],
    qrels: Mapping[str, Mapping[str, int]],
) -> Quality:
    """The peer's nDCG@10 and recall@10 (it ranks at most QUALITY_K chunks)."""
    from evals.retrieval_eval import score_rankings

    rankings = {
        qid: list(dict.fromkeys(peer.search(text, QUALITY_K))) for qid, text in queries.items()
    }
    scored = score_rankings(rankings, {q: dict(qrels[q]) for q in queries})
    return Quality(ndcg_at_10=scored["ndcg_at_10"], recall_at_10=scored["recall_at_10"])
