"""Text as the short-answer reader sees it: tokens, candidate spans and sentences.

`parse(text)` turns a text into a `Parsed` value with spaCy (`rag.nlp`): tokens with their
lemma, part of speech and dependency head, named-entity spans and noun chunks. The reader
ranks spans of these; `evals/answering/handwritten.py` builds the same values with regular
expressions, so both are measured through one ranking code path.

Sentences come from `index.sentences.split_sentences`, the splitter chunking and grounding
use, so a supporting sentence here is a sentence there too.

This module does not choose answers or know about questions.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from index.sentences import split_sentences


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
    index = {}
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
