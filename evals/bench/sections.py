"""The sections of `rag bench`, each one function from settings and data to typed figures.

`corpus` and `scifact` index (ours against the LangChain peer, alternating) and measure
retrieval on SciFact; `embedding` compares the embedding backends; `scale` builds (or reuses)
the large collection and times search on it; `answers` times answers, `rag ask`'s cold start
and `rag serve`'s memory. Each builds its indexes in the run folder it is given. The order,
the skipping and the error handling live in run.py; the measuring in the modules named here.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from evals.bench import indexing as bi
from evals.bench.options import BenchOptions
from evals.bench.results import Answers, Embedding, Indexing, IndexRun, Latency, Quality, Scale
from evals.bench.stats import median, ratio
from evals.datasets.beir import BeirData
from index.config import IndexSettings
from index.embedding import Embedder
from index.types import Document

Log = Callable[[str], None]


def peer_embeddings() -> Any:
    from evals.bench import langchain_peer

    return langchain_peer.load_embeddings()


def corpus(
    paths: Sequence[Path],
    settings: IndexSettings,
    root: Path,
    peer_embeddings: Any,
    options: BenchOptions,
    log: Log,
) -> Indexing:
    """Ours and the peer on the default corpus, alternating `reps` times; medians."""
    from evals.bench.peer import peer_index

    ours: list[IndexRun] = []
    peers: list[IndexRun] = []
    for rep in range(options.reps):
        log(f"indexing the default corpus ({', '.join(map(str, paths))}), run {rep + 1}")
        target = settings if rep == 0 else bi.fresh_settings(settings, root, f"corpus-{rep}")
        ours.append(bi.index_files(paths, target))  # the first run's index answers later
        if peer_embeddings is not None:
            started = time.perf_counter()
            docs = _read_plain(paths, settings)
            load_s = time.perf_counter() - started
            log(f"indexing the default corpus with the LangChain peer, run {rep + 1}")
            folder = root / f"corpus-peer-{rep}"
            peers.append(peer_index(docs, folder, peer_embeddings, load_s)[1])
    runs = {"ours": [r.seconds for r in ours]}
    if not peers:
        return Indexing(ours=ours[-1], runs=runs)
    runs["peer"] = [r.seconds for r in peers]
    return Indexing(
        ours=ours[-1],
        peer=peers[-1],
        runs=runs,
        speedup_vs_peer=ratio(median(runs["peer"]), median(runs["ours"])),
    )


def _read_plain(paths: Sequence[Path], settings: IndexSettings) -> list[Document]:
    """The corpus files as the peer gets them: our loaders' text, one document per file."""
    from index.loaders import SUPPORTED_SUFFIXES, LoadError, load_file

    docs = []
    for folder in paths:
        files = [folder] if folder.is_file() else sorted(folder.rglob("*"))
        for f in files:
            if f.suffix.lower() in SUPPORTED_SUFFIXES:
                try:
                    raw = load_file(f, f.name, int(settings.max_file_mb * 2**20))
                except LoadError:
                    continue
                docs.append(_plain_document(raw.source, raw.text))
    return docs


def _plain_document(source: str, text: str) -> Document:
    return Document(
        path="", source=source, text=text, title=source, date=None, kind="txt", content_hash=""
    )


def scifact(
    docs: Sequence[Document],
    data: BeirData,
    base: IndexSettings,
    root: Path,
    peer_embeddings: Any,
    embedder: Embedder,
    settings: Any,
    options: BenchOptions,
    load_s: float,
    log: Log,
) -> tuple[Indexing, dict[str, Quality], Latency]:
    """SciFact indexed by ours (and the peer); quality per mode; latency at its scale."""
    import dataclasses

    from evals.bench import peer as bp
    from evals.bench import retrieval as br
    from index.store import open_index

    queries = list(data.queries.values())
    if peer_embeddings is not None:
        ours_settings, peer, indexing = bp.compare_indexing(
            docs, base, root, peer_embeddings, options.reps, "scifact", load_s, log
        )
    else:
        peer = None
        ours_settings = bi.fresh_settings(base, root, "scifact-ours")
        log("indexing SciFact")
        indexing = Indexing(ours=bi.index_docs(docs, ours_settings, load_s))
    indexing = dataclasses.replace(
        indexing, dataset=data.name, documents=len(docs), queries=len(queries)
    )
    index = open_index(ours_settings)
    log("retrieval quality on SciFact (dense, bm25, hybrid)")
    quality = br.quality(index, embedder, settings.retrieval, data.queries, data.qrels)
    log("retrieval latency at SciFact scale")
    latency = br.latency(index, embedder, settings.retrieval, queries)
    if peer is not None:
        quality["peer"] = bp.peer_quality(peer, data.queries, data.qrels)
        log("retrieval latency: ours against the peer, alternating")

        hybrid = br.mode_retrieval(settings.retrieval, "hybrid")

        def ours() -> Callable[[str], Any]:
            r = br.retriever_for(index, embedder, hybrid)
            return lambda q: r.retrieve(q, hybrid.top_k)

        vs_peer = bp.compare_latency(ours, peer, queries, options.reps)
        latency = dataclasses.replace(latency, vs_peer=vs_peer)
    return indexing, quality, latency


def embedding(docs: Sequence[Document], data: BeirData, base: IndexSettings, log: Log) -> Embedding:
    """The embedding backends on SciFact's chunks (speed and exact-search quality), each
    built from its own `embedding_backend` setting over `base`."""
    from evals.bench.embedding import compare_backends
    from index.chunking import chunk_document

    chunks = [c for d in docs for c in chunk_document(d, base.chunk_tokens, base.chunk_overlap)]
    texts, sources = [c.text for c in chunks], [c.source for c in chunks]
    return compare_backends(base, texts, sources, data.queries, data.qrels, log)


def scale(data: BeirData, settings: Any, options: BenchOptions, log: Log) -> tuple[Scale, Latency]:
    """The large collection (built once, cached under <data_dir>/bench/), its latency, the
    BM25 load time and `rag serve`'s peak RSS on it."""
    import os

    from evals.bench import retrieval as br
    from evals.bench import scale as sc
    from evals.datasets.beir import beir_documents
    from evals.datasets.cache import cached_index_settings
    from evals.datasets.squad import squad_paragraphs
    from index.embedding import get_embedder
    from index.store import BM25Store, open_index

    base = settings.index
    squad_hash = hashlib.sha256(options.squad.read_bytes()).hexdigest()[:16]
    real = options.scale_real_chunks
    key = f"{options.scale_chunks}:{data.fingerprint}:{squad_hash}:recipe{sc.SCALE_RECIPE}"
    key += f":real{real}" if real else ""
    # A server's collection gets its own cache folder (its BM25 side and marker).
    name = f"scale-{options.scale_chunks}" + (f"-real{real}" if real else "")
    name += "-server" if base.chroma_url else ""
    scale_settings = cached_index_settings(base, "bench", name, key)
    embedder = get_embedder(scale_settings)  # the embedder the collection records
    marker = scale_settings.data_dir / "complete.json"
    built = None
    made: dict[str, Any] | None = None
    if marker.is_file():
        made = json.loads(marker.read_text())
        stored = open_index(scale_settings).store_counts().vectors
        if made.get("chunks") not in (None, stored):  # e.g. a server restarted elsewhere
            log(f"scale collection: the store holds {stored:,} chunks, not {made['chunks']:,}")
            made = None
        else:
            log(f"scale collection: reusing {scale_settings.data_dir}")
    if made is None:
        bases = {"squad": squad_paragraphs(options.squad), "scifact": beir_documents(data)}
        load_start = os.getloadavg()[0]
        started = time.perf_counter()
        with bi.peak_rss() as peak:
            docs, counts = sc.scale_documents(
                bases, options.scale_chunks, base.chunk_tokens, base.chunk_overlap, real
            )
            log(f"scale collection: {len(docs):,} documents, into {scale_settings.data_dir}")
            scale_settings.data_dir.mkdir(parents=True, exist_ok=True)
            stored_counts = sc.build_scale_index(docs, scale_settings, embedder, log)
        seconds = round(time.perf_counter() - started, 1)
        built = (seconds, round(peak.mb, 1), [round(load_start, 2), round(os.getloadavg()[0], 2)])
        chunks = stored_counts["embedded_chunks"] + stored_counts["derived_chunks"]
        made = {**stored_counts, "documents": len(docs), "counts": counts, "chunks": chunks}
        del docs
        marker.write_text(json.dumps(made))
    started = time.perf_counter()
    BM25Store.load(scale_settings.bm25_dir)  # as `rag serve` does at start; dropped here
    bm25_load = round(time.perf_counter() - started, 2)
    index = open_index(scale_settings)
    chunks = index.count()
    log(f"retrieval latency at {chunks:,} chunks")
    queries = list(data.queries.values())
    latency = br.latency(index, embedder, settings.retrieval, queries)
    recorded = index.status().embedding_model
    del index
    log(f"peak RSS of `rag serve` (extractive) on the {chunks:,}-chunk collection")
    serve = _serve_on(scale_settings, queries[: options.answer_questions or 20], options)
    figures = Scale(
        embedder=recorded,
        target_chunks=options.scale_chunks,
        chunks=chunks,
        documents=made["documents"],
        what=sc.describe(made["counts"], chunks, made["derived_chunks"]),
        embedded_chunks=made["embedded_chunks"],
        derived_chunks=made["derived_chunks"],
        built_now=built is not None,
        build_seconds=built[0] if built else None,
        build_peak_rss_mb=built[1] if built else None,
        build_load_average=built[2] if built else None,
        store="chroma server" if base.chroma_url else "embedded",
        bm25_load_seconds=bm25_load,
        serve=serve,
    )
    return figures, latency


def _serve_on(
    scale_settings: IndexSettings, questions: Sequence[str], options: BenchOptions
) -> Any:
    """`rag serve`'s peak RSS answering with the extractive backend on the scale collection."""
    import os

    from evals.bench import answer as ba
    from evals.bench.results import ServeMemory

    # The child reads the collection's name (and the server's address) from the environment.
    saved = {k: os.environ.get(k) for k in ("RAG_INDEX__COLLECTION", "RAG_INDEX__CHROMA_URL")}
    os.environ["RAG_INDEX__COLLECTION"] = scale_settings.collection
    if scale_settings.chroma_url:
        os.environ["RAG_INDEX__CHROMA_URL"] = scale_settings.chroma_url
    try:
        return ba.serve_peak_rss(
            scale_settings.data_dir, questions, "extractive", options.config_file
        )
    except Exception as err:  # reported beside the other scale figures
        return ServeMemory(backend="extractive", error=f"{type(err).__name__}: {err}")
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def answers(
    settings: Any, corpus_settings: IndexSettings, options: BenchOptions, log: Log
) -> Answers:
    """Warm answers, `rag ask`'s cold start and `rag serve`'s memory on the corpus index,
    all with `options.answer_backend`."""
    from evals.bench import answer as ba
    from evals.bench.results import ServeMemory

    if not corpus_settings.manifest_path.is_file():
        raise RuntimeError("the default corpus was not indexed (see the index section)")
    backend, config, data_dir = (
        options.answer_backend,
        options.config_file,
        corpus_settings.data_dir,
    )
    llm = settings.llm.model_copy(update={"backend": backend})
    answer_settings = settings.model_copy(update={"index": corpus_settings, "llm": llm})
    questions = ba.suite_questions(options.answer_questions)
    log(f"answering {len(questions)} eval-suite questions (warm, {backend})")
    warm = ba.warm_answers(answer_settings, questions, backend)
    log(f"cold start of `rag ask --backend {backend}`")
    cold = ba.cold_start(data_dir, questions[0], backend, config)
    log(f"peak RSS of `rag serve` answering over /v1 with {backend}")
    try:
        serve = ba.serve_peak_rss(data_dir, questions, backend, config)
    except Exception as err:  # report it beside the other answer figures
        serve = ServeMemory(backend=backend, error=f"{type(err).__name__}: {err}")
    return Answers(warm=warm, cold_start_rag_ask=cold, serve=serve)
