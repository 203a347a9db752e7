"""The short-answer reader on the default corpus, with the real spaCy model.

The corpus is chunked as the index chunks it and every chunk is given to the reader (a harder
setting than the five retrieved passages the assistant passes). What the documents say was
checked by reading them: the CIA's director is John Ratcliffe, the SVR's is Sergey Naryshkin,
Ratcliffe initiated the call, held on a Tuesday, and the Five Eyes is the alliance named;
no document says which country hosted talks or who the CIA's deputy director is.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from index.chunking import chunk_document
from index.clean import clean_document
from index.config import IndexSettings
from index.loaders import load_file
from index.types import Chunk
from rag import nlp as nlp_module
from rag.answer_types import expected_type
from rag.backends.base import Passage
from rag.reader import ShortAnswer, parse, rank, read

CORPUS = Path(__file__).resolve().parents[2] / "corpus"


@pytest.fixture(scope="module")
def corpus() -> tuple[list[Passage], dict[str, str]]:
    settings = IndexSettings()
    chunks: list[Chunk] = []
    texts = {}
    for path in sorted(CORPUS.glob("*.txt")):
        raw = load_file(path, path.name, 10_000_000)
        doc = clean_document(raw, hashlib.sha256(path.read_bytes()).hexdigest())
        texts[doc.source] = doc.text
        chunks += chunk_document(doc, settings.chunk_tokens, settings.chunk_overlap)
    return [Passage(n, c) for n, c in enumerate(chunks, start=1)], texts


def _ask(corpus, question: str) -> ShortAnswer | None:
    passages, texts = corpus
    answer = read(question, passages)
    if answer is not None:  # offsets point at the exact words, in the cited document
        source = next(p.chunk.source for p in passages if p.n == answer.n)
        assert texts[source][answer.start : answer.end] == answer.text
        assert answer.sentence_start <= answer.start < answer.end <= answer.sentence_end
        assert 0.0 <= answer.score <= 1.0
    return answer


@pytest.mark.parametrize(
    ("question", "expected", "kind"),
    [
        ("Who heads the CIA?", "John Ratcliffe", "person"),
        ("Who is the director of the SVR?", "Sergey Naryshkin", "person"),
        (
            "What is the name of the alliance of five English-speaking countries mentioned?",
            "Five Eyes",
            "organisation",
        ),
        ("Who initiated the phone call?", "John Ratcliffe", "person"),
        ("When did the CIA and SVR directors hold the phone call?", "Tuesday", "date"),
        ("Which news agency reported the SVR statement?", "TASS", "organisation"),
        ("Who shared her thoughts with Fox News Digital?", "Rebekah Koffler", "person"),
        (
            "Which institute is Edward Hunter Christie from?",
            "Finnish Institute of International Affairs",
            "organisation",
        ),
    ],
)
def test_reads_the_short_answer_the_documents_state(corpus, question, expected, kind):
    passages, _ = corpus
    best, _score = rank(question, passages)[0]
    chunk = passages[best.passage].chunk
    assert parse(chunk.text).span_text(best.first, best.last) == expected
    answer = _ask(corpus, question)
    # Over all 40 chunks, several CIA-leader sentences share the pick's weight ("Who heads the
    # CIA?"), so the reader may rather quote; from the five retrieved passages it answers
    # (tests/rag/test_answer_first.py).
    if question != "Who heads the CIA?":
        assert answer is not None, question
    if answer is not None:
        assert answer.text == expected
        assert answer.kind == kind


def test_the_supporting_sentence_states_the_answer(corpus):
    passages, texts = corpus
    answer = _ask(corpus, "Who initiated the phone call?")
    source = next(p.chunk.source for p in passages if p.n == answer.n)
    sentence = texts[source][answer.sentence_start : answer.sentence_end]
    assert "initiated the call" in sentence
    assert "John Ratcliffe" in sentence


# The reader does not check premises: "Which European country hosted the talks?" reads
# "Russia" from a sentence that never says "hosted", and the premise check refuses it
# (tests/rag/test_answer_first.py, test_claims.py). Gating the reader on the question's verb
# would cost: on SQuAD DEV its answered picks whose sentence lacks the verb have token F1 0.81
# against 0.73 for all answered picks.
@pytest.mark.parametrize(
    "question",
    [
        "Where did they meet in person?",  # they spoke by phone
        "What is the capital of France?",  # out of the corpus
    ],
)
def test_says_nothing_when_the_documents_do_not_state_it(corpus, question):
    assert _ask(corpus, question) is None


def _passage(text: str, title: str = "Spy chiefs talk") -> list[Passage]:
    chunk = Chunk(
        id="c1",
        source="news.txt",
        title=title,
        text=text,
        position=0,
        start=100,
        end=100 + len(text),
        n_tokens=len(text.split()),
    )
    return [Passage(3, chunk)]


def test_headings_titles_and_bylines_are_never_answers():
    text = (
        "Spy chiefs talk\n\n"
        "CIA And SVR Chiefs Meet In Vienna\n\n"
        "By Maria Keller\n\n"
        "The two directors held a phone call on Tuesday."
    )
    passages = _passage(text)
    assert read("Which city did the CIA and SVR chiefs meet in?", passages) is None
    assert read("Who wrote about the spy chiefs?", passages) is None
    answer = read("When did the directors hold a phone call?", passages)
    assert answer is not None and answer.text == "Tuesday"
    assert answer.n == 3
    assert text[answer.start - 100 : answer.end - 100] == "Tuesday"  # Chunk.start-based


@pytest.mark.parametrize(
    ("question", "kind", "head"),
    [
        ("Who heads the CIA?", "person", None),
        ("When did the call take place?", "date", None),
        ("How many days did the ceasefire last?", "date", "day"),
        ("How many agents were expelled?", "number", "agent"),
        ("How much did the program cost?", "money", None),
        ("Where did the directors meet?", "place", None),
        ("Which European country hosted the talks?", "place", "country"),
        ("What alliance shares intelligence?", "organisation", "alliance"),
        ("What is the name of the alliance of five countries?", "organisation", "alliance"),
        ("What year did the Cold War end?", "date", "year"),
        ("What does the SVR do?", "thing", None),
    ],
)
def test_expected_answer_type_follows_the_wh_phrase(question, kind, head):
    atype = expected_type(question)
    assert (atype.kind, atype.head) == (kind, head)


def test_a_missing_model_is_one_clear_message(monkeypatch):
    monkeypatch.setattr(nlp_module, "MODEL_PACKAGES", ("no_such_spacy_model_xyz",))
    nlp_module.nlp.cache_clear()
    try:
        with pytest.raises(nlp_module.NlpUnavailable, match="pip install en-core-web-sm"):
            nlp_module.nlp()
    finally:
        nlp_module.nlp.cache_clear()
