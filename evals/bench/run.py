"""`rag bench` in one run: indexing, embedding backends, retrieval, scale, answers, the peer.

`run_bench(settings, options)` runs every section `options` does not skip and returns one
`BenchResult` (evals/bench/results.py): indexing of the default corpus and of SciFact (ours
and the LangChain peer), retrieval quality and latency, the embedding backends, the scale
point, answer speed and `rag serve` memory, then the targets; with the machine, the package
versions, the commit, the time it started and each section's wall time. A section that fails
records its reason in `errors` and the others still run.

Every index it builds lives under `<data_dir>/bench/` (runs in a temporary folder removed at
the end; the scale collection is cached there for reruns), never in the user's index. This
module orchestrates; the measurements live in the other evals/bench modules.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from evals.bench.options import BENCH_VERSION, REPO, BenchOptions
from evals.bench.results import BenchResult, IndexingResult, Retrieval, Scope

T = TypeVar("T")


class _Run:
    """Runs sections, keeping going when one fails (its error is recorded)."""

    def __init__(self, options: BenchOptions, log: Callable[[str], None]) -> None:
        self.options = options
        self.log = log
        self.errors: dict[str, str] = {}
        self.seconds: dict[str, float] = {}  # wall time per section (summed over its parts)

    def section(self, name: str, fn: Callable[[], T]) -> T | None:
        if name in self.options.skip:
            return None
        started = time.perf_counter()
        try:
            return fn()
        except Exception as err:  # a benchmark section must not sink the others
            self.errors[name] = f"{type(err).__name__}: {err}"
            self.log(f"{name}: failed ({type(err).__name__}: {err})")
            return None
        finally:
            spent = self.seconds.get(name, 0.0) + time.perf_counter() - started
            self.seconds[name] = round(spent, 1)


def run_bench(
    settings: Any, options: BenchOptions, log: Callable[[str], None] = lambda _: None
) -> BenchResult:
    """Measure everything `options` asks for."""
    from evals.bench import machine as m
    from evals.bench import sections as s
    from evals.bench.indexing import fresh_settings
    from evals.bench.report import targets
    from evals.datasets.beir import beir_documents, load_beir, subset
    from evals.retrieval_eval import mode_settings
    from index.embedding import get_embedder

    run = _Run(options, log)
    started_at, machine = m.started_at(), m.machine()
    cache = settings.index.data_dir / "bench"
    cache.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="runs-", dir=cache))
    base = settings.index
    try:
        started = time.perf_counter()
        embedder = get_embedder(base)  # ours, as `settings.index` names it; rows record it
        model_load_s = round(time.perf_counter() - started, 2)
        peer_embeddings = run.section("peer", s.peer_embeddings)

        corpus_paths = options.corpus or [Path(p) for p in base.default_paths]
        corpus_settings = fresh_settings(base, root, "corpus")
        corpus = run.section(
            "index",
            lambda: s.corpus(corpus_paths, corpus_settings, root, peer_embeddings, options, log),
        )

        started = time.perf_counter()
        data = subset(load_beir(options.scifact), options.max_docs, options.max_queries)
        load_s = time.perf_counter() - started
        docs = beir_documents(data)
        scifact = run.section(
            "index",
            lambda: s.scifact(
                docs, data, base, root, peer_embeddings, embedder, settings, options, load_s, log
            ),
        )
        embedding = run.section("embedding", lambda: s.embedding(docs, data, base, log))
        remote = None
        if options.remote_chunks:
            from evals.bench.remote import remote_vs_in_process

            n, config = options.remote_chunks, options.config_file
            remote = run.section(
                "remote", lambda: remote_vs_in_process(docs, base, root, n, config, log)
            )
        scale = run.section("scale", lambda: s.scale(data, settings, options, log))
        answer = run.section("answer", lambda: s.answers(settings, corpus_settings, options, log))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    quality, latency = (scifact[1], {"scifact": scifact[2]}) if scifact else ({}, {})
    if scale:
        latency["scale"] = scale[1]
    retrieval = None
    if quality or latency:
        candidates = mode_settings(settings.retrieval, "hybrid").candidates  # what quality used
        retrieval = Retrieval(
            quality=quality,
            latency=latency,
            quality_candidates=candidates if quality else None,
            quality_embedder=scifact[2].embedder if scifact else None,
        )
    result = BenchResult(
        version=BENCH_VERSION,
        quick=options.quick,
        started_at=started_at,
        commit=m.git_commit(REPO),
        machine=dataclasses.replace(machine, load_average_end=m.load_average()),
        versions=m.package_versions(),
        scope=Scope(
            max_docs=options.max_docs,
            max_queries=options.max_queries,
            scale_chunks=options.scale_chunks,
            answer_questions=options.answer_questions,
            answer_backend=options.answer_backend,
            reps=options.reps,
            skipped=list(options.skip),
        ),
        section_seconds=run.seconds,
        embedder=embedder.name,
        model_load_s=model_load_s,
        indexing=IndexingResult(corpus=corpus, scifact=scifact[0] if scifact else None),
        retrieval=retrieval,
        embedding=embedding,
        remote_embedding=remote,
        scale=scale[0] if scale else None,
        answer=answer,
        errors=run.errors,
    )
    return dataclasses.replace(result, targets=targets(result))
