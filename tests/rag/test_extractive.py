"""Sentence selection for extractive answers (rag/extractive.py) and the extractive backend."""

from __future__ import annotations

import numpy as np

from index.types import Chunk
from rag.backends.base import ChatRequest, Passage, complete
from rag.backends.extractive import ExtractiveBackend
from rag.extractive import best_sentences, content_terms, extractive_answer

DOCUMENT = (
    "Spy chiefs talk again\n\n"
    "In a significant development, the directors of the CIA and the SVR held a phone call "
    "on Tuesday. CIA Director John Ratcliffe initiated the call with his counterpart, SVR "
    "Director Sergey Naryshkin. Both leaders agreed to maintain regular contact.\n\n"
    "Experts remain cautious about the long-term viability of this cooperation. The weather "
    "in Moscow was cold."
)


def chunk_of(text: str, start: int, source: str = "spy.txt", position: int = 0) -> Chunk:
    return Chunk(
        id=f"{source}-{position}",
        source=source,
        title=source,
        text=text,
        position=position,
        start=start,
        end=start + len(text),
        n_tokens=len(text.split()),
    )


def passages_of_document() -> tuple[Passage, ...]:
    cut = DOCUMENT.index("Experts")
    return (
        Passage(2, chunk_of(DOCUMENT[:cut].rstrip(), 0, position=0)),
        Passage(1, chunk_of(DOCUMENT[cut:], cut, position=1)),
    )


def request(question: str, passages: tuple[Passage, ...]) -> ChatRequest:
    return ChatRequest(messages=(), question=question, passages=passages)


def test_picks_the_sentence_that_answers_with_its_number_and_span() -> None:
    best = best_sentences("Who is the director of the SVR?", passages_of_document())
    assert best, "expected a supporting sentence"
    top = best[0]
    assert "Sergey Naryshkin" in top.text
    assert top.n == 2
    assert DOCUMENT[top.start : top.end] == top.text  # the span points into the document


def test_span_is_in_document_coordinates_for_a_later_chunk() -> None:
    best = best_sentences("Are experts cautious about cooperation?", passages_of_document())
    assert best[0].n == 1
    assert best[0].start > DOCUMENT.index("Experts") - 1
    assert DOCUMENT[best[0].start : best[0].end] == best[0].text


def test_answer_cites_each_sentence_before_its_full_stop() -> None:
    answer = extractive_answer(best_sentences("Who is the SVR director?", passages_of_document()))
    assert "Sergey Naryshkin [2]." in answer
    assert "\n" not in answer


def test_no_shared_content_word_gives_nothing() -> None:
    assert best_sentences("What is the capital of Peru?", passages_of_document()) == []
    backend = ExtractiveBackend()
    assert (
        list(backend.stream(request("What is the capital of Peru?", passages_of_document()))) == []
    )


def test_question_words_alone_do_not_count_as_support() -> None:
    passages = (Passage(1, chunk_of("Nobody knew who it was or what they did there.", 0)),)
    assert best_sentences("Who was it and what did they do?", passages) == []


def test_a_quoted_list_item_loses_its_bullet() -> None:
    item = "- Hotline: the SVR director can call the CIA at any hour."
    answer = extractive_answer(
        best_sentences("Can the SVR director call?", (Passage(3, chunk_of(item, 0)),))
    )
    assert answer == "Hotline: the SVR director can call the CIA at any hour [3]."


def test_stemming_matches_word_forms() -> None:
    assert content_terms("calling directors") == content_terms("called director")
    best = best_sentences("Who was calling?", passages_of_document())
    assert best and "call" in best[0].text


def test_deterministic_and_independent_of_passage_order() -> None:
    passages = passages_of_document()
    first = best_sentences("Who held the phone call?", passages)
    again = best_sentences("Who held the phone call?", tuple(reversed(passages)))
    assert first == again


def test_overlapping_chunks_do_not_repeat_a_sentence() -> None:
    sentence = "SVR Director Sergey Naryshkin spoke to the CIA."
    passages = (
        Passage(1, chunk_of(f"Intro words here. {sentence}", 0, position=0)),
        Passage(2, chunk_of(f"{sentence} Other words follow.", 18, position=1)),
    )
    best = best_sentences("Who is the SVR director?", passages, k=3)
    assert [s.text for s in best].count(sentence) == 1
    assert best[0].n == 1  # the better-ranked copy is kept


def test_top_ranked_passage_wins_a_tie() -> None:
    text = "The SVR director is Sergey Naryshkin."
    passages = (
        Passage(1, chunk_of(text, 0, source="a.txt")),
        Passage(2, chunk_of(text.replace("Sergey", "Serge"), 0, source="b.txt")),
    )
    assert best_sentences("Who is the SVR director?", passages)[0].n == 1


def test_at_most_k_sentences() -> None:
    assert len(best_sentences("CIA SVR director call", passages_of_document(), k=1)) == 1


def test_a_weak_second_sentence_is_left_out() -> None:
    passages = (
        Passage(1, chunk_of("SVR Director Sergey Naryshkin leads the SVR service.", 0)),
        Passage(2, chunk_of("The director of a museum opened an exhibition.", 0, "m.txt")),
    )
    best = best_sentences("Who is the SVR director?", passages, k=3)
    assert [s.n for s in best] == [1]


class KeywordEmbedder:
    """A deterministic stand-in for the sentence-transformers embedder: one axis per topic."""

    name = "keyword"
    dim = 2

    @staticmethod
    def _vec(text: str) -> np.ndarray:
        lower = text.lower()
        vec = np.array([float("weather" in lower or "cold" in lower), 0.1], dtype=np.float32)
        return vec / np.linalg.norm(vec)

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        return np.stack([self._vec(t) for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self._vec(text)


def test_embedding_similarity_can_change_the_pick() -> None:
    passages = (
        Passage(1, chunk_of("The director met the press on Monday.", 0, "a.txt")),
        Passage(2, chunk_of("The director wore a warm coat in the cold.", 0, "b.txt")),
    )
    question = "What did the director wear for the weather?"
    assert best_sentences(question, passages, k=1)[0].n == 1  # a lexical tie: rank decides
    semantic = best_sentences(question, passages, k=1, embedder=KeywordEmbedder())
    assert semantic[0].n == 2


def test_backend_streams_the_cited_sentences() -> None:
    backend = ExtractiveBackend()
    answer = complete(backend, request("Who is the director of the SVR?", passages_of_document()))
    assert answer.startswith("CIA Director John Ratcliffe initiated the call")
    assert "[2]" in answer
    assert backend.model == "extractive" and backend.status().available
