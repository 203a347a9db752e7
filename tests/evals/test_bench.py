"""`rag bench`: the quick run completes and reports every documented figure; bad input is clean.

The quick run is the `make test` smoke test: a real subprocess, real models, real Chroma and
the real LangChain peer, into a data dir under tmp_path. No timing is asserted, only that the
figures exist and are sane (positive throughput, metrics within [0, 1], targets reported).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from evals.bench.options import DEFAULT_SCIFACT, DEFAULT_SQUAD
from evals.bench.report import targets
from evals.bench.results import BenchResult, Latency, Machine, Percentiles, Quality, Retrieval
from evals.bench.scale import describe, scale_documents
from index.offline import offline_env
from index.types import Document
from rag.testing.fakes import HashEmbedder

REPO = Path(__file__).resolve().parents[2]
QUICK_ANSWERS = 2  # the questions `--quick` asks the local model (warm and through rag serve)


def _rag(*args: str, cwd: Path, timeout: int = 1800) -> subprocess.CompletedProcess:
    env = offline_env()
    env.pop("RAG_CONFIG", None)
    script = Path(sys.executable).parent / "rag"
    cmd = [str(script)] if script.is_file() else [sys.executable, "-m", "rag.cli"]
    return subprocess.run(
        [*cmd, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def _doc(source: str, text: str) -> Document:
    return Document("", source, text, source, None, "txt", "")


@pytest.mark.slow
@pytest.mark.e2e
@pytest.mark.skipif(not DEFAULT_SCIFACT.is_dir(), reason="the shared SciFact dataset is absent")
def test_quick_bench_reports_every_figure(tmp_path: Path) -> None:
    out_dir = tmp_path / "report"
    proc = _rag(
        "--data-dir",
        str(tmp_path / "data"),
        "bench",
        "--quick",
        "--json",
        "--out",
        str(out_dir),
        "--corpus",
        str(REPO / "corpus"),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert result["errors"] == {}, result["errors"]
    assert result["quick"] is True

    corpus = result["indexing"]["corpus"]
    assert corpus["ours"]["documents"] == len(list((REPO / "corpus").glob("*.txt")))
    for run in (corpus["ours"], corpus["peer"], result["indexing"]["scifact"]["ours"]):
        assert run["docs_per_s"] > 0 and run["chunks_per_s"] > 0
        assert set(run["timings_s"]) >= {"load"}
        assert run["peak_rss_mb"] > 100  # a loaded embedding model at least
    assert set(result["indexing"]["scifact"]["ours"]["timings_s"]) == {
        "load",
        "chunk",
        "embed",
        "store",
    }
    assert result["indexing"]["scifact"]["speedup_vs_peer"] > 0

    quality = result["retrieval"]["quality"]
    assert set(quality) == {"dense", "bm25", "hybrid", "peer"}
    for mode in ("dense", "bm25", "hybrid"):
        assert 0.3 < quality[mode]["ndcg_at_10"] <= 1.0  # relevant abstracts are found
        assert 0 <= quality[mode]["recall_at_100"] <= 1.0
    latency = result["retrieval"]["latency"]
    for scale in ("scifact", "scale"):
        for mode in ("dense", "bm25", "hybrid"):
            assert 0 < latency[scale][mode]["p50_ms"] <= latency[scale][mode]["p95_ms"]
    assert latency["scifact"]["vs_peer"]["peer_over_ours_p50"] > 0
    scale = result["scale"]
    assert scale["chunks"] >= 0.9 * scale["target_chunks"]
    # quick: a few hundred chunks of real text, the rest variants with derived vectors
    assert 0 < scale["embedded_chunks"] < scale["derived_chunks"]
    assert scale["embedded_chunks"] + scale["derived_chunks"] == scale["chunks"]
    assert "generated variants" in scale["what"] and "derived vectors" in scale["what"]
    assert scale["store"] == "embedded" and scale["bm25_load_seconds"] > 0
    assert scale["serve"]["answered"] == QUICK_ANSWERS, scale["serve"]
    assert result["scale"]["serve"]["peak_rss_mb"] > 100  # rag serve with the collection loaded

    backends = result["embedding"]["backends"]
    assert "torch" in backends
    assert "onnx" in backends, result["embedding"].get("onnx_error")
    assert result["embedding"]["fastest_with_quality"] in backends

    answer = result["answer"]
    assert answer["warm"]["questions"] == QUICK_ANSWERS
    assert answer["warm"]["first_token"]["p50_ms"] <= answer["warm"]["total"]["p50_ms"]
    assert answer["cold_start_rag_ask"]["exit_status"] == 0
    assert answer["cold_start_rag_ask"]["seconds"] > 0
    assert answer["serve"].get("answered") == QUICK_ANSWERS, answer["serve"]
    assert answer["serve"]["peak_rss_mb"] > 100

    names = [t["target"] for t in result["targets"]]
    assert len(names) == 6 and all(t["measured"] is not None for t in result["targets"])

    assert json.loads((out_dir / "bench.json").read_text()) == result
    # where and with what it ran, and how long each section took
    machine = result["machine"]
    assert machine["cpus"] >= 1 and machine["ram_gb"] > 0 and machine["cpu_model"]
    packages = ("chromadb", "onnxruntime", "llama-cpp-python", "torch", "sentence-transformers")
    assert all(result["versions"][p] for p in packages), result["versions"]
    assert len(result["commit"]["sha"]) == 40 and result["started_at"]
    assert set(result["section_seconds"]) == {"index", "embedding", "scale", "answer", "peer"}
    assert all(s > 0 for s in result["section_seconds"].values())
    # every row names what it ran
    ours = result["embedder"]
    assert corpus["ours"]["embedder"] == result["indexing"]["scifact"]["ours"]["embedder"] == ours
    assert "langchain-huggingface" in corpus["peer"]["embedder"]
    assert latency["scifact"]["embedder"] == latency["scale"]["embedder"] == ours
    assert backends["torch"]["embedder"] == "all-MiniLM-L6-v2"
    assert backends["onnx-int8"]["model_file"].endswith("model_int8.onnx")
    assert answer["warm"]["backend"] == answer["cold_start_rag_ask"]["backend"] == "llama-cpp"
    assert answer["serve"]["backend"] == "llama-cpp" and answer["warm"]["models"]
    md = (out_dir / "bench.md").read_text()
    assert "## Performance targets" in md and "| hybrid |" in md
    # the bench leaves no run folders behind, only its caches
    leftovers = [p.name for p in (tmp_path / "data" / "bench").iterdir()]
    assert not [n for n in leftovers if n.startswith("runs-")], leftovers


def test_missing_dataset_is_a_one_line_error(tmp_path: Path) -> None:
    proc = _rag(
        "--data-dir",
        str(tmp_path / "data"),
        "bench",
        "--quick",
        "--scifact",
        str(tmp_path / "nowhere"),
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "--scifact" in proc.stderr and "does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "data" / "bench").exists()  # nothing was started


def test_scale_collection_reaches_its_target_with_distinct_texts() -> None:
    sentences = [f"Sentence number {i} talks about topic {i * 7}." for i in range(6)]
    bases = {
        "squad": [_doc("a", " ".join(sentences)), _doc("b", " ".join(reversed(sentences)))],
        "scifact": [_doc("c", " ".join(sentences[:4]))],
    }
    docs, counts = scale_documents(bases, target_chunks=40, chunk_tokens=256, overlap=40)
    assert len(docs) == 40  # each short document is one chunk
    assert counts == {"squad": 2, "scifact": 1, "variants": 37}
    assert len({d.text for d in docs}) == len(docs)
    assert len({d.source for d in docs}) == len(docs)
    assert all(d.source.startswith(("squad/", "scifact/", "variant/")) for d in docs)
    text = describe(counts, 40)
    assert "2 squad + 1 scifact + 37 generated variants" in text and "40 chunks" in text


def _result(quick: bool, retrieval: Retrieval) -> BenchResult:
    machine = Machine(cpus=2, torch_threads=2, python="3.11", platform="linux", load_average=[])
    return BenchResult(version=1, quick=quick, machine=machine, retrieval=retrieval)


def test_unmeasured_targets_are_not_reported_as_met() -> None:
    quality = {"hybrid": Quality(ndcg_at_10=0.7, recall_at_10=0.9)}
    rows = targets(_result(False, Retrieval(quality=quality)))
    by_name = {r.target: r for r in rows}
    assert by_name["SciFact nDCG@10, default (hybrid) retrieval"].met is False
    assert by_name["SciFact nDCG@10, default (hybrid) retrieval"].margin == "missed by 0.02 (3%)"
    assert all(r.met is None for r in rows if r.measured is None)
    p50 = Percentiles(p50_ms=5.0, p95_ms=6.0, mean_ms=5.2, n=10)
    small = Latency(embedder="e", chunks=2000, dense=p50, bm25=p50, hybrid=p50)
    rows = targets(_result(True, Retrieval(latency={"scale": small})))
    scale = next(r for r in rows if "scale collection" in r.target)
    assert scale.measured == 5.0 and scale.met is None  # 2,000 chunks is no scale point


@pytest.mark.skipif(not DEFAULT_SQUAD.is_file(), reason="the shared SQuAD file is absent")
def test_squad_paragraphs_are_all_read() -> None:
    from evals.datasets.squad import squad_paragraphs

    docs = squad_paragraphs(DEFAULT_SQUAD)
    assert len(docs) == 2067
    assert all(d.text.strip() for d in docs)


def test_variant_vectors_keep_the_measured_cosine_to_their_document() -> None:
    import numpy as np

    from evals.bench.scale import VARIANT_COSINE, variant_vectors

    rng = np.random.default_rng(7)
    bases = rng.standard_normal((200, 384)).astype(np.float32)
    bases /= np.linalg.norm(bases, axis=1, keepdims=True)
    out = variant_vectors(bases, rng)
    cos = (out * bases).sum(axis=1)
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    low, high = VARIANT_COSINE
    assert cos.min() >= low - 1e-5 and cos.max() <= high + 1e-5
    assert cos.std() > 0.01  # spread over the range, not one fixed angle


def test_a_store_failing_mid_build_stops_the_build_with_its_error() -> None:
    """The writer thread's error reaches the caller; the batches after it are not written."""
    import numpy as np

    from evals.bench.scale import _write_behind

    class FailingIndex:
        def __init__(self) -> None:
            self.written: list[int] = []

        def replace_sources(self, sources, chunks, vectors) -> None:
            if len(self.written) == 2:
                raise RuntimeError("Chroma server went away")
            self.written.append(len(chunks))

    index = FailingIndex()
    batches = (([i] * 10, np.zeros((10, 4), np.float32)) for i in range(50))
    with pytest.raises(RuntimeError, match="went away"):
        _write_behind(index, batches, lambda _: None)
    assert index.written == [10, 10]


def test_scale_collection_is_written_through_the_product_store(index_settings) -> None:
    """Real Chroma and bm25s: every chunk is searchable; variants sit next to their document."""
    import numpy as np

    from evals.bench.scale import build_scale_index, describe, scale_documents
    from index.store import open_index

    words = ["apple", "boat", "cloud", "drum", "eagle", "forest", "garden", "harbor"]
    sentences = [f"The {w} story number {i} is told here." for i, w in enumerate(words)]
    bases = {"squad": [_doc("p1", " ".join(sentences[:5])), _doc("p2", " ".join(sentences[3:]))]}
    docs, counts = scale_documents(bases, target_chunks=12, chunk_tokens=256, overlap=40)
    made = build_scale_index(docs, index_settings, HashEmbedder())
    assert made == {"embedded_chunks": 2, "derived_chunks": 10}

    index = open_index(index_settings)
    assert index.count() == index.store_counts().vectors == 12
    assert len(index.sources()) == len(docs)
    variant = next(d for d in docs if d.source.startswith("variant/"))
    hits = index.bm25_search(variant.text, k=1)
    assert index.get([hits[0][0]])[0].text == variant.text  # variants are real text for BM25
    real = index.chunks_of("squad/p1")[0]
    query = HashEmbedder().embed_query(real.text)
    found = index.dense_search(query, k=12)
    assert found[0][0] == real.id and found[0][1] == pytest.approx(1.0, abs=1e-4)
    near = {index.get([i])[0].source for i, score in found if score > 0.8}
    assert all(s == "squad/p1" or s.endswith("/squad/p1") for s in near)
    assert len(near) > 1  # the document's variants are its near neighbours
    assert np.isfinite([s for _, s in found]).all()
    assert "derived vectors" in describe(counts, 12, made["derived_chunks"])
    # a complete index: the manifest records exactly the stored chunks (rag serve opens it)
    from index.manifest import Manifest

    recorded = Manifest.load(index_settings.manifest_path).chunk_ids()
    stored = {s: {c.id for c in index.chunks_of(s)} for s in index.sources()}
    assert recorded == stored
