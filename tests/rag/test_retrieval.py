"""Unit tests of the retrieval pipeline around a fake index and a bag-of-words embedder.

The fakes (rag.testing.fakes) have exactly the methods of `index.store.ChunkIndex` and
`index.embedding.Embedder` that retrieval uses; rankings can be scripted so fusion math is
checked on hand-made input. The real index is exercised in test_retrieval_real.py.
"""

from __future__ import annotations

import pytest

from index.types import Chunk
from rag.config import RetrievalSettings
from rag.retrieval import (
    BM25Retriever,
    DenseRetriever,
    HybridRetriever,
    RetrievalError,
    Retriever,
    build_retriever,
    convex_fuse,
    rrf_fuse,
)
from rag.retrieval import stages as stages_module
from rag.testing.fakes import (
    BagEmbedder,
    FakeIndex,
    FakeRetriever,
    chunks_from_documents,
    plain_words,
)
from rag.testing.retrieval import CONTRACT_DOCUMENTS, RetrieverContract

DIM = 64


def make_chunk(source: str, position: int, text: str) -> Chunk:
    return Chunk(
        id=f"{source}#{position}",
        source=source,
        title=source,
        text=text,
        position=position,
        start=position * 100,
        end=position * 100 + len(text),
        n_tokens=len(text.split()),
    )


def ids(hits) -> list[str]:
    return [h.chunk.id for h in hits]


@pytest.fixture
def embedder() -> BagEmbedder:
    """Hashed plain-word counts (no stemming), so fusion math sees the words as written."""
    return BagEmbedder(DIM, name="bow-test", terms=plain_words)


@pytest.fixture
def scripted(embedder) -> FakeIndex:
    """Dense ranks d1, d2, d3; BM25 ranks d3, d4, d1."""
    chunks = [make_chunk("a.txt", i, f"passage number {i}") for i in range(1, 5)]
    return FakeIndex(
        chunks,
        embedder,
        dense_ranking=[("a.txt#1", 0.9), ("a.txt#2", 0.8), ("a.txt#3", 0.7)],
        bm25_ranking=[("a.txt#3", 12.0), ("a.txt#4", 9.0), ("a.txt#1", 5.0)],
    )


def test_rrf_fuses_first_and_third_ranks():
    fused = dict(rrf_fuse([(["x", "y", "z"], 1.0), (["z", "w", "x"], 1.0)], rrf_k=60))
    assert fused["x"] == pytest.approx(1 / 61 + 1 / 63)
    assert fused["z"] == pytest.approx(1 / 63 + 1 / 61)
    assert fused["y"] == pytest.approx(1 / 62)
    assert fused["w"] == pytest.approx(1 / 62)


def test_hybrid_hits_keep_both_halves_scores_and_ranks(scripted, embedder):
    hybrid = HybridRetriever(
        DenseRetriever(scripted, embedder), BM25Retriever(scripted), rrf_k=60, fusion="rrf"
    )
    hits = {h.chunk.id: h for h in hybrid.retrieve("passage", 4)}
    d1 = hits["a.txt#1"]
    assert d1.score == pytest.approx(1 / 61 + 1 / 63)
    assert (d1.dense_rank, d1.bm25_rank) == (1, 3)
    assert (d1.dense_score, d1.bm25_score) == (pytest.approx(0.9), pytest.approx(5.0))
    d4 = hits["a.txt#4"]
    assert d4.score == pytest.approx(1 / 62)
    assert d4.dense_rank is None and d4.dense_score is None and d4.bm25_rank == 2


def test_weights_change_the_fused_order(scripted, embedder):
    favour_bm25 = HybridRetriever(
        DenseRetriever(scripted, embedder),
        BM25Retriever(scripted),
        rrf_k=1,
        dense_weight=1.0,
        bm25_weight=3.0,
        fusion="rrf",
    )
    hits = favour_bm25.retrieve("passage", 4)
    assert ids(hits) == ["a.txt#3", "a.txt#1", "a.txt#4", "a.txt#2"]
    assert hits[0].score == pytest.approx(1 / 4 + 3 / 2)
    equal = HybridRetriever(
        DenseRetriever(scripted, embedder), BM25Retriever(scripted), rrf_k=1, fusion="rrf"
    )
    # d1 and d3 tie at 1/2 + 1/4: the one with the better best rank (dense 1st) comes first
    assert ids(equal.retrieve("passage", 4))[:2] == ["a.txt#1", "a.txt#3"]


def test_convex_fusion_scales_each_half_by_its_best_score():
    fused = dict(convex_fuse([([("x", 0.8), ("y", 0.4)], 3.0), ([("y", 10.0), ("z", 5.0)], 1.0)]))
    # dense scaled: x 1, y 0.5 (floor 0.5); BM25 scaled: y 1, z 0.5 (floor 0.5)
    assert fused["x"] == pytest.approx((3 * 1.0 + 1 * 0.5) / 4)
    assert fused["y"] == pytest.approx((3 * 0.5 + 1 * 1.0) / 4)
    assert fused["z"] == pytest.approx((3 * 0.5 + 1 * 0.5) / 4)
    assert list(fused) == ["x", "y", "z"]


def test_convex_fusion_breaks_ties_by_best_rank_and_ignores_negative_scores():
    fused = convex_fuse([([("a", 0.5), ("b", -0.2)], 1.0), ([("b", 2.0), ("a", 1.0)], 1.0)])
    # a: (1 + 0.5) / 2; b: (0 + 1) / 2 -- a negative cosine counts as 0
    assert fused == [("a", pytest.approx(0.75)), ("b", pytest.approx(0.5))]
    tie = convex_fuse([([("p", 1.0), ("q", 0.5)], 1.0), ([("q", 4.0), ("p", 2.0)], 1.0)])
    assert [cid for cid, _ in tie] == ["p", "q"]  # equal 0.75: p was first in the first half


def test_convex_is_the_default_fusion_and_rrf_still_selectable(scripted, embedder):
    assert RetrievalSettings().fusion == "convex"
    # dense d1 .9, d2 .8, d3 .7 -> 1, 8/9, 7/9; BM25 d3 12, d4 9, d1 5 -> 1, 3/4, 5/12
    settings = RetrievalSettings(dense_weight=2.0)
    hits = build_retriever(settings, scripted, embedder).retrieve("passage", 4)
    assert ids(hits) == ["a.txt#3", "a.txt#1", "a.txt#4", "a.txt#2"]
    assert hits[0].score == pytest.approx((2 * 7 / 9 + 1) / 3)
    assert hits[2].score == pytest.approx((2 * 7 / 9 + 3 / 4) / 3)
    assert hits[3].score == pytest.approx((2 * 8 / 9 + 5 / 12) / 3)
    rrf = build_retriever(settings.model_copy(update={"fusion": "rrf"}), scripted, embedder)
    assert ids(rrf.retrieve("passage", 4)) == ["a.txt#1", "a.txt#3", "a.txt#2", "a.txt#4"]


def test_an_unknown_fusion_is_a_clear_error(scripted, embedder):
    with pytest.raises(RetrievalError, match="fusion"):
        HybridRetriever(DenseRetriever(scripted, embedder), None, fusion="sum")


def test_fused_list_is_cut_to_k(scripted, embedder):
    hybrid = HybridRetriever(DenseRetriever(scripted, embedder), BM25Retriever(scripted))
    assert len(hybrid.retrieve("passage", 2)) == 2


@pytest.mark.parametrize(
    ("dense", "bm25", "expected"),
    [
        (True, False, ["a.txt#1", "a.txt#2", "a.txt#3"]),
        (False, True, ["a.txt#3", "a.txt#4", "a.txt#1"]),
    ],
)
def test_turning_a_half_off_gives_the_other_halfs_order(scripted, embedder, dense, bm25, expected):
    settings = RetrievalSettings(dense=dense, bm25=bm25)
    hits = build_retriever(settings, scripted, embedder).retrieve("passage", 5)
    assert ids(hits) == expected


def test_a_zero_weight_counts_as_off(scripted, embedder):
    settings = RetrievalSettings(dense_weight=0.0)
    hits = build_retriever(settings, scripted, embedder).retrieve("passage", 5)
    assert ids(hits) == ["a.txt#3", "a.txt#4", "a.txt#1"]


def test_both_halves_off_is_a_clear_error(scripted, embedder):
    with pytest.raises(RetrievalError, match="dense or BM25"):
        build_retriever(RetrievalSettings(dense=False, bm25=False), scripted, embedder)


def test_bm25_only_hits_get_their_cosine_similarity(scripted, embedder):
    hits = build_retriever(RetrievalSettings(), scripted, embedder).retrieve("passage 4", 4)
    d4 = next(h for h in hits if h.chunk.id == "a.txt#4")
    expected = float(embedder.vector("passage number 4") @ embedder.vector("passage 4"))
    assert d4.dense_score == pytest.approx(expected, abs=1e-5)
    assert d4.dense_rank is None  # the dense half did not rank it
    d1 = next(h for h in hits if h.chunk.id == "a.txt#1")
    assert d1.dense_score == pytest.approx(0.9)  # the index's cosine is kept, not recomputed


@pytest.fixture
def library(embedder) -> FakeIndex:
    """Three files about rivers, 6 chunks each."""
    chunks = [
        make_chunk(f"{name}.txt", i, f"the river {name} flows past town {i} with boats")
        for name in ("nile", "rhine", "volga")
        for i in range(6)
    ]
    return FakeIndex(chunks, embedder)


def test_source_filter_returns_only_those_sources_and_still_k_hits(library, embedder):
    retriever = build_retriever(RetrievalSettings(), library, embedder)
    hits = retriever.retrieve("river boats town", 5, sources=["rhine.txt"])
    assert len(hits) == 5
    assert {h.chunk.source for h in hits} == {"rhine.txt"}
    # the filter went down to both halves, not applied after a global top-k
    assert library.searched_sources and all(s == ["rhine.txt"] for s in library.searched_sources)


def test_configured_sources_apply_unless_a_call_names_its_own(library, embedder):
    retriever = build_retriever(RetrievalSettings(sources=["volga.txt"]), library, embedder)
    assert {h.chunk.source for h in retriever.retrieve("river", 4)} == {"volga.txt"}
    hits = retriever.retrieve("river", 4, sources=["nile.txt", "rhine.txt"])
    assert {h.chunk.source for h in hits} <= {"nile.txt", "rhine.txt"}
    assert len(hits) == 4


def test_an_unknown_source_in_the_filter_is_a_clear_error(library, embedder):
    retriever = build_retriever(RetrievalSettings(), library, embedder)
    with pytest.raises(RetrievalError, match=r"Not in the index: danube\.txt"):
        retriever.retrieve("river", 3, sources=["rhine.txt", "danube.txt"])


def test_unfiltered_search_spans_sources(library, embedder):
    hits = build_retriever(RetrievalSettings(), library, embedder).retrieve("river boats", 18)
    assert {h.chunk.source for h in hits} == {"nile.txt", "rhine.txt", "volga.txt"}


def test_blank_query_returns_nothing(library, embedder):
    assert build_retriever(RetrievalSettings(), library, embedder).retrieve("   ", 5) == []


@pytest.fixture
def near_duplicates(embedder) -> FakeIndex:
    original = "the treaty was signed in geneva by both foreign ministers in march"
    chunks = [
        make_chunk("a.txt", 0, original),
        make_chunk("b.txt", 0, original + " today"),  # a near-duplicate copy
        make_chunk("c.txt", 0, "parliament ratified the agreement after a long debate"),
        *[
            make_chunk("d.txt", i, f"unrelated filler text number {i} about weather")
            for i in (1, 2)
        ],
        *[make_chunk("e.txt", i, f"more unrelated notes {i} on sport results") for i in (1, 2)],
    ]
    ranking = [(c.id, 1.0 - 0.05 * r) for r, c in enumerate(chunks)]
    return FakeIndex(chunks, embedder, dense_ranking=ranking, bm25_ranking=ranking)


def test_mmr_drops_a_near_duplicate_for_a_different_passage(near_duplicates, embedder):
    plain = build_retriever(RetrievalSettings(), near_duplicates, embedder)
    assert ids(plain.retrieve("treaty", 2)) == ["a.txt#0", "b.txt#0"]
    diverse = build_retriever(RetrievalSettings(mmr=True), near_duplicates, embedder)
    assert ids(diverse.retrieve("treaty", 2)) == ["a.txt#0", "c.txt#0"]


def test_mmr_with_lambda_one_keeps_the_relevance_order(near_duplicates, embedder):
    settings = RetrievalSettings(mmr=True, mmr_lambda=1.0)
    hits = build_retriever(settings, near_duplicates, embedder).retrieve("treaty", 4)
    assert ids(hits) == ["a.txt#0", "b.txt#0", "c.txt#0", "d.txt#1"]


def test_neighbour_expansion_adds_adjacent_chunks_without_duplicates(embedder):
    chunks = [make_chunk("doc.txt", i, f"section {i} text") for i in range(6)]
    ranking = [("doc.txt#2", 0.9), ("doc.txt#3", 0.8)]
    index = FakeIndex(chunks, embedder, dense_ranking=ranking, bm25_ranking=ranking)
    hits = build_retriever(RetrievalSettings(neighbours=1), index, embedder).retrieve("x", 2)
    assert ids(hits) == ["doc.txt#2", "doc.txt#1", "doc.txt#3", "doc.txt#4"]
    by_id = {h.chunk.id: h for h in hits}
    assert by_id["doc.txt#1"].score < by_id["doc.txt#2"].score
    assert by_id["doc.txt#1"].score > by_id["doc.txt#3"].score  # just below its anchor
    assert by_id["doc.txt#4"].score < by_id["doc.txt#3"].score


def test_neighbours_stop_at_document_edges(embedder):
    chunks = [make_chunk("doc.txt", i, f"section {i} text") for i in range(3)]
    ranking = [("doc.txt#0", 0.9)]
    index = FakeIndex(chunks, embedder, dense_ranking=ranking, bm25_ranking=ranking)
    hits = build_retriever(RetrievalSettings(neighbours=2), index, embedder).retrieve("x", 1)
    assert ids(hits) == ["doc.txt#0", "doc.txt#1", "doc.txt#2"]


def test_building_loads_and_embeds_nothing(library, embedder):
    settings = RetrievalSettings(mmr=True, neighbours=1, sources=["nile.txt"])
    retriever = build_retriever(settings, library, embedder)
    assert isinstance(retriever, Retriever)
    assert embedder.calls == 0


def test_missing_reranker_model_fails_at_build_time(library, embedder, tmp_path):
    missing = tmp_path / "no-such-cross-encoder"
    with pytest.raises(RetrievalError, match="Reranker model not found") as err:
        build_retriever(RetrievalSettings(reranker=str(missing)), library, embedder)
    assert str(missing) in str(err.value)


class FakeCrossEncoder:
    """Scores a pair by how often the query's words occur in the passage."""

    def predict(self, pairs):
        return [sum(plain_words(p).count(w) for w in plain_words(q)) for q, p in pairs]


def test_reranker_reorders_candidates_by_cross_encoder_score(embedder, tmp_path, monkeypatch):
    chunks = [
        make_chunk("a.txt", 0, "boats boats"),
        make_chunk("a.txt", 1, "boats boats boats boats"),
        make_chunk("a.txt", 2, "boats"),
    ]
    ranking = [("a.txt#2", 0.9), ("a.txt#0", 0.8), ("a.txt#1", 0.7)]
    index = FakeIndex(chunks, embedder, dense_ranking=ranking, bm25_ranking=ranking)
    model_dir = tmp_path / "cross-encoder"
    model_dir.mkdir()
    monkeypatch.setattr(stages_module, "_cross_encoder", lambda path: FakeCrossEncoder())
    retriever = build_retriever(RetrievalSettings(reranker=str(model_dir)), index, embedder)
    hits = retriever.retrieve("boats", 2)
    assert ids(hits) == ["a.txt#1", "a.txt#0"]
    assert [h.score for h in hits] == [4.0, 2.0]
    assert hits[0].dense_rank == 3  # the first-stage ranks are kept for inspection


class TestPipelineOverAFakeIndexPassesTheRetrieverContract(RetrieverContract):
    @pytest.fixture
    def retriever(self):
        embedder = BagEmbedder(DIM, name="bow-test", terms=plain_words)
        index = FakeIndex(chunks_from_documents(CONTRACT_DOCUMENTS), embedder)
        return build_retriever(RetrievalSettings(), index, embedder)


class TestFakeRetrieverPassesTheRetrieverContract(RetrieverContract):
    @pytest.fixture
    def retriever(self):
        return FakeRetriever(chunks_from_documents(CONTRACT_DOCUMENTS))
