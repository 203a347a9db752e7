"""Indexing figures for `rag bench`: throughput, the load/chunk/embed/store split, peak RSS.

Each measured run indexes into a fresh data dir of its own (never the user's index) through
the public entry points `index.pipeline.ingest` (files) and `index_documents` (BEIR docs),
with the embedding model already loaded (its load is not indexing). Peak RSS is sampled
with psutil every 20 ms during the run; it is the whole bench process, so it includes every
model loaded so far (the peer's too). This module does not time the peer (peer.py) or
search anything.
"""

from __future__ import annotations

import resource
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from evals.bench.results import IndexRun
from evals.bench.stats import rate
from index.config import IndexSettings
from index.types import Document, IngestReport


def rss_mb() -> float:
    """Resident memory of this process now, in MB (psutil; getrusage peak without it)."""
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


@dataclass
class PeakHolder:
    mb: float = 0.0


@contextmanager
def peak_rss(interval: float = 0.02) -> Iterator[PeakHolder]:
    """Yields a holder whose `.mb` is the highest RSS seen while the block ran."""
    holder = PeakHolder(rss_mb())
    done = threading.Event()

    def sample() -> None:
        while not done.wait(interval):
            holder.mb = max(holder.mb, rss_mb())

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield holder
    finally:
        done.set()
        thread.join()
        holder.mb = max(holder.mb, rss_mb())


def fresh_settings(base: IndexSettings, root: Path, name: str) -> IndexSettings:
    """Index settings pointing at a new, empty data dir `root/name`."""
    return base.model_copy(update={"data_dir": root / name})


def recorded_embedder(settings: IndexSettings) -> str:
    """The embedder name the index in `settings.data_dir` records (what its vectors are)."""
    from index.store import open_index

    return open_index(settings).status().embedding_model


def figures(
    report: IngestReport,
    seconds: float,
    load_s: float,
    peak_mb: float,
    embedder: str,
    skipped: int | None = None,
) -> IndexRun:
    """The figures of one indexing run."""
    timings = dict(report.timings)
    if load_s:
        timings["load"] = timings.get("load", 0.0) + load_s
    docs = report.added + report.updated
    chunks = report.embedded_chunks or report.chunks
    return IndexRun(
        embedder=embedder,
        documents=docs,
        chunks=chunks,
        seconds=round(seconds, 2),
        docs_per_s=rate(docs, seconds),
        chunks_per_s=rate(chunks, seconds),
        timings_s={k: round(timings.get(k, 0.0), 2) for k in ("load", "chunk", "embed", "store")},
        peak_rss_mb=round(peak_mb, 1),
        skipped=skipped,
    )


def index_files(paths: Sequence[Path], settings: IndexSettings) -> IndexRun:
    """Index files/folders from scratch into `settings.data_dir`; the run's figures."""
    from index.pipeline import ingest

    with peak_rss() as peak:
        started = time.perf_counter()
        report = ingest(list(paths), settings, rebuild=True)
        seconds = time.perf_counter() - started
    embedder = recorded_embedder(settings)
    return figures(report, seconds, 0.0, peak.mb, embedder, skipped=len(report.skipped))


def index_docs(
    documents: Sequence[Document], settings: IndexSettings, load_seconds: float = 0.0
) -> IndexRun:
    """Index documents into `settings.data_dir`; `load_seconds` (reading them) is added."""
    from index.pipeline import index_documents

    with peak_rss() as peak:
        started = time.perf_counter()
        report = index_documents(list(documents), settings)
        seconds = time.perf_counter() - started + load_seconds
    return figures(report, seconds, load_seconds, peak.mb, recorded_embedder(settings))
