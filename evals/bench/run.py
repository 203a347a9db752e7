"""`rag bench` in one run: indexing, embedding backends, retrieval, scale, answers, the peer.

`run_bench(settings, options)` runs every section `options` does not skip and returns one
`BenchResult` (evals/bench/results.py): indexing of the default corpus and of SciFact (ours
and the LangChain peer), retrieval quality and latency, the embedding backends, the scale
point, answer speed and `rag serve` memory, then the targets. A section that fails records
its reason in `errors` and the others still run.

Every index it builds lives under `<data_dir>/bench/` (runs in a temporary folder removed at
the end; the scale collection is cached there for reruns), never in the user's index. This
module orchestrates; the measurements live in the other evals/bench modules.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from evals.bench.options import BENCH_VERSION, BenchOptions
from evals.bench.results import BenchResult, IndexingResult, Machine, Retrieval

T = TypeVar("T")


def _machine() -> Machine:
    import torch

    return Machine(
        cpus=os.cpu_count(),
        torch_threads=torch.get_num_threads(),
        python=platform.python_version(),
        platform=platform.platform(terse=True),
        load_average=[round(x, 2) for x in os.getloadavg()],
    )


class _Run:
    """Runs sections, keeping going when one fails (its error is recorded)."""

    def __init__(self, options: BenchOptions, log: Callable[[str], None]) -> None:
        self.options = options
        self.log = log
        self.errors: dict[str, str] = {}

    def section(self, name: str, fn: Callable[[], T]) -> T | None:
        if name in self.options.skip:
            return None
        try:
            return fn()
        except Exception as err:  # a benchmark section must not sink the others
            self.errors[name] = f"{type(err).__name__}: {err}"
            self.log(f"{name}: failed ({type(err).__name__}: {err})")
            return None


def run_bench(
    settings: Any, options: BenchOptions, log: Callable[[str], None] = lambda _: None
) -> BenchResult:
    """Measure everything `options` asks for."""
    from evals.bench import sections as s
    from evals.bench.indexing import fresh_settings
    from evals.bench.report import targets
    from evals.datasets.beir import beir_documents, load_beir, subset
    from index.embedding import get_embedder

    run = _Run(options, log)
    machine = _machine()
    cache = settings.index.data_dir / "bench"
    cache.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="runs-", dir=cache))
    base = settings.index
    try:
        started = time.perf_counter()
        embedder = get_embedder(base)
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
        embedding = run.section(
            "embedding", lambda: s.embedding(docs, data, embedder, base, cache / "onnx", log)
        )
        scale = run.section("scale", lambda: s.scale(data, embedder, settings, cache, options, log))
        answer = run.section("answer", lambda: s.answers(settings, corpus_settings, options, log))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    quality, latency = (scifact[1], {"scifact": scifact[2]}) if scifact else ({}, {})
    if scale:
        latency["scale"] = scale[1]
    result = BenchResult(
        version=BENCH_VERSION,
        quick=options.quick,
        machine=machine,
        model_load_s=model_load_s,
        indexing=IndexingResult(corpus=corpus, scifact=scifact[0] if scifact else None),
        retrieval=Retrieval(quality=quality, latency=latency) if quality or latency else None,
        embedding=embedding,
        scale=scale[0] if scale else None,
        answer=answer,
        errors=run.errors,
    )
    return dataclasses.replace(result, targets=targets(result))
