"""Text as the short-answer reader sees it: tokens, candidate spans and sentences.

`parse(text)` turns a text into a `Parsed` value with spaCy (`rag.nlp`): tokens with their
lemma, part of speech and dependency head, named-entity spans and noun chunks. The reader
ranks spans of these; `evals/answering/handwritten.py` builds the same values with regular
expressions, so both are measured through one ranking code path.

Sentences come from `index.sentences.split_sentences`, the splitter chunking and grounding
use, so a supporting sentence here is a sentence there too.

`spans(doc, sentence, question_lemmas)` gives the candidate spans of a sentence, trimmed of
determiners and of the question's own words, never inside a name; `canon(lemma)` maps a few
words a question and a document use for the same thing to one term ("heads" / "director").

This module does not score or choose answers.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from index.sentences import split_sentences


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words a question and a document use for the same thing; each class matches as one term.
_EQUIVALENT_CLASSES = (
    "head lead direct run chair director chief leader boss chairman",
    "call phone talk speak conversation",
    "meet meeting",
    "start begin initiate launch",
)
_CANON = {w: c.split()[0] for c in _EQUIVALENT_CLASSES for w in c.split()}


def canon(lemma: str) -> str:
    return _CANON.get(lemma, lemma)


# Words of a title before a name: "SVR Director Sergey Naryshkin" may lose "Director".
_TITLE_WORDS = _words(
    """director chief head president minister secretary general chairman ceo king queen
    prince senator governor mayor judge officer spokesperson leader founder"""
)
_EDGE_WORDS = _words("the a an this that these those its his her their our your 's \u2019s and or")
_NOT_ANSWERS = _words("PRON DET ADP CCONJ SCONJ PART PUNCT AUX")
BYLINE = re.compile(r"^\s*(by|written by|reporting by)\s+[A-Z]", re.IGNORECASE)  # "By NAME"


@dataclass(frozen=True)
class Token:
    text: str
    lemma: str  # lower-case lemma ("initiated" -> "initiate")
    pos: str  # universal part of speech (NOUN, PROPN, VERB, AUX, NUM, ADJ, ...), "X" if unknown
    start: int  # character offsets in the parsed text
    end: int
    stop: bool  # a stop word or punctuation: never a matching term
    head: int  # index of the syntactic head (itself for a root; -1 if unparsed)
    dep: str = ""  # dependency label (nsubj, dobj, pobj...), "" if unparsed


@dataclass(frozen=True)
class Span:
    """Tokens [first, last) forming a candidate: a named entity or a noun phrase."""

    first: int
    last: int
    label: str  # spaCy entity label (PERSON, GPE, DATE...), or "NP" for a noun chunk


@dataclass(frozen=True)
class Parsed:
    text: str
    tokens: tuple[Token, ...]
    spans: tuple[Span, ...]
    sentences: tuple[tuple[int, int], ...]  # token ranges [first, last) of each sentence

    def span_text(self, first: int, last: int) -> str:
        return self.text[self.tokens[first].start : self.tokens[last - 1].end]


def sentence_ranges(text: str, starts: list[int]) -> tuple[tuple[int, int], ...]:
    """Token ranges of the splitter's sentences, given each token's start offset."""
    out = []
    i = 0
    for _, end in split_sentences(text):
        first = i
        while i < len(starts) and starts[i] < end:
            i += 1
        if i > first:
            out.append((first, i))
    return tuple(out)


@functools.lru_cache(maxsize=1024)
def parse(text: str) -> Parsed:
    """Tokens, entities and noun chunks of `text` by spaCy (cached by `rag.nlp`)."""
    from rag.nlp import analyse

    doc = analyse(text)
    tokens = tuple(
        Token(
            text=t.text,
            lemma=t.lemma_.lower(),
            pos=t.pos_,
            start=t.idx,
            end=t.idx + len(t.text),
            stop=t.is_stop or t.is_punct or t.is_space,
            head=t.head.i,
            dep=t.dep_,
        )
        for t in doc
        if not t.is_space
    )
    # Index shift: whitespace tokens are dropped, so map spaCy indices to ours.
    index: dict[int, int] = {}
    for t in doc:
        if not t.is_space:
            index[t.i] = len(index)
    tokens = tuple(
        Token(t.text, t.lemma, t.pos, t.start, t.end, t.stop, index.get(t.head, i), t.dep)
        for i, t in enumerate(tokens)
    )
    spans: list[Span] = []
    for group, label_of in ((doc.ents, lambda s: s.label_), (doc.noun_chunks, lambda s: "NP")):
        for s in group:
            kept = [index[i] for i in range(s.start, s.end) if i in index]
            if kept:
                spans.append(Span(kept[0], kept[-1] + 1, label_of(s)))
    starts = [t.start for t in tokens]
    return Parsed(text, tokens, tuple(spans), sentence_ranges(text, starts))


def is_statement(doc: Parsed, s: tuple[int, int], title: str) -> bool:
    """False for headings, titles and bylines: they name things but state nothing.

    A sentence without a verb (when tagged), the chunk's title, a line in Title Case or
    a "By NAME" line is not a statement."""
    text = doc.span_text(*s)
    if text.strip() == title.strip() or BYLINE.match(text):
        return False
    tokens = doc.tokens[s[0] : s[1]]
    if any(t.pos != "X" for t in tokens) and not any(t.pos in ("VERB", "AUX") for t in tokens):
        return False
    words = [t.text for t in tokens if len(t.text) > 3 and t.text[0].isalpha()]
    return not (len(words) >= 2 and all(w[0].isupper() for w in words))


def spans(doc: Parsed, s: tuple[int, int], q_lemmas: set[str]) -> list[tuple[Span, Span]]:
    """(trimmed, whole) entity and noun-phrase spans of the sentence.

    Edges lose determiners, punctuation and conjunctions; noun phrases also lose the
    question's own words ("SVR Director Sergey Naryshkin" -> "Sergey Naryshkin"), but never
    inside a name ("the Five Eyes alliance" keeps "Five" though the question says "five").
    A span found twice keeps the entity label and the widest whole phrase.
    """
    names = [e for e in doc.spans if e.label != "NP"]
    found: dict[tuple[int, int], tuple[Span, Span]] = {}
    for span in doc.spans:
        if span.first < s[0] or span.last > s[1]:
            continue
        trim_question = span.label == "NP"
        first, last = span.first, span.last
        while first < last and _edge(doc, first, first + 1, q_lemmas, trim_question, names):
            first += 1
        while last > first and _edge(doc, last - 1, last - 2, q_lemmas, trim_question, names):
            last -= 1
        toks = doc.tokens[first:last]
        if not toks or all(t.pos in _NOT_ANSWERS or (t.stop and t.pos != "NUM") for t in toks):
            continue
        if span.label != "NP" and _named_by_question(doc, first, last, q_lemmas):
            continue  # the question's own subject is not its answer
        key = (first, last)
        if key in found:
            kept, whole = found[key]
            wider = span if span.last - span.first > whole.last - whole.first else whole
            label = kept.label if kept.label != "NP" else span.label
            found[key] = (Span(first, last, label), wider)
        else:
            found[key] = (Span(first, last, span.label), span)
    return list(found.values())


def _named_by_question(doc: Parsed, first: int, last: int, q_lemmas: set[str]) -> bool:
    """Half its words are the question's, or its initials, but for one word at most, are a
    question word ("U.S. Central Intelligence Agency" for "CIA")."""
    words = [t for t in doc.tokens[first:last] if not t.stop] or doc.tokens[first:last]
    initials = "".join(t.text[0] for t in words if t.text[:1].isupper()).lower()
    if len(initials) == len(words) and any(
        initials[i:j] in q_lemmas
        for i in range(2)
        for j in range(max(i + 2, len(initials) - 1 + i), len(initials) + 1)
    ):
        return True
    return sum(canon(t.lemma) in q_lemmas for t in words) * 2 >= len(words)


def _edge(
    doc: Parsed, k: int, inner: int, q_lemmas: set[str], trim_question: bool, names: list[Span]
) -> bool:
    """Whether token k, at a span's edge, should be cut off (`inner`: its neighbour inside)."""
    t = doc.tokens[k]
    low = t.text.lower()
    if low in _EDGE_WORDS or t.pos in ("CCONJ", "ADP"):
        return True
    if not any(c.isalnum() for c in low):
        return True
    if not trim_question or canon(t.lemma) not in q_lemmas:
        return False
    if any(n.first <= k < n.last and n.first <= inner < n.last for n in names):
        return False  # the word belongs to a name that goes on
    nxt = doc.tokens[inner] if 0 <= inner < len(doc.tokens) else None
    return not (
        t.text[:1].isupper()
        and nxt is not None
        and nxt.text[:1].isupper()
        and t.pos == "PROPN"
        and nxt.pos == "PROPN"
        and not _titles(t.lemma)
    )


def _titles(lemma: str) -> bool:
    return lemma in _TITLE_WORDS


def span_root(doc: Parsed, span: Span) -> int:
    """The token of the span whose head lies outside it."""
    for j in range(span.first, span.last):
        if not span.first <= doc.tokens[j].head < span.last:
            return j
    return span.first


def tree_distance(doc: Parsed, span: Span, k: int) -> int:
    """Edges between the span's root and token k in the dependency tree (10 if unparsed)."""
    path_a = _path_to_root(doc, span_root(doc, span))
    path_b = _path_to_root(doc, k)
    if not path_a or not path_b:
        return 10
    common = set(path_a) & set(path_b)
    if not common:
        return 10
    up_a = next(n for n, j in enumerate(path_a) if j in common)
    up_b = next(n for n, j in enumerate(path_b) if j in common)
    return up_a + up_b


def _path_to_root(doc: Parsed, k: int) -> list[int]:
    path = [k]
    while doc.tokens[path[-1]].head not in (-1, path[-1]) and len(path) < 50:
        path.append(doc.tokens[path[-1]].head)
    return path if doc.tokens[k].head != -1 else []
