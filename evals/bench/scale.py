"""The large collection for `rag bench`'s scale point: real text, then variants, to a target.

`scale_documents` takes real documents (SQuAD dev paragraphs, SciFact abstracts) and then
generated variants of them (sentences rotated and one dropped) until the estimated chunk count
reaches the target; `describe` says exactly what it holds. `build_scale_index` writes it
through the product's store: real chunks embedded for real, variant chunks with derived
vectors near their document's. Variants are chunked (by the product's chunker) while a writer
thread stores the previous batch, so on a Chroma server the chunking hides behind the adds.
This module builds no index format of its own and times nothing but the build's progress
lines (evals/bench/sections.py times the search).
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
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

    return _chunks_of(count_tokens(text), chunk_tokens, overlap)


def _chunks_of(tokens: int, chunk_tokens: int, overlap: int) -> int:
    return max(1, -(-max(tokens - overlap, 1) // max(chunk_tokens - overlap, 1)))


def _variants(doc: Document) -> Iterable[tuple[str, int]]:
    """Sentence-rotated copies of a document with one sentence dropped, all distinct, each
    with its token count estimated from its sentences' (counted once per document)."""
    from index.sentences import split_sentences
    from index.tokens import count_tokens

    sentences = [doc.text[a:b] for a, b in split_sentences(doc.text)]
    n = len(sentences)
    if n < 3:
        return
    tokens = [count_tokens(t) for t in sentences]
    total = sum(tokens)
    for rotation in range(1, n):
        order = list(range(rotation, n)) + list(range(rotation))
        for drop in range(n):
            kept = order[:drop] + order[drop + 1 :]
            yield " ".join(sentences[i] for i in kept), total - tokens[order[drop]]


def scale_documents(
    bases: Mapping[str, Sequence[Document]],
    target_chunks: int,
    chunk_tokens: int,
    overlap: int,
    real_chunks: int | None = None,
) -> tuple[list[Document], dict[str, int]]:
    """Real documents first (up to about `real_chunks` chunks, when given), then variants of
    those documents round-robin until about `target_chunks` chunks."""
    docs: list[Document] = []
    counts: dict[str, int] = {}
    included: list[Document] = []  # the real documents taken, as their variants name them
    real_target = min(target_chunks, real_chunks) if real_chunks else target_chunks
    estimate = 0
    for name, group in bases.items():
        for d in group:
            if estimate >= real_target:
                break
            docs.append(_doc(f"{name}/{d.source}", d.title, d.text))
            included.append(d)
            counts[name] = counts.get(name, 0) + 1
            estimate += estimated_chunks(d.text, chunk_tokens, overlap)
    # Only taken documents have variants: a variant's vector derives from its document's.
    generators = [
        (real.source, iter(_variants(d)), d.title) for real, d in zip(docs, included, strict=True)
    ]
    seen = {d.text for d in docs}
    serial = 0
    while estimate < target_chunks and generators:
        alive = []
        for real_source, gen, title in generators:
            if estimate >= target_chunks:
                break
            text, tokens = next(((t, n) for t, n in gen if t not in seen), ("", 0))
            if not text:
                continue
            seen.add(text)
            alive.append((real_source, gen, title))
            serial += 1
            docs.append(_doc(f"{VARIANT_PREFIX}{serial}/{real_source}", title, text))
            estimate += _chunks_of(tokens, chunk_tokens, overlap)
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
    document's mean chunk vector (embedding a million chunks would take days on 2 cores).
    Returns the numbers of embedded and derived chunks.
    """
    from index.store import open_index

    real = [(d, cs) for d, cs in _chunked((d for d in docs if not _is_variant(d)), settings) if cs]
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
    rng = np.random.default_rng(SCALE_RECIPE)
    recorded = [(d, [c.id for c in cs]) for d, cs in real]

    def batches() -> Iterator[tuple[list[Any], np.ndarray]]:
        for at in range(0, len(real_chunks), batch):
            yield real_chunks[at : at + batch], vectors[at : at + batch]
        part: list[tuple[Any, str]] = []
        variants = (d for d in docs if _is_variant(d))
        for d, cs in _chunked(variants, settings):
            recorded.append((d, [c.id for c in cs]))
            real_source = d.source.split("/", 2)[2]  # variant/<serial>/<real source>
            part.extend((c, real_source) for c in cs)
            if len(part) >= batch:
                yield _derived(part[:batch], means, rng)
                part = part[batch:]
        if part:
            yield _derived(part, means, rng)

    stored = _write_behind(index, batches(), log)
    log(f"scale collection: building the BM25 index over {stored:,} chunks")
    index.commit()
    _write_manifest(settings, recorded)
    return {"embedded_chunks": len(real_chunks), "derived_chunks": stored - len(real_chunks)}


def _write_manifest(settings: Any, recorded: Sequence[tuple[Document, list[str]]]) -> None:
    """The manifest `rag index` would write for these documents (none read from files), so
    the collection is a complete index that `rag serve` and `rag ask` open as they are."""
    from index.manifest import FileRecord, Manifest

    files = {
        d.source: FileRecord(source=d.source, sha256=d.content_hash, chunk_ids=ids)
        for d, ids in recorded
        if ids
    }
    manifest = Manifest(files=files)
    manifest.touch()
    manifest.save(settings.manifest_path)


def _chunked(docs: Iterable[Document], settings: Any) -> Iterator[tuple[Document, list[Any]]]:
    """Each document with its chunks, by the product's chunker and the index's settings."""
    import logging

    from index.chunking import chunk_document

    chunking_log = logging.getLogger("index.chunking")
    level = chunking_log.level
    chunking_log.setLevel(logging.ERROR)  # variants repeat their document's long sentences
    try:
        for d in docs:
            yield d, chunk_document(d, settings.chunk_tokens, settings.chunk_overlap)
    finally:
        chunking_log.setLevel(level)


def _derived(
    part: Sequence[tuple[Any, str]], means: Mapping[str, np.ndarray], rng: np.random.Generator
) -> tuple[list[Any], np.ndarray]:
    bases = np.stack([means[real_source] for _, real_source in part])
    return [c for c, _ in part], variant_vectors(bases, rng)


def _write_behind(
    index: Any, batches: Iterator[tuple[list[Any], np.ndarray]], log: Callable[[str], None]
) -> int:
    """Store each batch in a writer thread while the next one is made; the number stored.

    The writer mostly waits on the store (a Chroma server works in its own process), so
    chunking the next batch meanwhile costs little. An error in either thread stops both.
    """
    ready: queue.Queue[tuple[list[Any], np.ndarray] | None] = queue.Queue(maxsize=2)
    failed: list[BaseException] = []
    stored = 0
    started = time.perf_counter()

    def writer() -> None:
        nonlocal stored
        while (item := ready.get()) is not None:
            if failed:
                continue  # drain, so the producer never blocks on a dead writer
            try:
                index.replace_sources([], item[0], item[1])
            except BaseException as err:  # reported in the caller's thread
                failed.append(err)
                continue
            before, stored = stored, stored + len(item[0])
            if stored // 50_000 != before // 50_000:
                elapsed = time.perf_counter() - started
                log(
                    f"scale collection: {stored:,} chunks stored in {elapsed:,.0f} s "
                    f"({stored / elapsed:,.0f}/s, load average {os.getloadavg()[0]:.1f})"
                )

    thread = threading.Thread(target=writer, name="scale-writer", daemon=True)
    thread.start()
    try:
        for item in batches:
            if failed:
                break
            ready.put(item)
    finally:
        ready.put(None)
        thread.join()
    if failed:
        raise failed[0]
    return stored


def _is_variant(doc: Document) -> bool:
    return doc.source.startswith(VARIANT_PREFIX)
