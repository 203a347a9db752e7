"""The vector side of the index: one Chroma collection (cosine) holding our own embeddings.

Opens the embedded `PersistentClient` under data_dir/chroma, or an `HttpClient` when
`chroma_url` is set; telemetry is off and no Chroma embedding function is attached (vectors
come from `index.embedding`). The collection's metadata records the embedding model,
dimension and chunker settings; opening it with other values raises `IndexMismatchError`.
Writes are batched under Chroma's maximum batch size. This module knows nothing of BM25,
files or the manifest.

Other writers: chromadb caches one embedded "system" per path for the whole process, and it
does not see writes made by another process (a `rag index` while `rag serve` runs); reads then
fail ("Error finding id"). So this module remembers the store file's modification stamp after
each of this process's own opens and writes; a read that finds another stamp replaces the
cached system and reopens the collection (`_follow_other_writers`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlparse

import numpy as np

from index.config import IndexSettings
from index.embedding import settings_embedder_name
from index.types import Chunk

_PAGE = 2000  # rows fetched per `get` when reading the whole collection
_SOURCES_PER_DELETE = 200

# Per embedded store path: the store file's stamp as this process last saw or wrote it, and
# how many times this process replaced chromadb's cached system for it.
_SEEN_STAMP: dict[str, int] = {}
_GENERATION: dict[str, int] = {}


def _stamp(settings: IndexSettings) -> int:
    try:
        return (settings.chroma_dir / "chroma.sqlite3").stat().st_mtime_ns
    except OSError:
        return 0


def _replace_cached_system(path: str) -> None:
    """Make the next client for `path` start a fresh chromadb system (reads the disk anew).

    chromadb has no public call for one path (`clear_system_cache()` drops every path,
    breaking other live clients), so this pops the one entry from its cache.
    """
    from chromadb.api.shared_system_client import SharedSystemClient

    system = SharedSystemClient._identifier_to_system.pop(path, None)
    SharedSystemClient._identifier_to_refcount.pop(path, None)
    if system is not None:
        with contextlib.suppress(Exception):
            system.stop()
    _GENERATION[path] = _GENERATION.get(path, 0) + 1


class StoreError(RuntimeError):
    """The index store cannot be used (server unreachable, files unreadable)."""


class IndexMismatchError(RuntimeError):
    """The index was built with other embedding/chunker settings than the current ones."""


def recorded_settings(settings: IndexSettings, dimension: int = 0) -> dict[str, Any]:
    """What an index built with these settings records about itself."""
    return {
        "embedding_model": settings_embedder_name(settings),
        "dimension": dimension,
        "chunk_tokens": settings.chunk_tokens,
        "chunk_overlap": settings.chunk_overlap,
    }


def mismatch_message(recorded: dict[str, Any], wanted: dict[str, Any], where: str) -> str | None:
    """A readable 'what changed' message, or None when the settings agree."""
    changes = []
    for key in ("embedding_model", "dimension", "chunk_tokens", "chunk_overlap"):
        old, new = recorded.get(key), wanted.get(key)
        if key == "dimension" and (not old or not new):
            continue  # not known yet on one side
        if old is not None and old != new:
            changes.append(f"{key} {old!r} -> {new!r}")
    if not changes:
        return None
    return (
        f"The index at {where} was built with other settings ({'; '.join(changes)}). "
        "Run `rag index --rebuild` to re-index with the current settings."
    )


def _client(settings: IndexSettings) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise StoreError(
                f"Invalid Chroma URL {settings.chroma_url!r}: expected http://HOST:PORT."
            )
        port = url.port or (443 if url.scheme == "https" else 8000)
        try:
            client = chromadb.HttpClient(
                host=url.hostname, port=port, ssl=url.scheme == "https", settings=chroma_settings
            )
            client.heartbeat()
        except Exception as err:
            raise StoreError(
                f"Cannot reach the Chroma server at {settings.chroma_url} ({type(err).__name__})."
                " Is it running? Start one with `chroma run --path DIR --port PORT`."
            ) from None
        return client
    try:
        settings.chroma_dir.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)
    except Exception as err:
        raise StoreError(f"Cannot open the Chroma store in {settings.chroma_dir}: {err}") from None


class ChromaStore:
    """The chunk vectors and metadata in one Chroma collection."""

    def __init__(self, settings: IndexSettings) -> None:
        self.settings = settings
        self.location = settings.chroma_url or str(settings.chroma_dir)
        self._embedded = not settings.chroma_url
        self._open()

    def _open(self) -> None:
        settings = self.settings
        if self._embedded:
            key = self.location
            if _SEEN_STAMP.get(key, _stamp(settings)) != _stamp(settings):
                _replace_cached_system(key)  # another process wrote since we last looked
            self._generation = _GENERATION.get(key, 0)
        self._client = _client(settings)
        try:
            self._collection = self._client.get_or_create_collection(
                settings.collection,
                configuration={"hnsw": {"space": "cosine"}},
                metadata=recorded_settings(settings),
                embedding_function=None,
            )
            self._max_batch = int(self._client.get_max_batch_size())
        except Exception as err:
            raise StoreError(
                f"Cannot open the Chroma collection at {self.location}: {err}"
            ) from None
        self._wrote()

    def _wrote(self) -> None:
        """Record the store file's stamp after this process opened or wrote it."""
        if self._embedded:
            _SEEN_STAMP[self.location] = _stamp(self.settings)

    def _follow_other_writers(self) -> None:
        """Reopen when another process wrote, or this process replaced the cached system."""
        if not self._embedded:
            return
        changed = _SEEN_STAMP.get(self.location) != _stamp(self.settings)
        if changed or self._generation != _GENERATION.get(self.location, 0):
            self._open()

    # ---------------------------------------------------------------- settings

    @property
    def recorded(self) -> dict[str, Any]:
        return dict(self._collection.metadata or {})

    def check(self, settings: IndexSettings, dimension: int = 0) -> None:
        """Refuse settings that differ from the ones the index was built with."""
        message = mismatch_message(
            self.recorded, recorded_settings(settings, dimension), self.location
        )
        if message:
            raise IndexMismatchError(message)

    def record_dimension(self, dimension: int) -> None:
        if int(self.recorded.get("dimension") or 0) != dimension:
            meta = self.recorded
            meta["dimension"] = dimension
            self._collection.modify(metadata=meta)
            self._wrote()

    def drop(self) -> None:
        """Delete the collection and create it empty (for --rebuild)."""
        with contextlib.suppress(Exception):  # it did not exist
            self._client.delete_collection(self.settings.collection)
        self._collection = self._client.get_or_create_collection(
            self.settings.collection,
            configuration={"hnsw": {"space": "cosine"}},
            metadata=recorded_settings(self.settings),
            embedding_function=None,
        )
        self._wrote()

    # ---------------------------------------------------------------- reading

    def count(self) -> int:
        self._follow_other_writers()
        return int(self._collection.count())

    def _pages(self, include: list[str]) -> Iterator[dict[str, Any]]:
        self._follow_other_writers()
        offset = 0
        while True:
            page = self._collection.get(include=include, limit=_PAGE, offset=offset)
            if not page["ids"]:
                return
            yield page
            offset += len(page["ids"])

    def ids_by_source(self) -> dict[str, list[str]]:
        """Every chunk id in the collection, grouped by source."""
        found: dict[str, list[str]] = {}
        for page in self._pages(["metadatas"]):
            for chunk_id, meta in zip(page["ids"], page["metadatas"], strict=True):
                found.setdefault(str((meta or {}).get("source", "")), []).append(chunk_id)
        return found

    def all_chunks(self) -> list[Chunk]:
        chunks: list[Chunk] = []
        for page in self._pages(["metadatas", "documents"]):
            for chunk_id, text, meta in zip(
                page["ids"], page["documents"], page["metadatas"], strict=True
            ):
                chunks.append(Chunk.from_metadata(chunk_id, text or "", meta or {}))
        return chunks

    def embeddings(self, ids: Sequence[str]) -> np.ndarray:
        """The stored vectors of `ids`, in the order asked (ids not stored are left out)."""
        if not ids:
            return np.zeros((0, 0), dtype=np.float32)
        self._follow_other_writers()
        got = self._collection.get(ids=list(ids), include=["embeddings"])
        by_id = dict(zip(got["ids"], got["embeddings"], strict=True))
        rows = [by_id[i] for i in ids if i in by_id]
        return np.asarray(rows, dtype=np.float32)

    def query(
        self, vector: np.ndarray, k: int, sources: Sequence[str] | None = None
    ) -> list[tuple[str, float]]:
        """Best-first (chunk id, cosine similarity).

        Chroma returns fewer than k results when it holds fewer (also when empty), so no
        `count()` round-trip is spent per query.
        """
        if k <= 0:
            return []
        where = {"source": {"$in": list(sources)}} if sources else None
        self._follow_other_writers()
        result = self._collection.query(
            query_embeddings=[np.asarray(vector, dtype=np.float32)],
            n_results=k,
            where=where,
            include=["distances"],
        )
        ids, distances = result["ids"][0], result["distances"][0]
        return [(i, 1.0 - float(d)) for i, d in zip(ids, distances, strict=True)]

    # ---------------------------------------------------------------- writing

    def add(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        for start in range(0, len(chunks), self._max_batch):
            part = chunks[start : start + self._max_batch]
            self._collection.add(
                ids=[c.id for c in part],
                embeddings=vectors[start : start + len(part)],
                documents=[c.text for c in part],
                metadatas=[c.metadata() for c in part],
            )
        self._wrote()

    def delete_sources(self, sources: Sequence[str]) -> None:
        sources = list(sources)
        for start in range(0, len(sources), _SOURCES_PER_DELETE):
            part = sources[start : start + _SOURCES_PER_DELETE]
            self._collection.delete(where={"source": {"$in": part}})
        self._wrote()
