"""One indexed document at a time: list them, read one back, remove one, re-index one.

`list_documents(settings)` describes every document the manifest records (title, file, type,
pages, chunks, when indexed, size), `document_text(index, source)` rebuilds a document's
cleaned text from its stored chunks (the same character offsets as the chunks and the
citations, so a cited span can be highlighted in it). `remove_documents` takes documents out
of Chroma, BM25 and the manifest and nothing else; `reindex_document` reads one file again
and replaces its chunks, even when it did not change. Both hold the data dir's lock and go
through the indexing run's writer, so a crash midway is repaired like any other run.
This module does not walk folders, and it never touches the files it indexed.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from index.clean import clean_document
from index.config import IndexSettings
from index.loaders import LoadError, load_file
from index.lock import locked
from index.manifest import FileRecord, Manifest
from index.reconcile import open_for_writing
from index.store import ChunkIndex
from index.types import Chunk, FileResult, IngestReport
from index.writer import Writer, flush_size


class DocumentError(RuntimeError):
    """A document cannot be removed or re-indexed; the message says why."""


@dataclass(frozen=True)
class DocumentInfo:
    """One row of the document library."""

    source: str
    title: str
    kind: str  # the file type ("txt", "pdf", ...), "text" for documents not read from a file
    pages: int | None  # the last page a chunk starts on, for paginated formats
    chunks: int
    indexed_at: str  # ISO time, "" when the manifest predates the field
    size: int  # bytes of the file, 0 when not read from a file
    path: str


@dataclass(frozen=True)
class DocumentText:
    """A document's cleaned text as the index holds it, with its chunks."""

    source: str
    title: str
    text: str
    chunks: tuple[Chunk, ...]


def _kind(record: FileRecord) -> str:
    suffix = PurePosixPath(record.path or record.source).suffix.lower().lstrip(".")
    return suffix or "text"


def list_documents(settings: IndexSettings, index: ChunkIndex) -> list[DocumentInfo]:
    """Every document the manifest records, by source name."""
    manifest = Manifest.load(settings.manifest_path)
    rows = []
    for source in sorted(manifest.files):
        record = manifest.files[source]
        chunks = index.chunks_of(source)
        pages = [c.page for c in chunks if c.page is not None]
        rows.append(
            DocumentInfo(
                source=source,
                title=chunks[0].title if chunks else source,
                kind=_kind(record),
                pages=max(pages) if pages else None,
                chunks=len(chunks),
                indexed_at=record.indexed_at,
                size=record.size,
                path=record.path,
            )
        )
    return rows


def document_text(index: ChunkIndex, source: str) -> DocumentText | None:
    """The cleaned text rebuilt from the chunks (None when the document is not indexed).

    Chunks overlap and cover the text; a gap between two chunks (white space the chunker
    skipped, usually a paragraph break) is filled with as many white-space characters, a
    paragraph break first when it is long enough, so offsets stay those of the original text.
    """
    chunks = sorted(index.chunks_of(source), key=lambda c: (c.start, c.position))
    if not chunks:
        return None
    parts: list[str] = []
    cursor = 0
    for chunk in chunks:
        if chunk.start > cursor:
            gap = chunk.start - cursor
            parts.append("\n\n" + " " * (gap - 2) if gap >= 2 else " ")
            cursor = chunk.start
        if chunk.end > cursor:
            parts.append(chunk.text[cursor - chunk.start :])
            cursor = chunk.end
    return DocumentText(source, chunks[0].title or source, "".join(parts), tuple(chunks))


def _record(manifest: Manifest, source: str) -> FileRecord:
    record = manifest.files.get(source)
    if record is None:
        raise DocumentError(f"'{source}' is not in the index (removed meanwhile?).")
    return record


def remove_documents(settings: IndexSettings, sources: list[str]) -> list[FileResult]:
    """Remove these documents' chunks from both stores and their manifest records.

    Raises DocumentError for a source that is not indexed (nothing is removed then), and
    IndexBusyError when another run holds the lock.
    """
    started = time.perf_counter()
    with locked(settings):
        index, manifest = open_for_writing(settings, rebuild=False)
        for source in sources:
            _record(manifest, source)
        writer = Writer(index, manifest, settings, IngestReport(), flush_size(settings))
        writer.remove(sorted(set(sources)))
        return writer.finish(started).files


def reindex_document(settings: IndexSettings, source: str) -> FileResult:
    """Read one indexed file again and replace its chunks (also when it did not change).

    Raises DocumentError when the document was not read from a file, the file is gone or
    cannot be read (its chunks stay as they were), IndexBusyError when the lock is held.
    """
    started = time.perf_counter()
    with locked(settings):
        index, manifest = open_for_writing(settings, rebuild=False)
        record = _record(manifest, source)
        if not record.path:
            raise DocumentError(
                f"'{source}' was not read from a file: index it again the way it was added."
            )
        path = Path(record.path)
        try:
            data = path.read_bytes()
            st = path.stat()
            raw = load_file(path, source, int(settings.max_file_mb * 1024 * 1024))
        except FileNotFoundError:
            raise DocumentError(f"The file {path} is gone; delete the document instead.") from None
        except (OSError, LoadError) as err:
            raise DocumentError(f"Cannot read {path}: {err}") from None
        digest = hashlib.sha256(data).hexdigest()
        fresh = FileRecord(source, digest, [], record.root, record.path, st.st_size, st.st_mtime_ns)
        writer = Writer(index, manifest, settings, IngestReport(), flush_size(settings))
        writer.offer(clean_document(raw, digest), fresh, str(path))
        report = writer.finish(started)
        return next(
            (f for f in report.files if f.source == source), FileResult(source, "unchanged")
        )
