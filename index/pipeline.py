"""Ingest: walk paths, load, clean, chunk, embed and store documents, incrementally and safely.

`ingest(paths, settings)` indexes files and folders; `index_documents(documents, settings)`
indexes already-built `Document`s (BEIR, SQuAD). Both go through one writer: unchanged
documents (same content hash) are skipped, new or changed ones are chunked, embedded in large
batches and swapped in by source in both stores, and the manifest is saved after every batch.
Files that disappeared from a walked folder lose their chunks; files that cannot be read are
reported with the reason and keep whatever they had in the index.

A run holds the data dir's lock (a concurrent run fails at once with `IndexBusyError`) and
first repairs what a crashed run left (`index.reconcile`), so a SIGKILL at any moment costs
only re-work. This module wires the steps together and decides, per file, whether it is
unchanged; finding files (`index.walk`), writing (`index.writer`), locking (`index.lock`),
parsing formats (`index.loaders`), cleaning and chunking live elsewhere.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from index.clean import clean_document
from index.config import IndexSettings
from index.documents import (
    DocumentError,
    DocumentInfo,
    document_text,
    list_documents,
    reindex_document,
    remove_documents,
)
from index.loaders import SUPPORTED_SUFFIXES, LoadError, load_file
from index.lock import DIRTY_MARKER, IndexBusyError, locked
from index.manifest import FileRecord
from index.reconcile import open_for_writing, vanished
from index.store import open_index
from index.types import Document, IndexStatus, IngestReport
from index.walk import Candidate, collect, os_reason
from index.writer import Writer, flush_size

__all__ = [
    "DIRTY_MARKER",
    "DocumentError",
    "DocumentInfo",
    "IndexBusyError",
    "document_text",  # one document at a time: index.documents
    "index_documents",
    "index_status",
    "ingest",
    "list_documents",
    "reindex_document",
    "remove_documents",
]


def ingest(
    paths: Sequence[Path],
    settings: IndexSettings,
    *,
    rebuild: bool = False,
    progress: bool = False,
) -> IngestReport:
    """Index files and folders (recursively) into the stores; see the module docstring."""
    started = time.perf_counter()
    with locked(settings):
        index, manifest = open_for_writing(settings, rebuild)
        writer = Writer(index, manifest, settings, IngestReport(), flush_size(settings))
        found = collect(paths, writer.skip)
        with _progress(writer, progress, len(found.candidates)):
            for cand in found.candidates:
                read = _read_candidate(cand, writer)
                if read is not None:
                    writer.offer(read[0], read[1], str(cand.path))
            writer.flush()
        writer.remove(vanished(manifest, found.roots, found.candidates))
        return writer.finish(started)


def index_documents(
    documents: Iterable[Document],
    settings: IndexSettings,
    *,
    progress: bool = False,
) -> IngestReport:
    """Index documents that were not read from files, upserting by source + content hash."""
    started = time.perf_counter()
    with locked(settings):
        index, manifest = open_for_writing(settings, rebuild=False)
        writer = Writer(index, manifest, settings, IngestReport(), flush_size(settings))
        total = len(documents) if isinstance(documents, Sequence) else None
        with _progress(writer, progress, total):
            for doc in documents:
                taken = writer.claim(doc.source, doc.path or doc.source)
                if taken:
                    writer.skip(doc.source, doc.source, taken)
                    continue
                record = manifest.files.get(doc.source)
                if record and record.sha256 == doc.content_hash:
                    writer.unchanged(doc.source)
                    continue
                fresh = FileRecord(doc.source, doc.content_hash, [], path=doc.path)
                writer.offer(doc, fresh, doc.source)
            writer.flush()
        return writer.finish(started)


def index_status(settings: IndexSettings) -> IndexStatus:
    """What the index holds now (documents, chunks, model, chunker settings, last run)."""
    return open_index(settings, check=False).status()


def _read_candidate(cand: Candidate, writer: Writer) -> tuple[Document, FileRecord] | None:
    """The cleaned document of a new or changed file; None when unchanged or skipped."""
    settings, manifest = writer.settings, writer.manifest
    shown = str(cand.path)
    taken = writer.claim(cand.source, shown)
    if taken:
        writer.skip(cand.source, shown, taken)
        return None
    try:
        cand.source.encode("utf-8")
    except UnicodeEncodeError:
        writer.skip(cand.source, shown, "file name is not valid UTF-8; rename the file")
        return None
    if cand.path.suffix.lower() not in SUPPORTED_SUFFIXES:
        kind = cand.path.suffix or "no extension"
        writer.skip(cand.source, shown, f"unsupported file type {kind}")
        return None
    max_bytes = int(settings.max_file_mb * 1024 * 1024)
    started = time.perf_counter()
    try:
        st = cand.path.stat()
        if st.st_size > max_bytes:
            size_mb = st.st_size / 1024 / 1024
            writer.skip(
                cand.source,
                shown,
                f"file too large ({size_mb:.1f} MB, limit {settings.max_file_mb:g} MB)",
            )
            return None
        if st.st_size == 0:
            writer.skip(cand.source, shown, "empty file")
            return None
        abspath = str(cand.path.absolute())
        record = manifest.files.get(cand.source)
        if record and record.path == abspath and record.same_stat(st.st_size, st.st_mtime_ns):
            writer.unchanged(cand.source)
            return None
        digest = hashlib.sha256(cand.path.read_bytes()).hexdigest()
        root = cand.root or (record.root if record and record.path == abspath else "")
        fresh = FileRecord(cand.source, digest, [], root, abspath, st.st_size, st.st_mtime_ns)
        if record and record.sha256 == digest:
            fresh.chunk_ids, fresh.indexed_at = record.chunk_ids, record.indexed_at
            manifest.files[cand.source] = fresh
            writer.unchanged(cand.source)
            return None
        raw = load_file(cand.path, cand.source, max_bytes)
        doc = clean_document(raw, digest)
    except LoadError as err:
        writer.skip(cand.source, shown, str(err) or "could not be loaded")
        return None
    except OSError as err:
        writer.skip(cand.source, shown, os_reason(err))
        return None
    except Exception as err:  # a cleaning bug must not end the run for every other file
        writer.skip(cand.source, shown, f"could not be processed ({type(err).__name__}: {err})")
        return None
    finally:
        writer.add_time("load", started)
    return doc, fresh


@contextmanager
def _progress(writer: Writer, enabled: bool, total: int | None) -> Iterator[None]:
    """A bar of finished documents (indexed, unchanged or skipped) on stderr."""
    if not enabled:
        yield
        return
    from tqdm import tqdm

    with tqdm(total=total, desc="Indexing", unit="doc", leave=False) as bar:
        writer.bar = bar
        try:
            yield
        finally:
            writer.bar = None
