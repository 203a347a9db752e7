"""`rag bench` measurements in one run: indexing, embedding backends, retrieval, answers, peer.

`run_bench(settings, options)` returns one JSON-ready dict with these top-level keys:
`version`, `quick`, `machine`, `model_load_s`, `indexing` (`corpus`, `scifact`: ours and the
peer, speedups), `embedding` (torch / onnx / onnx-int8: chunks/s, nDCG@10, verdict),
`retrieval` (`quality` per mode and the peer's, `latency` per mode at SciFact scale and at
the scale point, with the peer ratio), `scale` (what the large collection is), `answer`
(`warm` time to first token / total, `cold_start_rag_ask`, `serve`: peak RSS of `rag serve`
answering the same questions over /v1), `targets` (each issue target
with the measured value and whether it is met), `notes`, `errors` (a section that failed,
with its reason; the others still run).

Every index it builds lives under `<data_dir>/bench/` (runs in a temporary folder removed at
the end; the ONNX export and the scale collection are cached there for reruns), never in
the user's index. The quick variant uses subsets (see `BenchOptions.quick_defaults`).
This module orchestrates; the measurements live in evals/bench_*.py.
"""

from __future__ import annotations

import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SCIFACT = REPO.parent / "shared/datasets/scifact"
DEFAULT_SQUAD = REPO.parent / "shared/datasets/squad/dev-v1.1.json"
SECTIONS = ("index", "embedding", "scale", "answer", "peer")  # "index" includes retrieval
BENCH_VERSION = 1


@dataclass
class BenchOptions:
    quick: bool = False
    scifact: Path = DEFAULT_SCIFACT
    squad: Path = DEFAULT_SQUAD
    corpus: list[Path] = field(default_factory=list)  # empty: settings.index.default_paths
    max_docs: int | None = None  # SciFact documents (None: all 5,183)
    max_queries: int | None = None  # SciFact test queries (None: all 300)
    scale_chunks: int = 100_000
    answer_questions: int | None = None  # eval-suite questions (None: all)
    reps: int = 3  # alternating repetitions against the peer
    skip: tuple[str, ...] = ()

    @classmethod
    def quick_defaults(cls, **given: Any) -> BenchOptions:
        base = {
            "quick": True,
            "max_docs": 100,
            "max_queries": 15,
            "scale_chunks": 1_000,
            "answer_questions": 3,
            "reps": 2,
        }
        return cls(**(base | {k: v for k, v in given.items() if v is not None}))


def _machine() -> dict[str, Any]:
    import torch

    return {
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


class _Run:
    """Runs sections, keeping going when one fails (its error is recorded)."""

    def __init__(self, options: BenchOptions, log: Callable[[str], None]) -> None:
        self.options = options
        self.log = log
        self.result: dict[str, Any] = {"errors": {}, "notes": []}

    def section(self, name: str, fn: Callable[[], Any]) -> Any:
        if name in self.options.skip:
            return None
        try:
            return fn()
        except Exception as err:  # a benchmark section must not sink the others
            self.result["errors"][name] = f"{type(err).__name__}: {err}"
            self.log(f"{name}: failed ({type(err).__name__}: {err})")
            return None


def run_bench(
    settings: Any, options: BenchOptions, log: Callable[[str], None] = lambda _: None
) -> dict[str, Any]:
    """Measure everything `options` asks for; see the module docstring for the keys."""
    from evals import bench_index as bi
    from evals.beir import load_beir

    run = _Run(options, log)
    out = run.result
    out.update(version=BENCH_VERSION, quick=options.quick, machine=_machine())
    cache = settings.index.data_dir / "bench"
    cache.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="runs-", dir=cache))
    base = settings.index
    try:
        from index.embedding import get_embedder

        started = time.perf_counter()
        embedder = get_embedder(base)
        out["model_load_s"] = round(time.perf_counter() - started, 2)
        peer_embeddings = run.section("peer", _peer_embeddings)

        # -- default corpus ----------------------------------------------------------------
        corpus_paths = options.corpus or [Path(p) for p in base.default_paths]
        corpus_settings = bi.fresh_settings(base, root, "corpus")
        out["indexing"] = {
            "corpus": run.section(
                "index",
                lambda: _corpus(corpus_paths, corpus_settings, root, peer_embeddings, options, log),
            )
        }

        # -- SciFact: indexing, quality, latency, peer -------------------------------------
        started = time.perf_counter()
        data = bi.scifact_subset(load_beir(options.scifact), options.max_docs, options.max_queries)
        load_s = time.perf_counter() - started
        from evals.beir import beir_documents

        docs = beir_documents(data)
        out["indexing"]["scifact"] = scifact = run.section(
            "index",
            lambda: _scifact(
                docs, data, base, root, peer_embeddings, embedder, settings, options, load_s, log
            ),
        )
        if scifact:
            out["retrieval"] = scifact.pop("retrieval")
        out["embedding"] = run.section(
            "embedding", lambda: _embedding(docs, data, embedder, base, cache / "onnx", log)
        )
        out["scale"] = run.section(
            "scale", lambda: _scale(data, embedder, settings, cache, options, log)
        )
        if out["scale"]:
            out.setdefault("retrieval", {}).setdefault("latency", {})["scale"] = out["scale"].pop(
                "latency"
            )
        out["answer"] = run.section(
            "answer", lambda: _answers(settings, corpus_settings, options, log)
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    from evals.bench_report import targets

    out["targets"] = targets(out)
    return out


def _peer_embeddings() -> Any:
    from evals import peer_langchain

    return peer_langchain.load_embeddings()


def _corpus(paths, settings, root, peer_embeddings, options, log) -> dict[str, Any]:
    """Ours and the peer on the default corpus, alternating `reps` times; medians."""
    from evals import bench_index as bi
    from evals.bench_peer import peer_index
    from evals.bench_retrieval import median

    ours, peers = [], []
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
    result: dict[str, Any] = {"ours": ours[-1], "runs": {"ours": [r["seconds"] for r in ours]}}
    if peers:
        result["peer"] = peers[-1]
        result["runs"]["peer"] = [r["seconds"] for r in peers]
        ours_s, peer_s = median(result["runs"]["ours"]), median(result["runs"]["peer"])
        result["speedup_vs_peer"] = round(peer_s / ours_s, 2) if ours_s else None
    return result


def _read_plain(paths, settings) -> list[Any]:
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


def _plain_document(source: str, text: str) -> Any:
    from index.types import Document

    return Document(
        path="", source=source, text=text, title=source, date=None, kind="txt", content_hash=""
    )


def _scifact(docs, data, base, root, peer_embeddings, embedder, settings, options, load_s, log):
    from evals import bench_index as bi
    from evals import bench_peer as bp
    from evals import bench_retrieval as br
    from index.store import open_index

    queries = list(data.queries.values())
    out: dict[str, Any] = {"dataset": data.name, "documents": len(docs), "queries": len(queries)}
    if peer_embeddings is not None:
        ours_settings, peer, compared = bp.compare_indexing(
            docs, base, root, peer_embeddings, options.reps, "scifact", load_s, log
        )
        out.update(compared)
    else:
        peer = None
        ours_settings = bi.fresh_settings(base, root, "scifact-ours")
        log("indexing SciFact")
        out["ours"] = bi.index_docs(docs, ours_settings, load_s)
    index = open_index(ours_settings)
    log("retrieval quality on SciFact (dense, bm25, hybrid)")
    retrieval: dict[str, Any] = {
        "quality": br.quality(index, embedder, settings.retrieval, data.queries, data.qrels)
    }
    log("retrieval latency at SciFact scale")
    latency: dict[str, Any] = {
        "chunks": index.count(),
        **br.latency(index, embedder, settings.retrieval, queries),
    }
    if peer is not None:
        retrieval["quality"]["peer"] = bp.peer_quality(peer, data.queries, data.qrels)
        log("retrieval latency: ours against the peer, alternating")

        def ours() -> Callable[[str], Any]:
            r = br.retriever_for(index, embedder, settings.retrieval)
            return lambda q: r.retrieve(q, settings.retrieval.top_k)

        latency["vs_peer"] = bp.compare_latency(ours, peer, queries, options.reps)
    retrieval["latency"] = {"scifact": latency}
    out["retrieval"] = retrieval
    return out


def _embedding(docs, data, embedder, base, cache, log) -> dict[str, Any]:
    from evals.bench_embed import compare_backends
    from index.chunking import chunk_document

    chunks = [c for d in docs for c in chunk_document(d, base.chunk_tokens, base.chunk_overlap)]
    return compare_backends(
        embedder,
        [c.text for c in chunks],
        [c.source for c in chunks],
        data.queries,
        data.qrels,
        cache,
        log,
    )


def _scale(data, embedder, settings, cache, options, log) -> dict[str, Any]:
    """The large collection (built once, cached under <data_dir>/bench/) and its latency."""
    import hashlib
    import json

    from evals import bench_index as bi
    from evals import bench_retrieval as br
    from evals.beir import beir_documents, cached_index_settings
    from index.store import open_index

    base = settings.index
    squad_hash = hashlib.sha256(options.squad.read_bytes()).hexdigest()[:16]
    key = f"{options.scale_chunks}:{data.fingerprint}:{squad_hash}:recipe{br.SCALE_RECIPE}"
    scale_settings = cached_index_settings(base, "bench", f"scale-{options.scale_chunks}", key)
    marker = scale_settings.data_dir / "complete.json"
    built = None
    if marker.is_file():
        made = json.loads(marker.read_text())
        log(f"scale collection: reusing {scale_settings.data_dir}")
    else:
        bases = {"squad": br.squad_paragraphs(options.squad), "scifact": beir_documents(data)}
        docs, counts = br.scale_documents(
            bases, options.scale_chunks, base.chunk_tokens, base.chunk_overlap
        )
        log(f"scale collection: {len(docs):,} documents, into {scale_settings.data_dir}")
        scale_settings.data_dir.mkdir(parents=True, exist_ok=True)
        with bi.peak_rss() as peak:
            started = time.perf_counter()
            made = br.build_scale_index(docs, scale_settings, embedder, log)
            built = {"seconds": round(time.perf_counter() - started, 1), "peak_rss_mb": peak}
        made.update(documents=len(docs), counts=counts)
        marker.write_text(json.dumps(made))
    index = open_index(scale_settings)
    chunks = index.count()
    log(f"retrieval latency at {chunks:,} chunks")
    queries = list(data.queries.values())
    return {
        "target_chunks": options.scale_chunks,
        "chunks": chunks,
        "documents": made["documents"],
        "what": br.describe(made["counts"], chunks, made["derived_chunks"]),
        "embedded_chunks": made["embedded_chunks"],
        "derived_chunks": made["derived_chunks"],
        "built_now": built is not None,
        "build_seconds": built["seconds"] if built else None,
        "build_peak_rss_mb": round(built["peak_rss_mb"].mb, 1) if built else None,
        "latency": {"chunks": chunks, **br.latency(index, embedder, settings.retrieval, queries)},
    }


def _answers(settings, corpus_settings, options, log) -> dict[str, Any]:
    from evals import bench_answer as ba

    if not corpus_settings.manifest_path.is_file():
        raise RuntimeError("the default corpus was not indexed (see the index section)")
    answer_settings = settings.model_copy(update={"index": corpus_settings})
    questions = ba.suite_questions(options.answer_questions)
    log(f"answering {len(questions)} eval-suite questions (warm, {settings.llm.backend})")
    warm = ba.warm_answers(answer_settings, questions)
    log("cold start of `rag ask`")
    cold = ba.cold_start(corpus_settings.data_dir, questions[0])
    log("peak RSS of `rag serve` answering over /v1")
    try:
        serve = ba.serve_peak_rss(corpus_settings.data_dir, questions, settings.llm.backend)
    except Exception as err:  # report it beside the other answer figures
        serve = {"error": f"{type(err).__name__}: {err}"}
    return {"warm": warm, "cold_start_rag_ask": cold, "serve": serve}
