"""The index as the question side sees it: real Chroma, real embedding model, real bm25s."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index.bm25_store import BM25Store
from index.config import IndexSettings
from index.embedding import get_embedder
from index.pipeline import ingest
from index.store import IndexMismatchError, StoreError, open_index
from index.types import Chunk


@pytest.fixture
def built(corpus_copy: Path, index_settings: IndexSettings):
    report = ingest([corpus_copy], index_settings)
    assert report.added == 5
    return open_index(index_settings)


def test_the_index_holds_every_document_with_ordered_chunks(built, corpus_copy: Path) -> None:
    assert built.sources() == sorted(p.name for p in corpus_copy.iterdir())
    assert built.count() == built.chroma.count() > 5
    for source in built.sources():
        chunks = built.chunks_of(source)
        assert [c.position for c in chunks] == list(range(len(chunks)))
        text = (corpus_copy / source).read_text(encoding="utf-8")
        # every chunk's words come from its file (cleaning may drop chrome, never invent)
        assert all(c.source == source and c.text.split()[0] in text for c in chunks)
    ids = [c.id for c in built.chunks_of(built.sources()[0])]
    assert [c.id for c in built.get([*reversed(ids), "no-such-id"])] == list(reversed(ids))


def test_dense_search_finds_a_passage_by_its_own_text(built, index_settings) -> None:
    target = built.chunks_of(built.sources()[2])[1]
    vector = get_embedder(index_settings).embed_query(target.text)
    hits = built.dense_search(vector, k=3)
    assert hits[0][0] == target.id
    # a cosine, not a distance: ~1 for the same text (the default int8 embedder quantizes
    # activations per batch, so a text embedded alone differs from its batched self by ~0.5%)
    assert hits[0][1] == pytest.approx(1.0, abs=1e-2)
    assert hits[0][1] >= hits[1][1] >= hits[2][1]


def test_dense_search_respects_the_source_filter(built, index_settings) -> None:
    other = built.sources()[4]
    target = built.chunks_of(built.sources()[0])[0]
    vector = get_embedder(index_settings).embed_query(target.text)
    hits = built.dense_search(vector, k=len(built.chunks_of(other)), sources=[other])
    assert hits and {built.get([i])[0].source for i, _ in hits} == {other}
    assert len(hits) == len(built.chunks_of(other))


def test_bm25_search_ranks_keyword_matches_and_filters_by_source(built) -> None:
    hits = built.bm25_search("Naryshkin Ratcliffe phone call", k=5)
    assert hits and all(score > 0 for _, score in hits)
    assert all(
        "naryshkin" in c.text.lower() or "ratcliffe" in c.text.lower() or "call" in c.text.lower()
        for c in built.get([i for i, _ in hits])
    )
    source = built.sources()[3]
    filtered = built.bm25_search("intelligence", k=3, sources=[source])
    assert len(filtered) == 3
    assert {c.source for c in built.get([i for i, _ in filtered])} == {source}
    assert built.bm25_search("zzzqqq nothing-matches", k=5) == []


def test_status_reports_what_the_index_was_built_with(built, index_settings) -> None:
    status = built.status()
    assert (status.documents, status.chunks) == (5, built.count())
    assert status.embedding_model.startswith("all-MiniLM-L6-v2")  # "(onnx-int8)" by default
    assert status.dimension == 384
    assert (status.chunk_tokens, status.chunk_overlap) == (256, 40)
    assert status.last_indexed


def test_other_chunk_settings_are_refused_with_the_cure(built, index_settings) -> None:
    changed = index_settings.model_copy(update={"chunk_tokens": 128})
    with pytest.raises(IndexMismatchError, match=r"chunk_tokens 256 -> 128.*rag index --rebuild"):
        open_index(changed)


def test_an_embedder_of_another_dimension_is_refused_before_it_writes(built) -> None:
    assert built.recorded_dimension() == 384
    with pytest.raises(IndexMismatchError, match=r"dimension 384 -> 768"):
        built.check_embedder(768)
    assert built.recorded_dimension() == 384
    built.check_embedder(384)  # the dimension it was built with is fine


def test_store_counts_agree_until_one_store_loses_a_document(built) -> None:
    assert built.store_counts().agree(built.count())
    source = built.sources()[0]
    lost = len(built.chunks_of(source))
    built.remove_sources([source])
    counts = built.store_counts()
    assert counts.vectors == counts.keywords == built.count()  # BM25 changed in memory too
    assert not counts.agree(counts.vectors + lost)  # the manifest still expects them


def test_an_unreachable_chroma_server_names_the_url(index_settings) -> None:
    settings = index_settings.model_copy(update={"chroma_url": "http://127.0.0.1:9"})
    with pytest.raises(StoreError, match=r"http://127\.0\.0\.1:9"):
        open_index(settings)


def _chunk(cid: str, source: str, text: str, position: int = 0) -> Chunk:
    return Chunk(cid, source, "t", text, position, 0, len(text), 3)


def test_bm25_filter_returns_k_hits_even_when_other_sources_score_higher(tmp_path) -> None:
    strong = [_chunk(f"a{i}", "a.txt", "apple apple apple pie", i) for i in range(20)]
    weak = [_chunk(f"b{i}", "b.txt", f"one apple among many other words {i}", i) for i in range(4)]
    store = BM25Store(tmp_path / "bm25", strong + weak)
    store.save()
    hits = store.search("apple", k=3, sources=["b.txt"])
    assert len(hits) == 3 and all(i.startswith("b") for i, _ in hits)
    assert all(i.startswith("a") for i, _ in store.search("apple", k=3))


def test_bm25_store_round_trips_and_keeps_one_generation(tmp_path) -> None:
    folder = tmp_path / "bm25"
    store = BM25Store(
        folder,
        [
            _chunk("x", "x.txt", "stemming runners running"),
            _chunk("y", "y.txt", "unrelated words here"),
        ],
    )
    store.save()
    store.replace_sources(["y.txt"], [_chunk("z", "z.txt", "more unrelated text")])
    store.save()
    loaded = BM25Store.load(folder)
    assert loaded.ids == ["x", "z"]
    assert loaded.get("x").text == "stemming runners running"
    assert loaded.search("run", k=2)[0][0] == "x"  # English stemming: run ~ running
    assert sum(1 for p in folder.iterdir() if p.is_dir()) == 1
    assert loaded.search("the", k=2) == []  # a stopword matches nothing


def test_stored_embeddings_come_back_in_the_order_asked(built, index_settings) -> None:
    """MMR and the cosine fill-in read stored vectors instead of re-embedding chunk texts."""
    index, settings = open_index(index_settings), index_settings
    chunks = index.chunks_of(index.sources()[0])[:3]
    ids = [c.id for c in reversed(chunks)]
    vecs = index.embeddings([*ids, "no-such-id"])
    assert vecs.shape == (len(ids), get_embedder(settings).dim)
    fresh = get_embedder(settings).embed_documents([c.text for c in reversed(chunks)])
    # row by row the same vectors (int8 activations are quantized per batch: ~0.5% apart)
    cosines = np.sum(vecs * fresh, axis=1) / (
        np.linalg.norm(vecs, axis=1) * np.linalg.norm(fresh, axis=1)
    )
    assert cosines.min() > 0.99
