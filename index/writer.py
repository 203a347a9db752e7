"""The one writer of an indexing run: chunk, embed in large batches, store, keep the manifest.

`Writer` receives documents that are new or changed (`offer`), sources to forget (`remove`)
and the outcome of every other document (`unchanged`, `skip`). It embeds and stores in
batches of at most `flush_size(settings)` chunks or `flush_tokens(settings)` tokens,
whichever comes first, swapping each document's chunks in by source in
both stores, and saves the manifest after every batch, so progress survives a crash.
A batch is embedded in one background thread while the caller loads and chunks the next
files; batches are stored in the caller's thread, in order, one embedding in flight, so a
failed embedding stores nothing of its batch. The dirty marker is written before the first
store write and removed at the clean end (`finish`). A progress bar, when given, also shows
chunks per second. This module does not find or read files, or repair the stores.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np

from index.chunking import chunk_document
from index.config import IndexSettings
from index.embedding import Embedder, get_embedder
from index.lock import dirty_marker
from index.manifest import FileRecord, Manifest
from index.store import ChunkIndex
from index.types import Chunk, Document, FileResult, IngestReport, Skipped
from index.walk import printable


def flush_size(settings: IndexSettings) -> int:
    """Chunks embedded and stored per step: large for speed, small enough to save progress."""
    return max(128, 8 * settings.embedding_batch_size)


def flush_tokens(settings: IndexSettings) -> int:
    """Tokens embedded per step at most: `flush_size` full-size chunks (a document's chunks
    may overshoot a little, since chunk sizes are targets)."""
    return flush_size(settings) * settings.chunk_tokens


@dataclass
class _Pending:
    record: FileRecord
    chunks: list[Chunk]
    status: Literal["added", "updated"]


@dataclass
class Writer:
    """Batches new/changed documents into both stores and keeps the manifest in step."""

    index: ChunkIndex
    manifest: Manifest
    settings: IndexSettings
    report: IngestReport
    flush_chunks: int = 1024
    pending: list[_Pending] = field(default_factory=list)
    seen: dict[str, str] = field(default_factory=dict)  # source -> where it came from
    changed: bool = False
    bar: Any = None  # a tqdm bar counting finished documents, when progress is shown
    _embedder: Embedder | None = None
    _in_flight: tuple[list[_Pending], list[Chunk], Future[np.ndarray]] | None = None
    _pool: ThreadPoolExecutor | None = None
    _pending_tokens: int = 0
    _started: float = field(default_factory=time.perf_counter)

    def __post_init__(self) -> None:
        for key in ("load", "chunk", "embed", "store"):
            self.report.timings.setdefault(key, 0.0)
        self.flush_token_limit = flush_tokens(self.settings)

    def add_time(self, key: str, since: float) -> None:
        """Count the time from `since` to now under `key` in the report's timings."""
        self.report.timings[key] += time.perf_counter() - since

    def claim(self, source: str, where: str) -> str | None:
        """Reserve a source name for this run; the reason to skip when it is taken."""
        if source in self.seen:
            return (
                f"another document with the same name was indexed in this run ({self.seen[source]})"
            )
        self.seen[source] = where
        return None

    def advance(self, n: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def skip(self, source: str, shown: str, reason: str) -> None:
        shown, source = printable(shown), printable(source)
        self.report.skipped.append(Skipped(shown, reason))
        self.report.files.append(FileResult(source, "skipped", reason=reason))
        self.advance()

    def unchanged(self, source: str) -> None:
        self.report.unchanged += 1
        record = self.manifest.files.get(source)
        chunks = len(record.chunk_ids) if record else 0
        self.report.files.append(FileResult(source, "unchanged", chunks))
        self.advance()

    def offer(self, doc: Document, record: FileRecord, shown: str) -> None:
        started = time.perf_counter()
        try:
            chunks = chunk_document(doc, self.settings.chunk_tokens, self.settings.chunk_overlap)
        except Exception as err:  # one document's bug must not end the run for the others
            self.skip(doc.source, shown, f"could not be chunked ({type(err).__name__}: {err})")
            return
        finally:
            self.add_time("chunk", started)
        if not chunks:
            self.skip(doc.source, shown, "no text to index")
            return
        record.chunk_ids = [c.id for c in chunks]
        status: Literal["added", "updated"] = (
            "updated" if doc.source in self.manifest.files else "added"
        )
        self.pending.append(_Pending(record, chunks, status))
        self._pending_tokens += sum(c.n_tokens for c in chunks)
        pending_chunks = sum(len(p.chunks) for p in self.pending)
        if pending_chunks >= self.flush_chunks or self._pending_tokens >= self.flush_token_limit:
            self.flush(wait=False)

    def _begin_write(self) -> None:
        if not self.changed:
            dirty_marker(self.settings).touch()
            self.changed = True

    def _embedder_for_writing(self) -> Embedder:
        if self._embedder is None:
            self._embedder = get_embedder(self.settings)
            self.index.check_embedder(self._embedder.dim)
        return self._embedder

    def _embed(self, embedder: Embedder, chunks: list[Chunk]) -> np.ndarray:
        started = time.perf_counter()  # in the background thread: overlaps load and chunk
        try:
            return embedder.embed_documents([c.text for c in chunks])
        finally:
            self.add_time("embed", started)

    def flush(self, wait: bool = True) -> None:
        """Send the pending documents to be embedded; with `wait`, store everything sent."""
        if self.pending:
            batch, self.pending, self._pending_tokens = self.pending, [], 0
            chunks = [c for p in batch for c in p.chunks]
            started = time.perf_counter()  # loading the model and checking the index
            embedder = self._embedder_for_writing()
            self.add_time("embed", started)
            previous = self._in_flight
            if previous is not None:  # one embedding in flight: this batch waits its turn
                self._in_flight = None
                self._store(*previous)
            if self._pool is None:
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="rag-embed")
            self._in_flight = (batch, chunks, self._pool.submit(self._embed, embedder, chunks))
        if wait and self._in_flight is not None:
            previous, self._in_flight = self._in_flight, None
            self._store(*previous)

    def _store(
        self, batch: list[_Pending], chunks: list[Chunk], embedding: Future[np.ndarray]
    ) -> None:
        vectors = embedding.result()  # an EmbeddingError surfaces here, before any write
        self._begin_write()
        started = time.perf_counter()
        self.index.replace_sources([p.record.source for p in batch], chunks, vectors)
        stored_at = datetime.now(UTC).isoformat(timespec="seconds")
        for p in batch:
            p.record.indexed_at = stored_at
            self.manifest.files[p.record.source] = p.record
            self.report.files.append(FileResult(p.record.source, p.status, len(p.chunks)))
            if p.status == "added":
                self.report.added += 1
            else:
                self.report.updated += 1
        self.report.embedded_chunks += len(chunks)
        if self.bar is not None:
            elapsed = time.perf_counter() - self._started
            self.bar.set_postfix_str(f"{self.report.embedded_chunks / elapsed:.1f} chunks/s")
        self.advance(len(batch))
        self.manifest.touch()
        self.manifest.save(self.settings.manifest_path)
        self.add_time("store", started)

    def remove(self, sources: Sequence[str]) -> None:
        if not sources:
            return
        self.flush()
        self._begin_write()
        started = time.perf_counter()
        self.index.remove_sources(sources)
        for source in sources:
            record = self.manifest.files.pop(source)
            self.report.files.append(FileResult(source, "removed", len(record.chunk_ids)))
        self.report.removed += len(sources)
        self.manifest.touch()
        self.manifest.save(self.settings.manifest_path)
        self.add_time("store", started)

    def finish(self, started: float) -> IngestReport:
        self.flush()
        if self._pool is not None:
            self._pool.shutdown()
        marker = dirty_marker(self.settings)
        if self.changed or marker.exists():
            begun = time.perf_counter()
            self.index.commit()
            self.manifest.save(self.settings.manifest_path)
            self.add_time("store", begun)
            marker.unlink(missing_ok=True)
        elif self.manifest.files:
            self.manifest.save(self.settings.manifest_path)  # refreshed mtimes
        self.report.documents = len(self.index.sources())
        self.report.chunks = self.index.count()
        self.report.seconds = time.perf_counter() - started
        return self.report
