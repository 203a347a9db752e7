"""Embedding backends for `rag bench`: the bundled model on torch, on ONNX Runtime, and int8.

Each backend is built from its own setting (`index.embedding_backend` = "torch", "onnx",
"onnx-int8" over the caller's other index settings) through `index.embedding.get_embedder`,
exactly as the product loads it, never from the default; each row records the name an index
built with it records, what computed the vectors and, for ONNX, the model file it ran.

`compare_backends` embeds the same chunk texts with each backend, in slices with the backends
taking turns (so a busy machine slows them alike), and scores dense retrieval on the vectors
by exact cosine search (nDCG@10, recall@100 against the qrels), so the quality loss of ONNX
and int8 is measured on the same data. This module does not change the product default.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from evals.bench.results import Embedding, EmbedRow
from evals.bench.stats import rate
from index.config import IndexSettings
from index.embedding import Embedder

BACKENDS = ("torch", "onnx", "onnx-int8")
MAX_NDCG_LOSS = 0.005  # a backend counts as "quality holds" below this SciFact nDCG@10 loss
SLICES = 12  # turns per backend; enough to spread load changes, large enough to batch well


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


def runtime_of(embedder: Embedder) -> tuple[str, str | None]:
    """(what computes this embedder's vectors, the ONNX file it runs or None)."""
    from index.embedding import SentenceTransformerEmbedder
    from index.onnx_embed import OnnxEmbedder

    if isinstance(embedder, OnnxEmbedder):
        import onnxruntime

        return f"ONNX Runtime {onnxruntime.__version__}", str(embedder.model_file)
    if isinstance(embedder, SentenceTransformerEmbedder):
        import sentence_transformers
        import torch

        versions = f"{sentence_transformers.__version__}, torch {torch.__version__}"
        return f"sentence-transformers {versions} ({torch.get_num_threads()} threads)", None
    return type(embedder).__name__, None


def embed_in_turns(
    embedders: Mapping[str, Embedder], texts: Sequence[str], slices: int = SLICES
) -> tuple[dict[str, tuple[np.ndarray, float]], int]:
    """Each backend's vectors of all texts and its seconds, the backends taking turns per
    slice (who goes first rotates), after an untimed warm-up on a few texts; and the number
    of slices."""
    names = list(embedders)
    for name in names:
        embedders[name].embed_documents(list(texts[:8]))
    size = max(1, -(-len(texts) // max(slices, 1)))
    parts: dict[str, list[np.ndarray]] = {n: [] for n in names}
    seconds = dict.fromkeys(names, 0.0)
    for turn, start in enumerate(range(0, len(texts), size)):
        piece = list(texts[start : start + size])
        for name in names[turn % len(names) :] + names[: turn % len(names)]:
            started = time.perf_counter()
            parts[name].append(embedders[name].embed_documents(piece))
            seconds[name] += time.perf_counter() - started
    turns = len(parts[names[0]]) if names else 0
    return {n: (np.vstack(parts[n]), seconds[n]) for n in names}, turns


def compare_backends(
    base: IndexSettings,
    texts: Sequence[str],
    sources: Sequence[str],
    queries: Mapping[str, str],
    qrels: Mapping[str, Mapping[str, int]],
    log: Callable[[str], None] = lambda _: None,
    backends: Sequence[str] = BACKENDS,
) -> Embedding:
    """chunks/s and dense nDCG@10 per backend on the same texts; the int8 verdict."""
    from index.embedding import get_embedder

    embedders: dict[str, Embedder] = {}
    load_s: dict[str, float] = {}
    errors = []
    for name in backends:
        log(f"loading the {name} embedder")
        started = time.perf_counter()
        try:
            embedders[name] = get_embedder(base.model_copy(update={"embedding_backend": name}))
        except Exception as err:  # an ONNX export depends on torch/onnx versions: go on
            if name == "torch":
                raise
            errors.append(f"{name}: {err}")
            continue
        load_s[name] = round(time.perf_counter() - started, 2)
    log(f"embedding {len(texts)} chunks with {', '.join(embedders)}, taking turns")
    timed, turns = embed_in_turns(embedders, texts)
    rows = {}
    for name, (vectors, seconds) in timed.items():
        runtime, model_file = runtime_of(embedders[name])
        scores = exact_dense_ndcg(embedders[name], vectors, sources, queries, qrels)
        rows[name] = EmbedRow(
            embedder=embedders[name].name,
            runtime=runtime,
            model_file=model_file,
            load_seconds=load_s[name],
            seconds=round(seconds, 2),
            chunks_per_s=rate(len(texts), seconds),
            ndcg_at_10=scores["ndcg_at_10"],
            recall_at_100=scores["recall_at_100"],
        )
    return verdict(
        Embedding(
            chunks=len(texts),
            queries=len(queries),
            backends=rows,
            slices=turns,
            onnx_error="; ".join(errors) or None,
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
