"""Ingest: walk paths, load, clean, chunk, embed and store documents, incrementally and safely.

`ingest(paths, settings)` indexes files and folders; `index_documents(documents, settings)`
indexes already-built `Document`s (BEIR, SQuAD). Both go through one writer: unchanged
documents (same content hash) are skipped, new or changed ones are chunked, embedded in large
batches and swapped in by source in both stores, and the manifest is saved after every batch.
Files that disappeared from a walked folder lose their chunks; files that cannot be read are
reported with the reason and keep whatever they had in the index.

Crash safety: a `index.dirty` marker is written before the first write and removed at the
clean end. When a run finds it (or stores that disagree), it first reconciles Chroma with the
manifest and rebuilds BM25 from Chroma, so a SIGKILL at any moment costs only re-work.
A file lock makes a second concurrent run fail at once with a clear message.
This module does not parse file formats (loaders), clean or chunk text itself.
"""

from __future__ import annotations

import errno
import hashlib
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock, Timeout

from index.chunking import chunk_document
from index.clean import clean_document
from index.config import IndexSettings
from index.embedding import Embedder, get_embedder
from index.loaders import SUPPORTED_SUFFIXES, LoadError, load_file
from index.manifest import FileRecord, Manifest
from index.store import ChunkIndex, open_index
from index.types import Chunk, Document, FileResult, IndexStatus, IngestReport, Skipped

DIRTY_MARKER = "index.dirty"
_LOCK_TIMEOUT = 2.0  # seconds to wait for another run before giving up


class IndexBusyError(RuntimeError):
    """Another `rag index` holds the lock on this data dir."""


# ------------------------------------------------------------------ locking and the marker


@contextmanager
def _locked(settings: IndexSettings) -> Iterator[None]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(settings.lock_path), timeout=_LOCK_TIMEOUT)
    try:
        lock.acquire()
    except Timeout:
        raise IndexBusyError(
            f"Another `rag index` is updating {settings.data_dir} right now "
            f"(lock {settings.lock_path}); wait for it to finish and run again."
        ) from None
    try:
        yield
    finally:
        lock.release()


def _marker(settings: IndexSettings) -> Path:
    return settings.data_dir / DIRTY_MARKER


def _open(settings: IndexSettings, rebuild: bool) -> tuple[ChunkIndex, Manifest]:
    """Open the stores for writing, repairing them first if a previous run died midway."""
    index = open_index(settings, check=not rebuild, repair=True)
    marker = _marker(settings)
    if rebuild:
        marker.touch()
        index.drop()
        manifest = Manifest()
        manifest.touch()
        manifest.save(settings.manifest_path)
        return index, manifest
    manifest = Manifest.load(settings.manifest_path)
    expected = sum(len(r.chunk_ids) for r in manifest.files.values())
    chroma_count = index.chroma.count()
    if (
        marker.exists()
        or index.needs_repair
        or not manifest.readable
        or chroma_count != len(index.bm25)
        or chroma_count != expected
    ):
        marker.touch()
        broken = index.reconcile(manifest.chunk_ids())
        for source in broken:
            manifest.files.pop(source, None)
        manifest.save(settings.manifest_path)
    return index, manifest


# ------------------------------------------------------------------ the one writer


def _flush_size(settings: IndexSettings) -> int:
    """Chunks embedded and stored per step: large for speed, small enough to save progress."""
    return max(128, 8 * settings.embedding_batch_size)


@dataclass
class _Pending:
    record: FileRecord
    chunks: list[Chunk]
    status: str  # "added" or "updated"


@dataclass
class _Writer:
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

    def __post_init__(self) -> None:
        for key in ("load", "chunk", "embed", "store"):
            self.report.timings.setdefault(key, 0.0)

    def _time(self, key: str, since: float) -> None:
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
        shown, source = _printable(shown), _printable(source)
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
            self._time("chunk", started)
        if not chunks:
            self.skip(doc.source, shown, "no text to index")
            return
        record.chunk_ids = [c.id for c in chunks]
        status = "updated" if doc.source in self.manifest.files else "added"
        self.pending.append(_Pending(record, chunks, status))
        if sum(len(p.chunks) for p in self.pending) >= self.flush_chunks:
            self.flush()

    def _begin_write(self) -> None:
        if not self.changed:
            _marker(self.settings).touch()
            self.changed = True

    def _embedder_for_writing(self) -> Embedder:
        if self._embedder is None:
            self._embedder = get_embedder(self.settings)
            self.index.chroma.check(self.settings, self._embedder.dim)
            self.index.chroma.record_dimension(self._embedder.dim)
        return self._embedder

    def flush(self) -> None:
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        chunks = [c for p in batch for c in p.chunks]
        started = time.perf_counter()  # the first batch also pays for loading the model
        embedder = self._embedder_for_writing()
        vectors = embedder.embed_documents([c.text for c in chunks])
        self._time("embed", started)
        self._begin_write()
        started = time.perf_counter()
        self.index.replace_sources([p.record.source for p in batch], chunks, vectors)
        for p in batch:
            self.manifest.files[p.record.source] = p.record
            self.report.files.append(FileResult(p.record.source, p.status, len(p.chunks)))
            if p.status == "added":
                self.report.added += 1
            else:
                self.report.updated += 1
        self.report.embedded_chunks += len(chunks)
        self.advance(len(batch))
        self.manifest.touch()
        self.manifest.save(self.settings.manifest_path)
        self._time("store", started)

    def remove(self, sources: Sequence[str]) -> None:
        if not sources:
            return
        self._begin_write()
        started = time.perf_counter()
        dim = int(self.index.chroma.recorded.get("dimension") or 0)
        self.index.replace_sources(sources, [], np.zeros((0, dim), dtype=np.float32))
        for source in sources:
            record = self.manifest.files.pop(source)
            self.report.files.append(FileResult(source, "removed", len(record.chunk_ids)))
        self.report.removed += len(sources)
        self.manifest.touch()
        self.manifest.save(self.settings.manifest_path)
        self._time("store", started)

    def finish(self, started: float) -> IngestReport:
        self.flush()
        marker = _marker(self.settings)
        if self.changed or marker.exists():
            begun = time.perf_counter()
            self.index.commit()
            self.manifest.save(self.settings.manifest_path)
            self._time("store", begun)
            marker.unlink(missing_ok=True)
        elif self.manifest.files:
            self.manifest.save(self.settings.manifest_path)  # refreshed mtimes
        self.report.documents = len(self.index.sources())
        self.report.chunks = self.index.count()
        self.report.seconds = time.perf_counter() - started
        return self.report


# ------------------------------------------------------------------ files


@dataclass(frozen=True)
class _Candidate:
    path: Path  # as reached from the user's argument (for messages)
    source: str
    root: str  # resolved root the source is relative to ("" for a single file argument)


def _suffixes() -> set[str]:
    return {"." + s.lower().lstrip(".") for s in SUPPORTED_SUFFIXES}


def _walk(root: Path, writer: _Writer) -> Iterator[_Candidate]:
    """Files under `root` (recursively), hidden folders skipped, symlink loops reported."""
    root_key = str(root.resolve())
    visited: set[tuple[int, int]] = set()
    stack: list[tuple[Path, str]] = [(root, "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            st = folder.stat()
            if (st.st_dev, st.st_ino) in visited:
                reason = "symlink loop: leads back to a folder already indexed"
                writer.skip(prefix.rstrip("/"), str(folder), reason)
                continue
            visited.add((st.st_dev, st.st_ino))
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as err:
            writer.skip(prefix.rstrip("/") or str(folder), str(folder), _os_reason(err))
            continue
        subfolders = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path, source = Path(entry.path), f"{prefix}{entry.name}"
            try:
                is_dir, is_file = entry.is_dir(), entry.is_file()
                if not (is_dir or is_file) and entry.is_symlink():
                    os.stat(entry.path)  # raises the reason: loop or dangling link
            except OSError as err:
                writer.skip(source, str(path), _os_reason(err))
                continue
            if is_dir:
                subfolders.append((path, source + "/"))
            elif is_file:
                yield _Candidate(path, source, root_key)
        stack.extend(reversed(subfolders))


def _printable(name: str) -> str:
    """A file name that can be printed and stored as UTF-8 (undecodable bytes escaped)."""
    try:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return name.encode("utf-8", "backslashreplace").decode("utf-8")


def _os_reason(err: OSError) -> str:
    if err.errno == errno.ELOOP:
        return "symlink loop"
    if isinstance(err, FileNotFoundError):
        return "file vanished during the run (or a broken symlink)"
    if isinstance(err, PermissionError):
        return "permission denied"
    return f"cannot read: {err.strerror or err}"


def _read_candidate(
    cand: _Candidate, writer: _Writer, suffixes: set[str]
) -> tuple[Document, FileRecord] | None:
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
    if cand.path.suffix.lower() not in suffixes:
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
            fresh.chunk_ids = record.chunk_ids
            manifest.files[cand.source] = fresh
            writer.unchanged(cand.source)
            return None
        raw = load_file(cand.path, cand.source, max_bytes)
        doc = clean_document(raw, digest)
    except LoadError as err:
        writer.skip(cand.source, shown, str(err) or "could not be loaded")
        return None
    except OSError as err:
        writer.skip(cand.source, shown, _os_reason(err))
        return None
    except Exception as err:  # a cleaning bug must not end the run for every other file
        writer.skip(cand.source, shown, f"could not be processed ({type(err).__name__}: {err})")
        return None
    finally:
        writer._time("load", started)
    return doc, fresh


@contextmanager
def _progress(writer: _Writer, enabled: bool, total: int | None) -> Iterator[None]:
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


def ingest(
    paths: Sequence[Path],
    settings: IndexSettings,
    *,
    rebuild: bool = False,
    progress: bool = False,
) -> IngestReport:
    """Index files and folders (recursively) into the stores; see the module docstring."""
    started = time.perf_counter()
    report = IngestReport()
    with _locked(settings):
        index, manifest = _open(settings, rebuild)
        writer = _Writer(index, manifest, settings, report, _flush_size(settings))
        candidates: list[_Candidate] = []
        walked_roots: list[str] = []
        for given in paths:
            path = Path(given)
            if not path.exists() and not path.is_symlink():
                writer.skip(str(path), str(path), "path does not exist")
            elif path.is_dir():
                walked_roots.append(str(path.resolve()))
                candidates.extend(_walk(path, writer))
            elif path.is_file():
                candidates.append(_Candidate(path, path.name, ""))
            else:
                try:
                    os.stat(path)
                    reason = "not a regular file or folder"
                except OSError as err:
                    reason = _os_reason(err)
                writer.skip(str(path), str(path), reason)
        suffixes = _suffixes()
        with _progress(writer, progress, len(candidates)):
            for cand in candidates:
                found = _read_candidate(cand, writer, suffixes)
                if found is not None:
                    writer.offer(found[0], found[1], str(cand.path))
            writer.flush()
        seen = {(c.root, c.source) for c in candidates}
        gone = [
            source
            for root in walked_roots
            for source in manifest.sources_under(root)
            if (root, source) not in seen
        ]
        writer.remove(sorted(gone))
        return writer.finish(started)


def index_documents(
    documents: Iterable[Document],
    settings: IndexSettings,
    *,
    progress: bool = False,
) -> IngestReport:
    """Index documents that were not read from files, upserting by source + content hash."""
    started = time.perf_counter()
    report = IngestReport()
    with _locked(settings):
        index, manifest = _open(settings, rebuild=False)
        writer = _Writer(index, manifest, settings, report, _flush_size(settings))
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
