"""Retrieval figures for `rag bench`: latency p50/p95 per mode, SciFact quality, the scale corpus.

Latency is measured the way a user meets it: the default retrieval settings with one half
switched off for "dense" / "bm25", top_k hits, warm (index open, model loaded, a few warm-up
queries), and every timed query embedded afresh (the per-process query-vector cache is keyed
by embedder name, so each pass uses its own name). Quality reuses `evals.beir` (same document
ranking and metrics as `rag eval --beir`).

The scale corpus (`scale_documents`) is built honestly from real text: SQuAD dev paragraphs,
SciFact abstracts, then generated variants of them (sentences rotated and one dropped) until
the estimated chunk count reaches the target; `describe` says exactly what it holds.
This module builds no product index format of its own: it uses `index_documents`.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from index.embedding import Embedder
from index.types import Document
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


def percentiles(samples_ms: Sequence[float]) -> dict[str, float]:
    """p50 / p95 / mean of millisecond samples (p95 by linear interpolation)."""
    arr = np.asarray(samples_ms, dtype=float)
    return {
        "p50_ms": round(float(np.percentile(arr, 50)), 2),
        "p95_ms": round(float(np.percentile(arr, 95)), 2),
        "mean_ms": round(float(arr.mean()), 2),
        "n": len(arr),
    }


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
) -> dict[str, dict[str, float]]:
    """p50/p95 per mode over the queries (top_k hits each)."""
    out = {}
    for mode in MODES:
        retriever = retriever_for(index, embedder, mode_retrieval(base, mode))
        out[mode] = percentiles(
            time_calls(lambda q, r=retriever: r.retrieve(q, base.top_k), queries)
        )
    return out


def quality(
    index: Any,
    embedder: Embedder,
    base: RetrievalSettings,
    queries: Mapping[str, str],
    qrels: Mapping[str, Mapping[str, int]],
) -> dict[str, dict[str, float]]:
    """nDCG@10, recall@100 (and the rest of evals.beir's metrics) per mode."""
    from evals.beir import CHUNKS_PER_QUERY, mode_settings, rank_documents, score_rankings
    from rag.retrieval import build_retriever

    out = {}
    for mode in MODES:
        retriever = build_retriever(mode_settings(base, mode), index, embedder)
        rankings = {
            qid: rank_documents(retriever.retrieve(text, CHUNKS_PER_QUERY))
            for qid, text in queries.items()
        }
        out[mode] = score_rankings(rankings, {q: dict(qrels[q]) for q in queries})
    return out


# ---------------------------------------------------------------- the scale corpus


def _doc(source: str, title: str, text: str) -> Document:
    return Document(
        path="",
        source=source,
        title=title,
        text=text,
        date=None,
        kind="txt",
        content_hash=hashlib.sha256(text.encode()).hexdigest(),
    )


def squad_paragraphs(path: Path) -> list[Document]:
    """Every paragraph of a SQuAD v1.1 file, one document each (source squad/<title>/<n>)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    docs = []
    for article in data["data"]:
        title = str(article.get("title", "untitled"))
        for n, para in enumerate(article["paragraphs"]):
            docs.append(_doc(f"squad/{title}/{n}", title.replace("_", " "), para["context"]))
    return docs


def estimated_chunks(text: str, chunk_tokens: int, overlap: int) -> int:
    from index.tokens import count_tokens

    tokens = count_tokens(text)
    return max(1, -(-max(tokens - overlap, 1) // max(chunk_tokens - overlap, 1)))


def _variants(doc: Document) -> Iterable[str]:
    """Sentence-rotated copies of a document with one sentence dropped, all distinct."""
    from index.sentences import split_sentences

    sentences = [doc.text[a:b] for a, b in split_sentences(doc.text)]
    n = len(sentences)
    if n < 3:
        return
    for rotation in range(1, n):
        rotated = sentences[rotation:] + sentences[:rotation]
        for drop in range(n):
            yield " ".join(rotated[:drop] + rotated[drop + 1 :])


def scale_documents(
    bases: Mapping[str, Sequence[Document]], target_chunks: int, chunk_tokens: int, overlap: int
) -> tuple[list[Document], dict[str, int]]:
    """Real documents first, then variants round-robin until about `target_chunks` chunks."""
    docs: list[Document] = []
    counts: dict[str, int] = {}
    estimate = 0
    for name, group in bases.items():
        for d in group:
            if estimate >= target_chunks:
                break
            docs.append(_doc(f"{name}/{d.source}", d.title, d.text))
            counts[name] = counts.get(name, 0) + 1
            estimate += estimated_chunks(d.text, chunk_tokens, overlap)
    generators = [(d, iter(_variants(d))) for group in bases.values() for d in group]
    seen = {d.text for d in docs}
    serial = 0
    while estimate < target_chunks and generators:
        alive = []
        for base, gen in generators:
            if estimate >= target_chunks:
                break
            text = next((t for t in gen if t not in seen), None)
            if text is None:
                continue
            seen.add(text)
            alive.append((base, gen))
            serial += 1
            docs.append(_doc(f"variant/{serial}/{base.source}", base.title, text))
            estimate += estimated_chunks(text, chunk_tokens, overlap)
        generators = alive
    counts["variants"] = serial
    return docs, counts


def describe(counts: Mapping[str, int], chunks: int) -> str:
    parts = [f"{n:,} {name}" for name, n in counts.items() if name != "variants"]
    parts.append(
        f"{counts.get('variants', 0):,} generated variants of them "
        "(sentences rotated, one sentence dropped)"
    )
    return f"{' + '.join(parts)} = {chunks:,} chunks"


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")
