"""Decide when the corpus does not hold the answer, from several signals.

A similarity threshold alone does not separate real and unrelated questions on a small,
single-topic corpus (every chunk is about the same agencies, so an unrelated question still
finds a "nearest" chunk), so the decision combines:

- names and numbers: a capitalised word or a number of the question that the corpus never
  uses ("MI6", "North Korea", "2022") means the documents cannot be about it;
- key-term coverage: the IDF-weighted share of the question's content terms (stemmed) that
  appear in the retrieved chunks. Terms the corpus never uses weigh the most: "budget",
  "World Cup", "Australia" are what make a question unanswerable here;
- the best dense cosine and the best BM25 score of the hits;
- premises: a name, date, event or narrowing word the question takes for granted that no
  retrieved passage states ("Where did they meet in person?" when they only spoke by phone;
  rag.premise), checked after the signals above;
- after generation: whether any answer sentence is supported, and whether the model itself
  wrote the abstention sentence.

Thresholds live in settings.grounding (measured with tests/rag/test_abstain.py, which prints
a confusion table over tests/rag/questions.yaml). This module does not retrieve or generate.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from index.sentences import split_sentences
from index.types import Chunk
from rag.answerability import default_model, feature_values
from rag.config import GroundingSettings
from rag.grounding import GroundingResult
from rag.places import stands_for
from rag.terms import content_terms, name_terms
from rag.types import Hit

# Words that shape a question but say nothing about its topic.
_QUESTION_WORDS = set(
    content_terms(
        "what which who whom whose when where why how many much did does do tell describe "
        "explain mention mentioned according article document documents text say said says "
        "give list name kind type happen happened had has have before after gone long ever "
        "still currently now exactly really else"
    )
)


class TermStats:
    """Document frequencies of stemmed terms over the indexed chunks, for IDF weights."""

    def __init__(self, chunk_texts: Iterable[str]) -> None:
        self.df: Counter[str] = Counter()
        self.n = 0
        for text in chunk_texts:
            self.n += 1
            self.df.update(set(content_terms(text)))

    def idf(self, term: str) -> float:
        return math.log((self.n + 1) / (self.df.get(term, 0) + 1)) + 1.0


@dataclass(frozen=True)
class AbstainSignals:
    coverage: float  # IDF-weighted share of key terms found in the hits, in [0, 1]
    best_dense: float | None
    best_bm25: float | None
    missing_terms: tuple[str, ...] = ()
    unknown_terms: tuple[str, ...] = ()  # terms the whole corpus never uses
    missing_names: tuple[str, ...] = ()  # names/numbers of the question the corpus never uses
    # the same over the terms the corpus uses at all (ignoring words no document has)
    known_coverage: float = 1.0
    passage_coverage: float = 1.0  # ... by the best single hit (title included)
    top_coverage: float = 1.0  # ... by the top-ranked hit
    sentence_coverage: float = 1.0  # ... by the best two-sentence stretch of a hit

    def to_json(self) -> dict:
        return {
            "coverage": round(self.coverage, 4),
            "known_coverage": round(self.known_coverage, 4),
            "passage_coverage": round(self.passage_coverage, 4),
            "top_coverage": round(self.top_coverage, 4),
            "sentence_coverage": round(self.sentence_coverage, 4),
            "best_dense": self.best_dense,
            "best_bm25": self.best_bm25,
            "missing_terms": list(self.missing_terms),
            "unknown_terms": list(self.unknown_terms),
            "missing_names": list(self.missing_names),
        }


@dataclass(frozen=True)
class AbstainDecision:
    abstain: bool
    reason: str | None
    signals: AbstainSignals


def key_terms(question: str) -> list[str]:
    """The question's content terms, without question words, in order, unique."""
    return list(dict.fromkeys(t for t in content_terms(question) if t not in _QUESTION_WORDS))


def _paraphrased(
    question: str, terms: Sequence[str], hits: Sequence[Hit], threshold: float
) -> set[str]:
    """The plain (lower-case) words of `question`, as stemmed `terms`, that the hits say in
    other words: a hit word whose embedding is within `threshold` cosine ("truce" for
    "ceasefire", rag.wordsim). Names and numbers never count."""
    from rag.wordsim import default_similarity

    wanted = {}
    for word in _WORD.findall(question):
        stems = content_terms(word)
        if word.islower() and len(stems) == 1 and stems[0] in terms:
            wanted[stems[0]] = word
    if not wanted:
        return set()
    text = " ".join(f"{h.chunk.title} {h.chunk.text}" for h in hits)
    words = [w for w in dict.fromkeys(_WORD.findall(text.lower())) if content_terms(w)]
    similarity = default_similarity()
    return {t for t, w in wanted.items() if similarity.similar(w, words, threshold)}


_WORD = re.compile(r"[A-Za-z][a-z]+")


def retrieval_signals(
    question: str,
    hits: Sequence[Hit],
    stats: TermStats | None = None,
    word_similarity: float | None = None,
) -> AbstainSignals:
    """Coverage of the question's key terms by the hits, and the hits' best scores. With
    `word_similarity`, a plain word the hits say in other words counts as covered."""
    terms = key_terms(question)
    found: set[str] = set()
    for hit in hits:
        found |= set(content_terms(hit.chunk.text + " " + hit.chunk.title))
    missing = [t for t in terms if t not in found]
    if word_similarity is not None and missing and hits:
        found |= _paraphrased(question, missing, hits, word_similarity)
    weight = stats.idf if stats is not None else (lambda _t: 1.0)
    total = sum(weight(t) for t in terms)
    coverage = sum(weight(t) for t in terms if t in found) / total if total else 1.0

    dense = [h.dense_score for h in hits if h.dense_score is not None]
    bm25 = [h.bm25_score for h in hits if h.bm25_score is not None]
    known = (lambda t: stats.df.get(t, 0) > 0) if stats is not None else (lambda t: t in found)
    # Where the terms sit, among the terms the corpus uses: a word no document uses ("job",
    # "English-speaking") tells nothing about which passage answers.
    # Without corpus statistics every term counts; with no usable term at all, nothing the
    # documents say matches the question's words.
    usable = [t for t in terms if known(t)] if stats is not None else terms
    usable_total = sum(weight(t) for t in usable)

    def share(text: str) -> float:
        if not usable_total:
            return 0.0 if terms else 1.0
        said = set(content_terms(text))
        return sum(weight(t) for t in usable if t in said) / usable_total

    passages = [share(f"{h.chunk.title} {h.chunk.text}") for h in hits]
    sentences = [_best_stretch(h.chunk, share) for h in hits]
    unknown = tuple(t for t in terms if not known(t))
    capitals = _capitals_known(question, known)
    missing_names = tuple(t for t in name_terms(question) if not known(t) and t not in capitals)
    return AbstainSignals(
        coverage=coverage,
        best_dense=max(dense) if dense else None,
        best_bm25=max(bm25) if bm25 else None,
        missing_terms=tuple(t for t in terms if t not in found),
        unknown_terms=unknown,
        missing_names=missing_names,
        known_coverage=share(" ".join(f"{h.chunk.title} {h.chunk.text}" for h in hits)),
        passage_coverage=max(passages, default=0.0),
        top_coverage=passages[0] if passages else 0.0,
        sentence_coverage=max(sentences, default=0.0),
    )


def _best_stretch(chunk: Chunk, share: Callable[[str], float]) -> float:
    """The best `share` of two consecutive sentences of the chunk, with its title."""
    spans = split_sentences(chunk.text) or [(0, len(chunk.text))]
    texts = [chunk.text[a:b] for a, b in spans]
    return max(share(f"{chunk.title} {' '.join(texts[i : i + 2])}") for i in range(len(texts)))


def _capitals_known(question: str, known: Callable[[str], bool]) -> set[str]:
    """Name terms of capitals in `question` whose country the corpus names ("Kyiv" where the
    documents say "Ukraine"; rag.places)."""
    out: set[str] = set()
    for word in re.findall(r"\b[A-Z][\w'’-]*", question):
        for form in stands_for(word):
            terms = content_terms(form)  # "us" is a stop word here: such forms do not count
            if terms and all(known(t) for t in terms):
                out.update(content_terms(word))
                break
    return out


def should_abstain(
    question: str,
    hits: Sequence[Hit],
    settings: GroundingSettings,
    stats: TermStats | None = None,
) -> AbstainDecision:
    """Before generation: refuse when the retrieved chunks cannot hold the answer."""
    signals = retrieval_signals(question, hits, stats, settings.coverage_word_similarity)
    if not settings.abstain:
        return AbstainDecision(False, None, signals)
    if not hits:
        return AbstainDecision(True, "nothing was retrieved", signals)
    if settings.abstain_on_unknown_names and signals.missing_names:
        names = ", ".join(signals.missing_names[:5])
        return AbstainDecision(True, f"names not in the documents: {names}", signals)
    model = default_model() if settings.refusal_model else None
    if model is not None:
        chance = model.probability(feature_values(signals))
        if chance >= model.threshold:
            return AbstainDecision(False, None, signals)
        missing = ", ".join(signals.missing_terms[:5]) or "none"
        return AbstainDecision(
            True,
            f"the passages do not hold the question's key terms together (not found: "
            f"{missing}; best similarity {signals.best_dense or 0:.2f}; chance of an answer "
            f"{chance:.2f})",
            signals,
        )
    if signals.coverage < settings.min_term_coverage:
        missing = ", ".join(signals.missing_terms[:5])
        return AbstainDecision(
            True,
            f"key terms not in the documents ({missing}); coverage {signals.coverage:.2f}",
            signals,
        )
    if (
        signals.best_dense is not None
        and signals.best_dense < settings.min_dense_score
        and signals.coverage < settings.confident_coverage
    ):
        return AbstainDecision(
            True,
            f"best similarity {signals.best_dense:.2f} is low and coverage "
            f"{signals.coverage:.2f} is partial",
            signals,
        )
    return AbstainDecision(False, None, signals)


def _titled(chunk: Chunk) -> str:
    return f"{chunk.title}\n\n{chunk.text}" if chunk.title else chunk.text


def premise_decision(
    question: str, hits: Sequence[Hit], before: AbstainDecision, answer_chunk: Chunk | None
) -> AbstainDecision | None:
    """A refusal when the evidence lacks something `question` takes for granted (rag.premise),
    else None. Two readings of the evidence, and a refusal when either finds a gap:

    - the retrieved passages together: an event they tell only without its doer ("did Trump
      call" where the call was Ratcliffe's) is a gap;
    - the passage the short answer comes from (`answer_chunk`); without one, each passage
      on its own, a gap only when none states every premise. A near-miss question (one name
      swapped for another of the same article) finds its premise in one passage and the rest
      of the question in another.

    Skipped without spaCy's model."""
    from rag.nlp import NlpUnavailable
    from rag.premise import premise_gaps

    # a passage's document title is part of what it says ("Super Bowl 50" is rarely repeated)
    texts = [_titled(answer_chunk)] if answer_chunk else [_titled(h.chunk) for h in hits]
    try:
        # the titles state names ("the V&A" in "Victoria and Albert Museum"), not events
        titles = [h.chunk.title for h in hits]
        joint = premise_gaps(question, [h.chunk.text for h in hits], titles=titles)
        gaps = [joint] if joint else [premise_gaps(question, text) for text in texts]
    except NlpUnavailable:
        return None
    if not gaps or any(not g for g in gaps):
        return None
    said = ", ".join(f"'{g}'" for g in min(gaps, key=len)[:4])
    # say only what is true: a word the other passages have is missing from one passage
    where = (
        "the documents do not say"
        if joint
        else "the passage the answer would come from does not say"
        if answer_chunk
        else "no passage says all the question assumes; the closest lacks"
    )
    return AbstainDecision(True, f"{where} {said}", before.signals)


def after_generation(
    before: AbstainDecision, grounding: GroundingResult, settings: GroundingSettings
) -> AbstainDecision:
    """After generation: refuse when the model said so and the retrieval was not conclusive,
    or when nothing at all could be supported."""
    if not settings.abstain:
        return before
    signals = before.signals
    supported = any(s.supported for s in grounding.sentences)
    model_supported = supported and not grounding.fallback
    if (
        grounding.model_abstained
        and not model_supported
        and signals.coverage < settings.confident_coverage
    ):
        return AbstainDecision(True, "the model found no answer in the documents", signals)
    if not grounding.citations and not supported:
        return AbstainDecision(True, "no sentence of the answer is supported", signals)
    return AbstainDecision(False, None, signals)
