"""Embedding backends for `rag bench`: the bundled model on torch, on ONNX Runtime, and int8.

The ONNX backends are the product's own (`index.onnx_embed`: a local export of the bundled
model, fp32 with ORT's BERT fusions and int8), loaded exactly as `embedding_backend = "onnx"`
/ `"onnx-int8"` load them, with the export cached under the bench cache folder.

`compare_backends` embeds the same chunk texts with each backend (chunks/s) and scores dense
retrieval on them by exact cosine search (nDCG@10 against the qrels), so the quality loss of
ONNX and int8 is measured on the same data. This module does not change the product default.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from index.embedding import BUNDLED_MODEL, Embedder, bundled_model_path, embedder_name
from index.onnx_embed import VARIANTS, OnnxEmbedder, cached_model_file

MAX_NDCG_LOSS = 0.005  # a backend counts as "quality holds" below this SciFact nDCG@10 loss


def exact_dense_ndcg(
    embedder: Embedder,
    chunk_vectors: np.ndarray,
    chunk_sources: Sequence[str],
    queries: Mapping[str, str],
    qrels: Mapping[str, Mapping[str, int]],
) -> dict[str, float]:
    """nDCG@10 / recall@100 of exact cosine search; a document scores as its best chunk."""
    from evals.beir import score_rankings

    sources = np.asarray(chunk_sources)
    rankings: dict[str, list[str]] = {}
    for qid, text in queries.items():
        scores = chunk_vectors @ embedder.embed_query(text)
        order = np.argsort(-scores)
        rankings[qid] = list(dict.fromkeys(sources[order].tolist()))[:100]
    result = score_rankings(rankings, {q: dict(qrels[q]) for q in queries})
    return {"ndcg_at_10": result["ndcg_at_10"], "recall_at_100": result["recall_at_100"]}


def compare_backends(
    torch_embedder: Embedder,
    texts: Sequence[str],
    sources: Sequence[str],
    queries: Mapping[str, str],
    qrels: Mapping[str, Mapping[str, int]],
    cache_dir: Path,
    log: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """chunks/s and dense nDCG@10 per backend on the same texts; the int8 verdict."""
    result: dict[str, Any] = {"chunks": len(texts), "queries": len(queries), "backends": {}}
    embedders: dict[str, Callable[[], Embedder]] = {"torch": lambda: torch_embedder}
    try:
        started = time.perf_counter()
        path = bundled_model_path()
        for name in VARIANTS:
            file = cached_model_file(path, name, cache_dir)
            label = embedder_name(BUNDLED_MODEL, name)
            embedders[name] = lambda file=file, label=label: OnnxEmbedder(path, file, label)
        result["onnx_export_seconds"] = round(time.perf_counter() - started, 2)
    except Exception as err:  # the export depends on torch/onnx versions: report, go on
        result["onnx_error"] = f"ONNX export failed: {err}"
    for name, make in embedders.items():
        log(f"embedding {len(texts)} chunks with {name}")
        embedder = make()
        embedder.embed_documents(list(texts[:8]))  # warm-up
        started = time.perf_counter()
        vectors = embedder.embed_documents(list(texts))
        seconds = time.perf_counter() - started
        quality = exact_dense_ndcg(embedder, vectors, sources, queries, qrels)
        result["backends"][name] = {
            "seconds": round(seconds, 2),
            "chunks_per_s": round(len(texts) / seconds, 1) if seconds else None,
            **quality,
        }
    backends = result["backends"]
    if "torch" in backends:
        base = backends["torch"]["ndcg_at_10"]
        for b in backends.values():
            b["ndcg_loss_vs_torch"] = round(base - b["ndcg_at_10"], 4)
            b["quality_holds"] = b["ndcg_loss_vs_torch"] < MAX_NDCG_LOSS
        if "onnx-int8" in backends:
            result["int8_acceptable"] = backends["onnx-int8"]["quality_holds"]
    usable = {n: b for n, b in backends.items() if b.get("quality_holds", True)}
    if usable:
        result["fastest_with_quality"] = max(usable, key=lambda n: usable[n]["chunks_per_s"] or 0)
    return result
