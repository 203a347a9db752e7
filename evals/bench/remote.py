"""`rag bench --remote-embedder N`: indexing through `rag serve`'s /v1/embeddings vs in-process.

The same first SciFact documents (about N chunks) are indexed from scratch with the in-process
embedder and with `index.embedding_backend = "openai"` pointed at a `rag serve` on 127.0.0.1
that embeds with the same model and backend, in the order in-process, remote, remote,
in-process, twice, so a machine that gets busier or quieter during the run slows both alike.
Both sides have their model loaded before timing (the server gets one warm-up request). The
figure is the cost of the protocol (HTTP, JSON, per-request batches) on one machine, not what
a faster embeddings machine would give. The row is opt-in: it is not part of `make test`.

This module measures this one row; the indexing runs themselves are evals/bench/indexing.py.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from evals.bench import indexing as bi
from evals.bench.results import BenchResult, RemoteEmbedding
from evals.bench.stats import median, rate
from index.config import IndexSettings
from index.types import Document

ORDER = ("in-process", "remote", "remote", "in-process") * 2
OVERHEAD_TARGET_PCT = 15.0  # issue 14's goal for the protocol's cost


def first_chunks(docs: Sequence[Document], base: IndexSettings, target: int) -> list[Document]:
    """The first documents, in order, whose chunks reach `target`."""
    from index.chunking import chunk_document

    chosen, total = [], 0
    for doc in docs:
        if total >= target:
            break
        chosen.append(doc)
        total += len(chunk_document(doc, base.chunk_tokens, base.chunk_overlap))
    return chosen


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=300) as reply:
        result: dict[str, Any] = json.loads(reply.read())
        return result


def start_serve(base: IndexSettings, data_dir: Path, config_file: Path | None) -> Any:
    """A `rag serve` on a free 127.0.0.1 port embedding with `base`'s model and backend."""
    from index.offline import offline_env

    env = offline_env(
        RAG_DATA_DIR=str(data_dir),
        RAG_INDEX__EMBEDDING_MODEL=base.embedding_model,
        RAG_INDEX__EMBEDDING_BACKEND=base.embedding_backend,
        RAG_INDEX__EMBEDDING_BATCH_SIZE=str(base.embedding_batch_size),
    )
    env.pop("RAG_API_KEY", None)
    port = _free_port()
    cmd = [sys.executable, "-m", "rag.cli"]
    cmd += ["--config", str(config_file)] if config_file else []
    cmd += ["serve", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as reply:
                if reply.status == 200:
                    return proc, f"{url}/v1"
        except OSError:
            time.sleep(0.2)
    proc.kill()
    stderr = proc.stderr.read().decode()[-300:] if proc.stderr else ""
    raise RuntimeError(f"`rag serve` did not come up: {stderr or 'timed out'}")


def remote_vs_in_process(
    docs: Sequence[Document],
    base: IndexSettings,
    root: Path,
    target_chunks: int,
    config_file: Path | None,
    log: Callable[[str], None],
) -> RemoteEmbedding:
    """Index the same documents in-process and through `rag serve` (ORDER); the figures."""
    from index.embedding import get_embedder

    if base.embedding_backend == "openai":
        raise RuntimeError("the remote row compares a local embedder with itself served")
    chosen = first_chunks(docs, base, target_chunks)
    get_embedder(base)  # loaded before timing, as the server's is
    proc, url = start_serve(base, root / "remote-server", config_file)
    try:
        served = _post(f"{url}/embeddings", {"input": "warm-up", "model": "default"})["model"]
        remote = base.model_copy(
            update={
                "embedding_backend": "openai",
                "embedding_base_url": url,
                "embedding_remote_model": served,
            }
        )
        seconds: dict[str, list[float]] = {"in-process": [], "remote": []}
        chunks = 0
        for n, who in enumerate(ORDER):
            log(f"remote embedder row: {who} indexing of {len(chosen):,} SciFact docs, run {n + 1}")
            settings = bi.fresh_settings(remote if who == "remote" else base, root, f"rr-{n}")
            run = bi.index_docs(chosen, settings)
            seconds[who].append(run.seconds)
            chunks = run.chunks
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    local_s, remote_s = median(seconds["in-process"]), median(seconds["remote"])
    overhead = round((remote_s / local_s - 1) * 100, 1) if local_s and remote_s else None
    return RemoteEmbedding(
        documents=len(chosen),
        chunks=chunks,
        server_embedder=served,
        batch_size=remote.embedding_batch_size,
        concurrency=remote.embedding_concurrency,
        order=list(ORDER),
        runs_s=seconds,
        in_process_chunks_per_s=rate(chunks, local_s),
        remote_chunks_per_s=rate(chunks, remote_s),
        overhead_pct=overhead,
    )


def remote_tables(result: BenchResult) -> list[tuple[str, list[str], list[Sequence[Any]]]]:
    """The row as a report table (empty when the run did not measure it)."""
    r = result.remote_embedding
    if r is None:
        return []
    met = None if r.overhead_pct is None else r.overhead_pct <= OVERHEAD_TARGET_PCT
    verdict = {None: "–", True: "met", False: "missed"}[met]
    rows: list[Sequence[Any]] = [
        ("in-process", r.server_embedder, r.in_process_chunks_per_s, r.runs_s["in-process"], ""),
        (
            f"rag serve /v1/embeddings ({r.batch_size} texts/request, {r.concurrency} in flight)",
            f"openai:{r.server_embedder}",
            r.remote_chunks_per_s,
            r.runs_s["remote"],
            f"{r.overhead_pct} % (target <= {OVERHEAD_TARGET_PCT:g} %: {verdict})",
        ),
    ]
    title = (
        f"Remote embedder vs in-process ({r.chunks:,} chunks of the first {r.documents:,} "
        "SciFact docs, same machine, runs in the order " + ", ".join(r.order) + ")"
    )
    header = ["embedder", "index records", "chunks/s (median run)", "runs (s)", "overhead"]
    return [(title, header, rows)]
