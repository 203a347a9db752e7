"""Retrieval over a real index of the bundled corpus (real Chroma, BM25 and embedding model).

The index is built once per module in a temporary folder with `index.pipeline.ingest`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from index.config import IndexSettings
from rag.config import RetrievalSettings
from rag.retrieval import build_retriever
from rag.testing.retrieval import CONTRACT_DOCUMENTS, RetrieverContract

pytestmark = pytest.mark.slow

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
SVR_QUESTION = "Who is the director of the SVR?"


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    from index.embedding import get_embedder
    from index.pipeline import ingest
    from index.store import open_index

    settings = IndexSettings(data_dir=tmp_path_factory.mktemp("retrieval") / "rag")
    report = ingest([CORPUS], settings)
    assert report.documents == 5 and report.chunks > 5
    return open_index(settings), get_embedder(settings)


@pytest.mark.parametrize(
    "halves",
    [{"bm25": False}, {"dense": False}, {}],
    ids=["dense", "bm25", "hybrid"],
)
def test_svr_director_question_finds_naryshkin_in_top_3(real, halves):
    index, embedder = real
    retriever = build_retriever(RetrievalSettings(**halves), index, embedder)
    hits = retriever.retrieve(SVR_QUESTION, 3)
    assert len(hits) == 3
    assert any("Naryshkin" in h.chunk.text for h in hits), [h.chunk.text[:80] for h in hits]


def test_finnish_institute_question_finds_its_file_first(real):
    index, embedder = real
    retriever = build_retriever(RetrievalSettings(), index, embedder)
    hits = retriever.retrieve(
        "What concerns did the Finnish Institute of International Affairs raise?", 5
    )
    assert hits[0].chunk.source == "001_dbe99f0681a73860.txt"


def test_source_filter_returns_only_that_file(real):
    index, embedder = real
    source = next(s for s in index.sources() if s.startswith("004_"))
    retriever = build_retriever(RetrievalSettings(), index, embedder)
    hits = retriever.retrieve(SVR_QUESTION, 5, sources=[source])
    expected = min(5, len(index.chunks_of(source)))
    assert len(hits) == expected
    assert {h.chunk.source for h in hits} == {source}


def test_hybrid_hits_carry_cosine_scores_of_the_real_embeddings(real):
    index, embedder = real
    hits = build_retriever(RetrievalSettings(), index, embedder).retrieve(SVR_QUESTION, 5)
    assert all(h.dense_score is not None and -1.0 <= h.dense_score <= 1.0 for h in hits)
    # the best hit is about the SVR, well above an unrelated chunk's similarity
    assert max(h.dense_score for h in hits) > 0.3
    ranked = [h.score for h in hits]
    assert ranked == sorted(ranked, reverse=True)


def test_mmr_and_neighbours_on_the_real_index_give_distinct_chunks(real):
    index, embedder = real
    settings = RetrievalSettings(mmr=True, neighbours=1)
    hits = build_retriever(settings, index, embedder).retrieve(SVR_QUESTION, 4)
    chunk_ids = [h.chunk.id for h in hits]
    assert len(chunk_ids) == len(set(chunk_ids)) >= 4
    assert any("Naryshkin" in h.chunk.text for h in hits)


def test_cross_encoder_reranker_loads_a_local_model_once_and_orders_by_its_scores(real):
    from index.embedding import bundled_model_path
    from rag.retrieval import stages

    index, embedder = real
    # The bundled embedding model loads as a CrossEncoder (with an untrained head): enough to
    # check the real loading path, the caching, and that hits follow the model's scores.
    settings = RetrievalSettings(reranker=str(bundled_model_path()), candidates=8)
    hits = build_retriever(settings, index, embedder).retrieve(SVR_QUESTION, 4)
    model = stages._cross_encoder(str(bundled_model_path()))
    build_retriever(settings, index, embedder).retrieve("Finnish Institute", 2)
    assert stages._cross_encoder(str(bundled_model_path())) is model  # loaded once
    assert len(hits) == 4
    expected = model.predict([(SVR_QUESTION, h.chunk.text) for h in hits])
    assert [h.score for h in hits] == pytest.approx([float(x) for x in expected], abs=1e-5)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


class TestRealRetrieverPassesTheRetrieverContract(RetrieverContract):
    """The default pipeline (hybrid search over real Chroma and BM25, the default embedder)
    over the contract's documents, indexed from files by `index.pipeline.ingest`."""

    @pytest.fixture(scope="class")
    def retriever(self, tmp_path_factory):
        from index.embedding import get_embedder
        from index.pipeline import ingest
        from index.store import open_index

        base = tmp_path_factory.mktemp("contract")
        docs = base / "docs"
        docs.mkdir()
        for name, text in CONTRACT_DOCUMENTS.items():
            (docs / name).write_text(text, encoding="utf-8")
        settings = IndexSettings(data_dir=base / "rag")
        assert ingest([docs], settings).documents == len(CONTRACT_DOCUMENTS)
        return build_retriever(RetrievalSettings(), open_index(settings), get_embedder(settings))
