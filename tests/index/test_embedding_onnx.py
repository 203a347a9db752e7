"""The ONNX embedding backends: same vectors as torch, a safe export cache, a recorded identity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index import onnx_embed
from index.config import IndexSettings
from index.embedding import (
    EmbeddingError,
    SentenceTransformerEmbedder,
    bundled_model_path,
    embedder_name,
    get_embedder,
)

pytestmark = pytest.mark.slow

CORPUS = Path(__file__).resolve().parents[2] / "corpus"


@pytest.fixture(scope="module")
def chunk_texts() -> list[str]:
    """Real chunks of the default corpus, as the indexer makes them (varied lengths)."""
    from index.chunking import chunk_document
    from index.clean import clean_document
    from index.loaders import load_file

    texts: list[str] = []
    for path in sorted(CORPUS.iterdir()):
        raw = load_file(path, path.name, 20 * 2**20)
        doc = clean_document(raw, "hash")
        texts += [c.text for c in chunk_document(doc, 256, 40)]
    assert len(texts) >= 10
    return texts


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module")
def torch_vectors(chunk_texts: list[str]) -> np.ndarray:
    return _torch().embed_documents(chunk_texts)


def _torch() -> SentenceTransformerEmbedder:
    embedder = get_embedder(IndexSettings(embedding_backend="torch"))
    assert isinstance(embedder, SentenceTransformerEmbedder)
    return embedder


def _onnx(variant: str, cache_dir: Path, batch_size: int = 8) -> onnx_embed.OnnxEmbedder:
    path = bundled_model_path()
    file = onnx_embed.cached_model_file(path, variant, cache_dir)
    return onnx_embed.OnnxEmbedder(path, file, variant, batch_size=batch_size)


def test_fp32_onnx_gives_the_torch_vectors(
    chunk_texts: list[str], torch_vectors: np.ndarray, cache_dir: Path
) -> None:
    vectors = _onnx("onnx", cache_dir).embed_documents(chunk_texts)
    assert vectors.shape == torch_vectors.shape and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosines = (vectors * torch_vectors).sum(axis=1)
    assert cosines.min() >= 0.999


def test_int8_onnx_ranks_like_torch(
    chunk_texts: list[str], torch_vectors: np.ndarray, cache_dir: Path
) -> None:
    int8 = _onnx("onnx-int8", cache_dir)
    vectors = int8.embed_documents(chunk_texts)
    assert (vectors * torch_vectors).sum(axis=1).min() >= 0.97
    # Each chunk's own first sentence as a query finds the same best chunk as under torch.
    queries = [t.split(". ")[0][:200] for t in chunk_texts[:10]]
    torch_queries = _torch().embed_documents(queries)
    torch_best = (torch_queries @ torch_vectors.T).argmax(1)
    int8_best = np.stack([int8.embed_query(q) for q in queries]) @ vectors.T
    assert (int8_best.argmax(1) == torch_best).mean() >= 0.9


def test_length_sorted_batches_keep_input_order(chunk_texts: list[str], cache_dir: Path) -> None:
    embedder = _onnx("onnx", cache_dir, batch_size=3)
    texts = [chunk_texts[0], "short", chunk_texts[1][:50], "short", chunk_texts[2]]
    together = embedder.embed_documents(texts)
    alone = np.stack([embedder.embed_query(t) for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-4)
    assert np.allclose(together[1], together[3])
    assert embedder.embed_documents([]).shape == (0, embedder.dim)


def test_long_texts_are_truncated_like_sentence_transformers(cache_dir: Path) -> None:
    long_text = " ".join(f"word{i} of a very long document" for i in range(400))
    vector = _onnx("onnx", cache_dir).embed_query(long_text)
    reference = _torch().embed_query(long_text)
    assert float(vector @ reference) >= 0.999


def test_export_is_reused_not_repeated(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = bundled_model_path()
    first = onnx_embed.cached_model_file(path, "onnx-int8", cache_dir)

    def fail(*_: object) -> None:
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx_embed, "_export_fp32", fail)
    monkeypatch.setattr(onnx_embed, "_quantize", fail)
    monkeypatch.setattr(onnx_embed, "_fuse", fail)
    assert onnx_embed.cached_model_file(path, "onnx-int8", cache_dir) == first
    assert onnx_embed.cached_model_file(path, "onnx", cache_dir).is_file()


def test_a_failed_export_leaves_no_cache_and_a_readable_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def half_written(_model: Path, target: Path) -> None:
        target.write_bytes(b"not an onnx model")  # like an export killed halfway

    monkeypatch.setattr(onnx_embed, "_export_fp32", half_written)
    monkeypatch.setattr("index.embedding._CACHE", {})
    settings = IndexSettings(
        data_dir=tmp_path / "data", embedding_backend="onnx", embedding_cache_dir=tmp_path / "c"
    )
    with pytest.raises(EmbeddingError, match=r"backend 'onnx'.*embedding_backend = 'torch'"):
        get_embedder(settings)
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert leftovers == []


def test_each_backend_is_a_different_recorded_embedder() -> None:
    names = {embedder_name("all-MiniLM-L6-v2", b) for b in ("torch", "onnx", "onnx-int8")}
    assert len(names) == 3
    assert embedder_name("all-MiniLM-L6-v2", "torch") == "all-MiniLM-L6-v2"


def test_switching_backend_asks_for_a_rebuild(tmp_path: Path, cache_dir: Path) -> None:
    from index.pipeline import ingest
    from index.store import IndexMismatchError, open_index

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Chroma stores the vectors. BM25 scores the words.")
    torch_settings = IndexSettings(data_dir=tmp_path / "data", embedding_backend="torch")
    ingest([docs], torch_settings)
    onnx_settings = torch_settings.model_copy(
        update={"embedding_backend": "onnx-int8", "embedding_cache_dir": cache_dir}
    )
    with pytest.raises(IndexMismatchError, match="rag index --rebuild"):
        open_index(onnx_settings)
    report = ingest([docs], onnx_settings, rebuild=True)
    assert report.chunks >= 1
    assert open_index(onnx_settings).status().embedding_model == "all-MiniLM-L6-v2 (onnx-int8)"
