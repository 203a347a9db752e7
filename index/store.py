"""The document index as one object: Chroma vectors + BM25 + chunk records, same chunk set.

`open_index(settings)` is what the question side calls: it refuses an index built with other
embedding/chunker settings (`IndexMismatchError`) and reports an unusable store
(`StoreError`), both with messages meant for the user. `ChunkIndex` reads (search, get,
status) and offers the pipeline the few checks and writes it needs (does an embedder fit,
do both stores hold as many chunks as expected, replace or remove a set of sources in both
stores, reconcile after a crash, drop everything), so no caller touches the stores
themselves. It does not walk files, chunk or embed.

A long-lived reader (`rag serve`) follows writes made by another process: searches, counts
and status first check the BM25 generation pointer and load the new generation when it moved
(the Chroma side does the same for its own files, see index/chroma_store.py).

`collection_names` lists the data dir's collections and `delete_collection` removes a named
one entirely (its Chroma collection, BM25 index, manifest and uploads).
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from index.bm25_store import BM25Store
from index.chroma_store import (
    ChromaStore,
    IndexMismatchError,
    StoreError,
    _replace_cached_system,
)
from index.config import COLLECTIONS_DIR, DEFAULT_COLLECTION, IndexSettings
from index.lock import locked
from index.manifest import last_indexed
from index.types import Chunk, IndexStatus

__all__ = [
    "ChunkIndex",
    "IndexMismatchError",
    "StoreCounts",
    "StoreError",
    "collection_names",
    "delete_collection",
    "open_index",
]


@dataclass(frozen=True)
class StoreCounts:
    """Chunks held by each store; after a clean run both equal the manifest's count."""

    vectors: int  # Chroma
    keywords: int  # BM25

    def agree(self, expected: int) -> bool:
        return self.vectors == self.keywords == expected


class ChunkIndex:
    """Search and read the indexed chunks; both stores always hold the same chunk ids."""

    def __init__(self, settings: IndexSettings, chroma: ChromaStore, bm25: BM25Store) -> None:
        self.settings = settings
        self.chroma = chroma
        self.bm25 = bm25
        self.needs_repair = False  # the BM25 side could not be read (set by open_index)
        self._bm25_seen = self._bm25_stamp()

    def _bm25_stamp(self) -> int:
        try:
            return (self.bm25.folder / "CURRENT").stat().st_mtime_ns
        except OSError:
            return 0

    def _follow_other_writers(self) -> None:
        """Load the BM25 generation another process committed since this one last looked."""
        stamp = self._bm25_stamp()
        if stamp != self._bm25_seen:
            self._bm25_seen = stamp
            with contextlib.suppress(Exception):  # unreadable: keep the snapshot we have
                self.bm25 = BM25Store.load(self.bm25.folder)

    # ---------------------------------------------------------------- reading

    def count(self) -> int:
        self._follow_other_writers()
        return len(self.bm25)

    def sources(self) -> list[str]:
        self._follow_other_writers()
        return self.bm25.sources()

    def get(self, ids: Sequence[str]) -> list[Chunk]:
        """The chunks with these ids, in the order asked; unknown ids are left out."""
        return [c for c in (self.bm25.get(i) for i in ids) if c is not None]

    def chunks_of(self, source: str) -> list[Chunk]:
        """Every chunk of one document, by position."""
        return self.bm25.of_source(source)

    def embeddings(self, ids: Sequence[str]) -> np.ndarray:
        """Stored vectors of these chunks, in the order asked (for MMR and cosine fill-in)."""
        return self.chroma.embeddings(ids)

    def dense_search(
        self, query_vec: np.ndarray, k: int, sources: Sequence[str] | None = None
    ) -> list[tuple[str, float]]:
        """Best-first (chunk id, cosine similarity) from Chroma."""
        dim = self.recorded_dimension()
        if dim and np.asarray(query_vec).shape[-1] != dim:
            raise IndexMismatchError(
                f"The query vector has {np.asarray(query_vec).shape[-1]} dimensions but the "
                f"index holds {dim}: the embedding model changed. Run `rag index --rebuild`."
            )
        return self.chroma.query(query_vec, k, sources)

    def bm25_search(
        self, query: str, k: int, sources: Sequence[str] | None = None
    ) -> list[tuple[str, float]]:
        """Best-first (chunk id, BM25 score), only chunks that match a query term."""
        self._follow_other_writers()
        return self.bm25.search(query, k, sources)

    def recorded_dimension(self) -> int:
        """The vector dimension the index was built with; 0 before the first vectors."""
        return int(self.chroma.recorded.get("dimension") or 0)

    def store_counts(self) -> StoreCounts:
        """How many chunks each store holds (they differ only after a crash)."""
        return StoreCounts(vectors=self.chroma.count(), keywords=len(self.bm25))

    def status(self) -> IndexStatus:
        recorded = self.chroma.recorded
        return IndexStatus(
            documents=len(self.sources()),
            chunks=self.count(),
            embedding_model=str(recorded.get("embedding_model", "")),
            dimension=int(recorded.get("dimension") or 0),
            chunk_tokens=int(recorded.get("chunk_tokens") or self.settings.chunk_tokens),
            chunk_overlap=int(recorded.get("chunk_overlap") or self.settings.chunk_overlap),
            last_indexed=last_indexed(self.settings.manifest_path),
            location=self.settings.chroma_url or str(self.settings.data_dir),
        )

    # ---------------------------------------------------------------- writing (pipeline)

    def check_embedder(self, dimension: int) -> None:
        """Refuse an embedder whose vectors do not fit this index, then record its dimension.

        Raises IndexMismatchError when the index was built with other embedding/chunker
        settings or another dimension.
        """
        self.chroma.check(self.settings, dimension)
        self.record_dimension(dimension)

    def record_dimension(self, dimension: int) -> None:
        """Record the vector dimension (for callers that add vectors they embedded)."""
        self.chroma.record_dimension(dimension)

    def replace_sources(
        self, sources: Iterable[str], chunks: Sequence[Chunk], vectors: np.ndarray
    ) -> None:
        """Remove every chunk of `sources` (by source, so orphans go too), add `chunks`.

        Chroma is written at once; the BM25 side changes in memory until `commit()`.
        """
        sources = sorted(set(sources))
        if sources:
            self.chroma.delete_sources(sources)
        if chunks:
            self.chroma.add(chunks, vectors)
        self.bm25.replace_sources(sources, chunks)

    def remove_sources(self, sources: Iterable[str]) -> None:
        """Remove every chunk of `sources` from both stores (BM25 in memory until `commit()`)."""
        empty = np.zeros((0, self.recorded_dimension()), dtype=np.float32)
        self.replace_sources(sources, [], empty)

    def commit(self) -> None:
        """Write the BM25 side (atomically)."""
        self.bm25.save()
        self._bm25_seen = self._bm25_stamp()

    def reconcile(self, expected: dict[str, set[str]]) -> set[str]:
        """Make Chroma hold exactly `expected` (source -> chunk ids) or less, after a crash.

        Sources whose stored ids differ from the expected ones are deleted from Chroma and
        returned, so the caller forgets them and indexes them again. The BM25 side is then
        rebuilt from Chroma's contents, so both stores agree.
        """
        stored = self.chroma.ids_by_source()
        stale = {s for s in stored if s not in expected}
        broken = {s for s, ids in expected.items() if set(stored.get(s, ())) != ids}
        if stale or broken:
            self.chroma.delete_sources(sorted(stale | broken))
        self.bm25 = BM25Store(self.bm25.folder, self.chroma.all_chunks())
        self.bm25.save()
        self._bm25_seen = self._bm25_stamp()
        return broken

    def drop(self) -> None:
        """Empty both stores (for --rebuild)."""
        self.chroma.drop()
        self.bm25 = BM25Store(self.bm25.folder)
        self.bm25.save()
        self._bm25_seen = self._bm25_stamp()


def open_index(settings: IndexSettings, *, check: bool = True, repair: bool = False) -> ChunkIndex:
    """Open (or create empty) the index described by `settings`.

    Raises IndexMismatchError when it was built with other embedding/chunker settings
    (unless check=False, which only `rag index --rebuild` uses), StoreError when unusable.
    With repair=True (the pipeline) an unreadable BM25 side opens empty, marked
    `needs_repair`, to be rebuilt from Chroma.
    """
    chroma = ChromaStore(settings)
    if check:
        chroma.check(settings)
    needs_repair = False
    try:
        bm25 = BM25Store.load(settings.bm25_dir)
    except Exception as err:
        if not repair:
            raise StoreError(
                f"Cannot read the BM25 index in {settings.bm25_dir} ({err}). "
                "Run `rag index` to repair it."
            ) from None
        bm25, needs_repair = BM25Store(settings.bm25_dir), True
    index = ChunkIndex(settings, chroma, bm25)
    index.needs_repair = needs_repair
    return index


def collection_names(settings: IndexSettings) -> list[str]:
    """'default' then the named collections of the data dir, sorted."""
    folder = settings.data_dir / COLLECTIONS_DIR
    named = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    return [DEFAULT_COLLECTION, *named]


def delete_collection(settings: IndexSettings, name: str) -> None:
    """Remove the named collection: its Chroma collection and its folder (BM25 index,
    manifest, uploads). The default collection cannot be deleted (ValueError); raises
    IndexBusyError while an indexing run holds its lock."""
    if name == DEFAULT_COLLECTION:
        raise ValueError("The default collection cannot be deleted.")
    target = settings.for_collection(name)
    if name not in collection_names(settings):
        raise ValueError(f"There is no collection {name!r}.")
    with locked(target):
        if target.chroma_url:
            store = ChromaStore(target)
            store._client.delete_collection(target.collection)
        else:  # the embedded store goes with the folder; forget this process's open handle
            _replace_cached_system(str(target.chroma_dir))
        shutil.rmtree(target.data_dir)
