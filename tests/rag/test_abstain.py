"""Abstention: unit tests of the signals, and a measurement over the real corpus.

`test_abstention_on_the_question_set` prints the confusion table of the pre-generation
decision over tests/rag/questions.yaml (answerable vs unanswerable) with the default settings;
run it with `pytest -s` to see it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from index.types import Chunk
from rag.abstain import (
    AbstainDecision,
    AbstainSignals,
    TermStats,
    after_generation,
    key_terms,
    name_terms,
    premise_decision,
    retrieval_signals,
    should_abstain,
)
from rag.config import GroundingSettings
from rag.grounding import GroundingResult
from rag.types import Citation, Hit, SentenceCheck

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
QUESTIONS = yaml.safe_load((Path(__file__).parent / "questions.yaml").read_text())["questions"]
TEXTS = [
    "SVR Director Sergey Naryshkin spoke with CIA Director John Ratcliffe on Tuesday.",
    "Russia has been accused of the SolarWinds breach and of election interference.",
    "The CIA and SVR agreed to keep open lines of communication.",
]


def hit(text: str, dense: float = 0.5) -> Hit:
    chunk = Chunk(id=text[:8], source="a.txt", title="", text=text, position=0, start=0,
                  end=len(text), n_tokens=10)  # fmt: skip
    return Hit(chunk=chunk, score=1.0, dense_score=dense, bm25_score=2.0)


STATS = TermStats(TEXTS)
HITS = [hit(t) for t in TEXTS]


def test_question_words_are_not_key_terms():
    assert key_terms("Who is the director of the SVR?") == ["director", "svr"]


def test_names_and_numbers_are_found():
    assert name_terms("Who won the 2022 World Cup?") == ["2022", "world", "cup"]
    assert name_terms("What did Naryshkin say about North Korea?") == [
        "naryshkin",
        "north",
        "korea",
    ]
    assert name_terms("who is the director of the svr?") == []


def test_covered_question_is_answered():
    decision = should_abstain("Who is the director of the SVR?", HITS, GroundingSettings(), STATS)
    assert not decision.abstain
    assert decision.signals.coverage == 1.0


def test_question_about_an_unknown_name_is_refused():
    decision = should_abstain("Who is the head of MI6?", HITS, GroundingSettings(), STATS)
    assert decision.abstain and "mi6" in decision.reason


def test_question_with_uncovered_key_terms_is_refused():
    decision = should_abstain("What is the agency's annual budget?", HITS, GroundingSettings())
    assert decision.abstain and "budget" in decision.reason
    assert decision.signals.coverage < GroundingSettings().min_term_coverage


def test_rare_terms_weigh_more_than_common_ones():
    # "svr" is in every text here except one; "solarwinds" in one: missing the rare one hurts more
    common_missing = retrieval_signals("SVR SolarWinds", [hit(TEXTS[1])], STATS).coverage
    rare_missing = retrieval_signals("SVR SolarWinds", [hit(TEXTS[0])], STATS).coverage
    assert common_missing > rare_missing


def test_low_similarity_with_partial_coverage_is_refused():
    settings = GroundingSettings()
    hits = [hit(TEXTS[0], dense=0.05)]
    decision = should_abstain("What did Ratcliffe eat on the flight?", hits, settings, STATS)
    assert decision.abstain


def test_no_hits_is_refused_and_abstain_off_never_refuses():
    assert should_abstain("Who?", [], GroundingSettings()).abstain
    off = GroundingSettings(abstain=False)
    assert not should_abstain("Who is the head of MI6?", HITS, off, STATS).abstain


def _grounded(supported: bool, model_abstained: bool, fallback: bool = False) -> GroundingResult:
    cites = (Citation(1, "a.txt", "", "id", 0, 5, "x"),) if supported else ()
    checks = (SentenceCheck("x", (1,), supported, 0.9 if supported else 0.1, 0.5, 0.5),)
    return GroundingResult("x", cites, checks, fallback=fallback, model_abstained=model_abstained)


def test_after_generation():
    settings = GroundingSettings()
    before = should_abstain("Who spoke with Naryshkin?", HITS[:1], settings, STATS)
    partial = AbstainDecision(
        False, None, AbstainSignals(coverage=0.5, best_dense=0.4, best_bm25=2.0)
    )
    # the model refused and retrieval was not conclusive: refuse
    assert after_generation(partial, _grounded(True, True, fallback=True), settings).abstain
    # the model refused but the key terms are all there: keep the quoted fallback
    assert not after_generation(before, _grounded(True, True, fallback=True), settings).abstain
    # nothing supported and nothing to quote: refuse
    assert after_generation(before, _grounded(False, False), settings).abstain
    assert not after_generation(before, _grounded(True, False), settings).abstain


@pytest.mark.slow
def test_abstention_on_the_question_set(tmp_path_factory):
    from index.config import IndexSettings
    from index.embedding import get_embedder
    from index.pipeline import ingest
    from index.store import open_index
    from rag.config import RetrievalSettings
    from rag.retrieval import build_retriever
    from rag.rewrite import heuristic_rewrite
    from rag.types import Message

    settings = IndexSettings(data_dir=tmp_path_factory.mktemp("abstain") / "rag")
    ingest([CORPUS], settings)
    index = open_index(settings)
    retriever = build_retriever(RetrievalSettings(), index, get_embedder(settings))
    stats = TermStats(c.text for s in index.sources() for c in index.chunks_of(s))
    hits = {}
    for q in QUESTIONS:
        history = [Message(m["role"], m["content"]) for m in q.get("history", [])]
        query = heuristic_rewrite(q["question"], history)
        hits[q["id"]] = (query, retriever.retrieve(query, 5))
    # The thresholds were set on this set; the model was fitted on DEV data (SQuAD, the suite's
    # DEV half) and never saw it, so it is held to rates rather than to every question.
    for name, grounding, most_answered in (
        ("coverage thresholds", GroundingSettings(refusal_model=False), 0),
        ("refusal model", GroundingSettings(), 1),
    ):
        table = {(a, r): 0 for a in (True, False) for r in (True, False)}
        wrong = []
        for q in QUESTIONS:
            query, found = hits[q["id"]]
            decision = should_abstain(query, found, grounding, stats)
            answerable = q["kind"] != "unanswerable"
            table[(answerable, decision.abstain)] += 1
            if answerable == decision.abstain:
                wrong.append((q["id"], decision.reason, decision.signals.to_json()))
        print(f"\nabstention (pre-generation, {name}), rows: truth, columns: decision")
        print(f"{'':14}{'answered':>10}{'refused':>10}")
        print(f"{'answerable':14}{table[(True, False)]:>10}{table[(True, True)]:>10}")
        print(f"{'unanswerable':14}{table[(False, False)]:>10}{table[(False, True)]:>10}")
        for item in wrong:
            print("  wrong:", item)
        answerable_total = table[(True, False)] + table[(True, True)]
        assert table[(False, False)] <= most_answered, wrong  # unanswerable questions answered
        assert table[(True, True)] <= answerable_total // 10, wrong  # at most 10% over-refusal


def test_question_words_together_in_one_sentence_beat_words_scattered_over_passages():
    from rag.answerability import default_model, feature_values

    question = "Who spoke with CIA Director John Ratcliffe on Tuesday?"
    together = retrieval_signals(question, [hit(TEXTS[0], dense=0.3)], STATS)
    scattered = [
        hit("John Ratcliffe was confirmed in January.", dense=0.3),
        hit("The CIA Director travels often.", dense=0.3),
        hit("Markets fell on Tuesday. Few analysts spoke about it.", dense=0.3),
    ]
    apart = retrieval_signals(question, scattered, STATS)
    assert together.coverage == apart.coverage == 1.0  # every key word is somewhere
    assert together.sentence_coverage > apart.sentence_coverage
    assert together.passage_coverage > apart.passage_coverage
    model = default_model()
    assert model is not None, "rag/answerability_weights.json is missing or stale"
    assert model.probability(feature_values(together)) > model.probability(feature_values(apart))
    assert not should_abstain(
        question, [hit(TEXTS[0], dense=0.3)], GroundingSettings(), STATS
    ).abstain
    refused = should_abstain(question, scattered, GroundingSettings(), STATS)
    assert refused.abstain and "chance of an answer" in refused.reason


def test_without_the_refusal_model_the_thresholds_decide():
    rules = GroundingSettings(refusal_model=False)
    decision = should_abstain("What is the agency's annual budget?", HITS, rules, STATS)
    assert decision.abstain and "coverage" in decision.reason


def test_a_name_the_document_title_holds_is_no_premise_gap():
    chunk = Chunk(id="v", source="v.txt", title="Victoria and Albert Museum", position=0,
                  text="The museum holds 2.27 million objects. Its collection spans 5,000 years.",
                  start=0, end=72, n_tokens=20)  # fmt: skip
    hits = [Hit(chunk=chunk, score=1.0)]
    before = should_abstain("How many objects?", hits, GroundingSettings())
    assert premise_decision("How many objects does the V&A hold?", hits, before, None) is None
    refused = premise_decision("How many objects does the Louvre hold?", hits, before, None)
    assert refused is not None and "Louvre" in refused.reason


def test_a_refusal_never_says_the_documents_lack_a_word_another_passage_has():
    def chunk(name: str, text: str) -> Chunk:
        return Chunk(id=name, source=f"{name}.txt", title="", position=0, text=text,
                     start=0, end=len(text), n_tokens=len(text.split()))  # fmt: skip

    war = chunk("a", "The call came as Ukraine weighed a proposed 30-day ceasefire with Russia.")
    answer = chunk("b", "The spy chiefs agreed to keep in touch to reduce tensions.")
    hits = [Hit(chunk=answer, score=1.0), Hit(chunk=war, score=0.9)]
    before = should_abstain("What did the spy chiefs agree?", hits, GroundingSettings())
    question = "What did the spy chiefs agree during the war in Ukraine?"
    refused = premise_decision(question, hits, before, answer)
    assert refused is not None and "Ukraine" in refused.reason
    assert "the documents do not say" not in refused.reason
    assert "passage the answer would come from" in refused.reason
    # a name no passage has is said to be missing from the documents
    absent = premise_decision("What did the spy chiefs agree in Syria?", hits, before, answer)
    assert absent is not None and absent.reason.startswith("the documents do not say 'Syria'")
