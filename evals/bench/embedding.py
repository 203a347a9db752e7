"""Embedding backends for `rag bench`: the bundled model on torch, on ONNX Runtime, and int8.

The ONNX backends are the product's own (`index.onnx_embed`: a local export of the bundled
model, fp32 with ORT's BERT fusions and int8), loaded exactly as `embedding_backend = "onnx"`
/ `"onnx-int8"` load them, with the export cached under the bench cache folder.

`compare_backends` embeds the same chunk texts with each backend (chunks/s) and scores dense
retrieval on them by exact cosine search (nDCG@10 against the qrels), so the quality loss of
ONNX and int8 is measured on the same data. This module does not change the product default.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from evals.bench.results import Embedding, EmbedRow
from evals.bench.stats import rate
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
    from evals.retrieval_eval import score_rankings

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
) -> Embedding:
    """chunks/s and dense nDCG@10 per backend on the same texts; the int8 verdict."""
    makers: dict[str, Callable[[], Embedder]] = {"torch": lambda: torch_embedder}
    export_s = error = None
    try:
        started = time.perf_counter()
        path = bundled_model_path()
        for name in VARIANTS:
            file = cached_model_file(path, name, cache_dir)
            label = embedder_name(BUNDLED_MODEL, name)
            makers[name] = lambda file=file, label=label: OnnxEmbedder(path, file, label)
        export_s = round(time.perf_counter() - started, 2)
    except Exception as err:  # the export depends on torch/onnx versions: report, go on
        error = f"ONNX export failed: {err}"
    rows: dict[str, EmbedRow] = {}
    for name, make in makers.items():
        log(f"embedding {len(texts)} chunks with {name}")
        embedder = make()
        embedder.embed_documents(list(texts[:8]))  # warm-up
        started = time.perf_counter()
        vectors = embedder.embed_documents(list(texts))
        seconds = time.perf_counter() - started
        rows[name] = EmbedRow(
            seconds=round(seconds, 2),
            chunks_per_s=rate(len(texts), seconds),
            **exact_dense_ndcg(embedder, vectors, sources, queries, qrels),
        )
    return verdict(
        Embedding(
            chunks=len(texts),
            queries=len(queries),
            backends=rows,
            onnx_export_seconds=export_s,
            onnx_error=error,
        )
    )


def verdict(result: Embedding) -> Embedding:
    """Each backend's nDCG@10 loss against torch, whether it holds, the fastest that holds."""
    rows = dict(result.backends)
    int8_ok = None
    if "torch" in rows:
        base = rows["torch"].ndcg_at_10
        for name, row in rows.items():
            loss = round(base - row.ndcg_at_10, 4)
            rows[name] = dataclasses.replace(
                row, ndcg_loss_vs_torch=loss, quality_holds=loss < MAX_NDCG_LOSS
            )
        if "onnx-int8" in rows:
            int8_ok = rows["onnx-int8"].quality_holds
    usable = {n: r for n, r in rows.items() if r.quality_holds is not False}
    fastest = max(usable, key=lambda n: usable[n].chunks_per_s or 0) if usable else None
    return dataclasses.replace(
        result, backends=rows, int8_acceptable=int8_ok, fastest_with_quality=fastest
    )
