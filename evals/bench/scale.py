"""The large collection for `rag bench`'s scale point: real text, then variants, to a target.

`scale_documents` takes real documents (SQuAD dev paragraphs, SciFact abstracts) and then
generated variants of them (sentences rotated and one dropped) until the estimated chunk count
reaches the target; `describe` says exactly what it holds. `build_scale_index` writes it
through the product's store: real chunks embedded for real, variant chunks with derived
vectors near their document's. This module builds no index format of its own and times
nothing (evals/bench/sections.py times the search).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from index.embedding import Embedder
from index.types import Document

VARIANT_PREFIX = "variant/"
# Cosine between a variant's vector and its real document's vector. Measured: 80 sampled
# SQuAD/SciFact documents, one real variant each embedded for real against the mean of the
# document's chunk vectors: median 0.94, p10 0.89, p90 0.98 (random real pairs: 0.04).
VARIANT_COSINE = (0.89, 0.98)
SCALE_RECIPE = 2  # bump when the collection is built differently (invalidates caches)


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
    generators = [
        (f"{name}/{d.source}", iter(_variants(d)), d.title)
        for name, group in bases.items()
        for d in group
    ]
    seen = {d.text for d in docs}
    serial = 0
    while estimate < target_chunks and generators:
        alive = []
        for real_source, gen, title in generators:
            if estimate >= target_chunks:
                break
            text = next((t for t in gen if t not in seen), None)
            if text is None:
                continue
            seen.add(text)
            alive.append((real_source, gen, title))
            serial += 1
            docs.append(_doc(f"{VARIANT_PREFIX}{serial}/{real_source}", title, text))
            estimate += estimated_chunks(text, chunk_tokens, overlap)
        generators = alive
    counts["variants"] = serial
    return docs, counts


def describe(counts: Mapping[str, int], chunks: int, derived_chunks: int = 0) -> str:
    parts = [f"{n:,} {name}" for name, n in counts.items() if name != "variants"]
    parts.append(
        f"{counts.get('variants', 0):,} generated variants of them "
        "(sentences rotated, one sentence dropped)"
    )
    text = f"{' + '.join(parts)} = {chunks:,} chunks"
    if derived_chunks:
        low, high = VARIANT_COSINE
        text += (
            f"; BM25 indexes every text as is; the {chunks - derived_chunks:,} chunks of real "
            f"documents have real embeddings, the {derived_chunks:,} variant chunks derived "
            f"vectors (their document's mean chunk vector turned in a random direction to a "
            f"cosine drawn from {low}-{high}, the p10-p90 measured between real variants "
            "and their documents)"
        )
    return text


def variant_vectors(bases: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors at a random cosine in VARIANT_COSINE from each (unit) row of `bases`."""
    bases = np.asarray(bases, dtype=np.float32)
    noise = rng.standard_normal(bases.shape).astype(np.float32)
    noise -= (noise * bases).sum(axis=1, keepdims=True) * bases  # orthogonal to the base
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    cos = rng.uniform(*VARIANT_COSINE, size=(len(bases), 1)).astype(np.float32)
    return cos * bases + np.sqrt(1.0 - cos * cos) * noise


def build_scale_index(
    docs: Sequence[Document],
    settings: Any,
    embedder: Embedder,
    log: Callable[[str], None] = lambda _: None,
    batch: int = 5000,
) -> dict[str, int]:
    """Write the scale collection through the product's store (`ChunkIndex`), from empty.

    Real documents are chunked and embedded for real; variant documents (source
    VARIANT_PREFIX...) are chunked for real and get `variant_vectors` of their real
    document's mean chunk vector (embedding ~100k chunks would take most of an hour on 2
    cores). Returns the numbers of embedded and derived chunks.
    """
    import logging

    from index.chunking import chunk_document
    from index.store import open_index

    chunking_log = logging.getLogger("index.chunking")
    level = chunking_log.level
    chunking_log.setLevel(logging.ERROR)  # variants repeat their document's long sentences
    try:
        chunked = [chunk_document(d, settings.chunk_tokens, settings.chunk_overlap) for d in docs]
    finally:
        chunking_log.setLevel(level)
    real = [(d, cs) for d, cs in zip(docs, chunked, strict=True) if cs and not _is_variant(d)]
    real_chunks = [c for _, cs in real for c in cs]
    log(f"scale collection: embedding the {len(real_chunks):,} chunks of real documents")
    vectors = np.asarray(embedder.embed_documents([c.text for c in real_chunks]), np.float32)
    means: dict[str, np.ndarray] = {}
    start = 0
    for d, cs in real:
        mean = vectors[start : start + len(cs)].mean(axis=0)
        means[d.source] = mean / np.linalg.norm(mean)
        start += len(cs)

    index = open_index(settings, check=False)
    index.drop()
    index.record_dimension(int(vectors.shape[1]))
    for at in range(0, len(real_chunks), batch):
        index.replace_sources([], real_chunks[at : at + batch], vectors[at : at + batch])
    rng = np.random.default_rng(SCALE_RECIPE)
    variant_chunks = [
        (c, d.source.split("/", 2)[2])  # variant/<serial>/<real source>
        for d, cs in zip(docs, chunked, strict=True)
        if _is_variant(d)
        for c in cs
    ]
    for at in range(0, len(variant_chunks), batch):
        part = variant_chunks[at : at + batch]
        log(f"scale collection: storing chunks {len(real_chunks) + at:,}+")
        bases = np.stack([means[real_source] for _, real_source in part])
        index.replace_sources([], [c for c, _ in part], variant_vectors(bases, rng))
    log("scale collection: building the BM25 index")
    index.commit()
    return {"embedded_chunks": len(real_chunks), "derived_chunks": len(variant_chunks)}


def _is_variant(doc: Document) -> bool:
    return doc.source.startswith(VARIANT_PREFIX)
