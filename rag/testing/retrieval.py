"""`RetrieverContract`: the tests every `rag.retrieval.Retriever` must pass.

A retriever (built in or from a plugin) subclasses it and provides one fixture, `retriever`:
the retriever under test over `CONTRACT_DOCUMENTS` (source name -> text; index them however
the retriever needs: `rag.testing.fakes.chunks_from_documents` gives one chunk per paragraph,
or write them to files and run the indexer). The tests check what callers rely on: at most
k hits, each chunk once, the best match first, and a source filter that is honoured.

    class TestMyRetriever(RetrieverContract):
        @pytest.fixture(scope="class")
        def retriever(self):
            return MyRetriever(chunks_from_documents(CONTRACT_DOCUMENTS))

This module only tests; it does not build an index or a retriever.
"""

from __future__ import annotations

import pytest

from rag.retrieval.base import Retriever
from rag.types import Hit

CONTRACT_DOCUMENTS: dict[str, str] = {
    "bees.txt": (
        "Honey bees live in hives of up to sixty thousand workers and one queen.\n\n"
        "Worker bees make honey from flower nectar, which they store in wax combs inside the "
        "hive.\n\n"
        "While collecting nectar, bees carry pollen between flowers and pollinate fruit trees."
    ),
    "volcanoes.txt": (
        "A volcano erupts when molten rock, called magma, rises through the crust.\n\n"
        "Lava flows from the 2021 eruption in Iceland covered a valley near Grindavik.\n\n"
        "Volcanic ash clouds can close airports far away from the erupting volcano."
    ),
    "ferries.txt": (
        "The river ferry crosses the Danube every twenty minutes between the two towns.\n\n"
        "Old paddle steamers carried passengers and cargo along the river for a century.\n\n"
        "The ferry timetable changes in winter, when ice floats on the water."
    ),
}

# question -> the document that answers it
_QUESTIONS = {
    "How do worker bees make honey from nectar?": "bees.txt",
    "Where did lava flow after the eruption in Iceland?": "volcanoes.txt",
    "How often does the river ferry cross the Danube?": "ferries.txt",
}
_BEES = "How do worker bees make honey from nectar?"


def _sources(hits: list[Hit]) -> set[str]:
    return {h.chunk.source for h in hits}


class RetrieverContract:
    """What the assistant, the web UI and the evals rely on, for any retriever."""

    @pytest.fixture
    def retriever(self) -> Retriever:
        raise NotImplementedError("a retriever's test class provides this fixture")

    def test_it_is_a_retriever(self, retriever: Retriever) -> None:
        assert isinstance(retriever, Retriever)
        hits = retriever.retrieve(_BEES, 3)
        assert hits and all(isinstance(h, Hit) for h in hits)

    @pytest.mark.parametrize("k", [1, 2, 4])
    def test_at_most_k_hits_and_each_chunk_once(self, retriever: Retriever, k: int) -> None:
        hits = retriever.retrieve(_BEES, k)
        assert 1 <= len(hits) <= k
        ids = [h.chunk.id for h in hits]
        assert len(ids) == len(set(ids))

    def test_k_beyond_the_corpus_returns_each_chunk_at_most_once(
        self, retriever: Retriever
    ) -> None:
        hits = retriever.retrieve(_BEES, 100)
        assert 1 <= len(hits) <= 100
        assert len({h.chunk.id for h in hits}) == len(hits)
        assert _sources(hits) <= set(CONTRACT_DOCUMENTS)

    @pytest.mark.parametrize(("question", "source"), list(_QUESTIONS.items()))
    def test_the_best_match_comes_first(
        self, retriever: Retriever, question: str, source: str
    ) -> None:
        hits = retriever.retrieve(question, 3)
        assert hits, question
        assert hits[0].chunk.source == source, [h.chunk.text[:60] for h in hits]

    def test_the_source_filter_is_honoured(self, retriever: Retriever) -> None:
        # The bee question, searched only in the other files: never a bee paragraph.
        hits = retriever.retrieve(_BEES, 4, sources=["volcanoes.txt", "ferries.txt"])
        assert len(hits) <= 4
        assert _sources(hits) <= {"volcanoes.txt", "ferries.txt"}

    @pytest.mark.parametrize(("question", "source"), list(_QUESTIONS.items()))
    def test_a_filtered_search_still_finds_its_file(
        self, retriever: Retriever, question: str, source: str
    ) -> None:
        hits = retriever.retrieve(question, 2, sources=[source])
        assert 1 <= len(hits) <= 2
        assert _sources(hits) == {source}
