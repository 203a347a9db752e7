"""The `Retriever` protocol, the retrieval error, and the vectors the stages share.

A retriever maps a query to ranked `Hit`s. Every stage (hybrid search, reranker, MMR,
neighbour expansion) is a `Retriever`, most of them wrapping another one. This module holds
only what they share: the protocol, `RetrievalError`, and cached query/chunk embeddings
(keyed by model name and text, so a cached vector never goes stale).
It does not search anything itself.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from index.types import Chunk
from rag.types import Hit

if TYPE_CHECKING:
    from index.embedding import Embedder
    from index.store import ChunkIndex


class RetrievalError(ValueError):
    """Retrieval is misconfigured (both halves off, a missing reranker model). Readable as is."""


@runtime_checkable
class Retriever(Protocol):
    """Ranked chunks for a query, best first; `sources` limits the search to those files."""

    def retrieve(self, query: str, k: int, sources: Sequence[str] | None = None) -> list[Hit]: ...


def normalise_sources(sources: Sequence[str] | None) -> list[str] | None:
    """None for "no filter" (None or empty), else the distinct names in their given order."""
    if not sources:
        return None
    if isinstance(sources, str):  # a single name passed where a list was meant
        sources = [sources]
    return list(dict.fromkeys(s for s in sources if s)) or None


class _LRU:
    """A small thread-safe LRU map (the web UI answers several questions at once)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> np.ndarray | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: tuple[str, str], value: np.ndarray) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self._size:
                self._data.popitem(last=False)


_QUERY_VECTORS = _LRU(256)
_CHUNK_VECTORS = _LRU(8192)


def query_vector(embedder: Embedder, query: str) -> np.ndarray:
    """The query's embedding (L2-normalised), cached so stages of one question embed it once."""
    key = (embedder.name, query)
    vec = _QUERY_VECTORS.get(key)
    if vec is None:
        vec = np.asarray(embedder.embed_query(query), dtype=np.float32)
        _QUERY_VECTORS.put(key, vec)
    return vec


def chunk_vectors(index: ChunkIndex, embedder: Embedder, chunks: Sequence[Chunk]) -> np.ndarray:
    """Embeddings of `chunks` (len(chunks) x dim), L2-normalised.

    Uses the index's stored vectors when it offers `embeddings(ids)`; otherwise embeds the
    chunk texts with the same model the index used, once per text per process.
    """
    if not chunks:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    stored = getattr(index, "embeddings", None)
    if callable(stored):
        vecs = np.asarray(stored([c.id for c in chunks]), dtype=np.float32)
        if vecs.shape[0] == len(chunks):
            return vecs
    out: list[np.ndarray | None] = [_CHUNK_VECTORS.get((embedder.name, c.text)) for c in chunks]
    missing = [i for i, v in enumerate(out) if v is None]
    if missing:
        fresh = np.asarray(
            embedder.embed_documents([chunks[i].text for i in missing]), dtype=np.float32
        )
        for i, vec in zip(missing, fresh, strict=True):
            _CHUNK_VECTORS.put((embedder.name, chunks[i].text), vec)
            out[i] = vec
    return np.vstack([vec for vec in out if vec is not None])  # every one is filled in now
