"""Indexing figures for `rag bench`: throughput, the load/chunk/embed/store split, peak RSS.

Each measured run indexes into a fresh data dir of its own (never the user's index) through
the public entry points `index.pipeline.ingest` (files) and `index_documents` (BEIR docs),
with the embedding model already loaded (its load is not indexing). Peak RSS is sampled
with psutil every 20 ms during the run (the whole process, so it includes the loaded model);
the process-lifetime peak from getrusage is reported beside it.
This module does not time the peer (bench_peer.py) or search anything.
"""

from __future__ import annotations

import resource
import threading
import time
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.config import IndexSettings
from index.types import Document, IngestReport


def rss_mb() -> float:
    """Resident memory of this process now, in MB (psutil; getrusage peak without it)."""
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:
        return lifetime_peak_mb()


def lifetime_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


@dataclass
class _Peak:
    mb: float = 0.0


@contextmanager
def peak_rss(interval: float = 0.02):
    """Yields a holder whose `.mb` is the highest RSS seen while the block ran."""
    holder = _Peak(rss_mb())
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


def figures(report: IngestReport, seconds: float, load_s: float, peak_mb: float) -> dict[str, Any]:
    """The JSON figures of one indexing run."""
    timings = dict(report.timings)
    if load_s:
        timings["load"] = timings.get("load", 0.0) + load_s
    docs = report.added + report.updated
    return {
        "documents": docs,
        "chunks": report.embedded_chunks or report.chunks,
        "seconds": round(seconds, 2),
        "docs_per_s": round(docs / seconds, 1) if seconds else None,
        "chunks_per_s": round((report.embedded_chunks or report.chunks) / seconds, 1)
        if seconds
        else None,
        "timings_s": {
            k: round(timings.get(k, 0.0), 2) for k in ("load", "chunk", "embed", "store")
        },
        "peak_rss_mb": round(peak_mb, 1),
    }


def index_files(paths: Sequence[Path], settings: IndexSettings) -> dict[str, Any]:
    """Index files/folders from scratch into `settings.data_dir`; the run's figures."""
    from index.pipeline import ingest

    with peak_rss() as peak:
        started = time.perf_counter()
        report = ingest(list(paths), settings, rebuild=True)
        seconds = time.perf_counter() - started
    out = figures(report, seconds, 0.0, peak.mb)
    out["skipped"] = len(report.skipped)
    return out


def index_docs(
    documents: Sequence[Document], settings: IndexSettings, load_seconds: float = 0.0
) -> dict[str, Any]:
    """Index documents into `settings.data_dir`; `load_seconds` (reading them) is added."""
    from index.pipeline import index_documents

    with peak_rss() as peak:
        started = time.perf_counter()
        report = index_documents(list(documents), settings)
        seconds = time.perf_counter() - started + load_seconds
    return figures(report, seconds, load_seconds, peak.mb)


def scifact_subset(data: Any, max_docs: int | None, max_queries: int | None) -> Any:
    """A smaller BeirData: the first queries, their judged documents, then others to fill.

    With no limits the data is returned as is. Judged documents are always kept so the
    subset's nDCG still means something (it is higher than on the full corpus: fewer
    distractors).
    """
    from evals.beir import BeirData

    if not max_docs and not max_queries:
        return data
    qids = list(data.queries)[: max_queries or None]
    keep: dict[str, None] = {}
    for q in qids:
        keep.update(dict.fromkeys(data.qrels[q]))
    for doc_id in data.corpus:
        if max_docs and len(keep) >= max_docs:
            break
        keep.setdefault(doc_id, None)
    corpus = {d: data.corpus[d] for d in keep if d in data.corpus}
    return BeirData(
        name=f"{data.name}-subset{len(corpus)}",
        corpus=corpus,
        queries={q: data.queries[q] for q in qids},
        qrels={q: data.qrels[q] for q in qids},
        fingerprint=f"{data.fingerprint}:{len(corpus)}:{len(qids)}",
    )
