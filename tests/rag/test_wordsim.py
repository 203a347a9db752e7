"""Sentence cosines from the bundled MiniLM (rag.wordsim), which the reader ranks sentences by."""

from __future__ import annotations

from rag.wordsim import default_similarity


def test_a_paraphrase_is_closer_than_a_sentence_on_another_matter() -> None:
    question = "How long would the truce last?"
    answer = "Ukraine said it could accept a proposed 30-day ceasefire with Russia."
    other = "The SVR's press office released a statement through the TASS news agency."
    near, far = default_similarity().cosines(question, [answer, other])
    assert near > far + 0.1
    assert default_similarity().cosines(question, []) == []
