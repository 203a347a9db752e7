"""`rag eval --beir`: retrieval-only evaluation on a BEIR dataset, three modes, per document.

The corpus is indexed into its own cached data dir (`<data_dir>/beir/<dataset>-<hash>`, see
evals/datasets/cache.py) through `index.pipeline.index_documents`, one Document per BEIR doc.
The test queries are run through `rag.retrieval.build_retriever` in three modes (dense, BM25,
hybrid); a document's score is the best score of its chunks. Reports nDCG@10, recall@10,
recall@100 and MRR@10 beside published anchors. No answers are generated; the dataset
reader lives in evals/datasets/beir.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from evals import metrics as m
from evals.datasets.beir import beir_documents, load_beir
from evals.datasets.cache import cached_index_settings, ensure_index
from rag.config import RetrievalSettings, Settings

MODES = ("dense", "bm25", "hybrid")
CHUNKS_PER_QUERY = 200  # chunk hits per query: enough for 100 distinct documents on SciFact
# Published nDCG@10 on SciFact (BEIR paper; MTEB / sentence-transformers model card).
ANCHORS = {"bm25": (0.665, 0.685), "dense": (0.645, 0.674)}


def mode_settings(retrieval: RetrievalSettings, mode: str) -> RetrievalSettings:
    """Plain retrieval in one mode: no MMR, neighbours, reranker or source filter."""
    return retrieval.model_copy(
        update={
            "dense": mode in ("dense", "hybrid"),
            "bm25": mode in ("bm25", "hybrid"),
            "mmr": False,
            "neighbours": 0,
            "reranker": None,
            "sources": [],
            "candidates": max(retrieval.candidates, CHUNKS_PER_QUERY),
        }
    )


def rank_documents(hits: list[Any]) -> list[str]:
    """Documents by their best chunk score, best first."""
    best: dict[str, float] = {}
    for hit in hits:
        src = hit.chunk.source
        best[src] = max(best.get(src, float("-inf")), hit.score)
    return sorted(best, key=lambda d: best[d], reverse=True)


def score_rankings(rankings: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> dict:
    """Mean nDCG@10, recall@10, recall@100, MRR@10 over the judged queries."""
    rows = []
    for qid, ranked in rankings.items():
        rel = qrels[qid]
        relevant = {d for d, r in rel.items() if r > 0}
        rows.append(
            {
                "ndcg_at_10": m.ndcg_at_k(ranked, rel, 10),
                "recall_at_10": m.recall_at_k(ranked, relevant, 10),
                "recall_at_100": m.recall_at_k(ranked, relevant, 100),
                "mrr_at_10": m.reciprocal_rank(ranked, relevant, 10),
            }
        )
    keys = ("ndcg_at_10", "recall_at_10", "recall_at_100", "mrr_at_10")
    return {k: round(m.mean(r[k] for r in rows) or 0.0, 4) for k in keys}


def run_beir(
    directory: str | Path,
    settings: Settings,
    *,
    progress: bool = False,
    on_query: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Index (cached) and evaluate the three modes. Returns the JSON-ready result."""
    from index.embedding import get_embedder
    from index.store import open_index
    from rag.retrieval import build_retriever

    data = load_beir(directory)
    index_settings = cached_index_settings(settings.index, "beir", data.name, data.fingerprint)
    built = ensure_index(beir_documents(data), index_settings, progress)
    index = open_index(index_settings)
    embedder = get_embedder(index_settings)
    modes: dict[str, dict[str, float]] = {}
    for mode in MODES:
        retriever = build_retriever(mode_settings(settings.retrieval, mode), index, embedder)
        rankings = {}
        for qid, text in data.queries.items():
            rankings[qid] = rank_documents(retriever.retrieve(text, CHUNKS_PER_QUERY))
            if on_query is not None:
                on_query()
        modes[mode] = score_rankings(rankings, data.qrels)
    return {
        "dataset": data.name,
        "documents": len(data.corpus),
        "queries": len(data.queries),
        "index": str(index_settings.data_dir),
        "built_index": built,
        "modes": modes,
        "anchors_ndcg_at_10": {k: list(v) for k, v in ANCHORS.items()},
    }


def beir_markdown(result: dict[str, Any]) -> str:
    """The result as a Markdown table, published anchors beside ours."""
    lines = [
        f"## BEIR {result['dataset']}: {result['documents']} documents, "
        f"{result['queries']} test queries",
        "",
        "| mode | nDCG@10 | recall@10 | recall@100 | MRR@10 | published nDCG@10 |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for mode, s in result["modes"].items():
        anchor = ANCHORS.get(mode)
        label = f"{anchor[0]:.3f}–{anchor[1]:.3f}" if anchor else "–"
        lines.append(
            f"| {mode} | {s['ndcg_at_10']:.3f} | {s['recall_at_10']:.3f} | "
            f"{s['recall_at_100']:.3f} | {s['mrr_at_10']:.3f} | {label} |"
        )
    lines.append("")
    lines.append("Anchors: BM25 from the BEIR paper; dense = all-MiniLM-L6-v2 (MTEB).")
    return "\n".join(lines) + "\n"
