"""Candidate answers of the short-answer reader and the features it ranks them by.

`candidates(question, passages)` scores every sentence of the passages by the (rarity
weighted) question terms it shares plus `DENSE_WEIGHT` times its embedding cosine with the
question (rag.wordsim: a paraphrase shares few words), reads first the sentences that also
hold an entity of the asked-for type (a person for "who"), keeps the best three that state
something (see `rag.reader_text.is_statement`: no headings, titles or bylines), and collects
in them the named entities and noun phrases, trimmed of determiners and of the question's own
words ("SVR Director Sergey Naryshkin" -> "Sergey Naryshkin") but never cut inside a name.
Spans the question itself names are dropped, also by its acronym ("U.S. Central Intelligence
Agency" for "CIA"). Each candidate carries the values listed in `FEATURES`: type fit,
sentence match and cosine, distance to the question's words in the sentence and in the parse
tree, syntactic role, the embedding cosines of the span and of its neighbouring words with
the question, and one indicator per (answer kind, entity label) pair.

A few word classes count as one term ("heads" / "director" / "chief"; "call" / "talk").
This module does not weigh the features: `rag.reader` does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag.answer_types import type_of
from rag.backends.base import Passage
from rag.reader_text import (
    Parsed,
    Span,
    Token,
    canon,
    is_statement,
    parse,
    span_root,
    spans,
    tree_distance,
)
from rag.wordsim import default_similarity


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Parts of speech that carry a question's meaning ("X": untagged text, decided by `stop`).
_CONTENT = _words("NOUN PROPN VERB ADJ NUM ADV X")
_NEVER_TERMS = _words(
    "who whom whose what which when where why how name type kind many much do does did"
)
# Verbs that say little about what a sentence must state ("mentioned", "called", "known").
_VAGUE_VERBS = _words(
    """be do have mention say call make get give take go use know consider include refer
    describe name list"""
)
_WH_WORDS = _words("who whom whose what which when where why how")
TOP_SENTENCES = 3
# Weight of a sentence's cosine with the question beside its shared-word score (scaled to the
# best sentence's), chosen on DEV: with the gold paragraph, the top sentence holds a gold
# answer for 0.822 of 600 SQuAD DEV questions by shared words alone, 0.847 with it (0.25 to 1
# give 0.843-0.848).
DENSE_WEIGHT = 0.5
# ... and of holding an entity of the asked-for type, when choosing the sentences to read
# (neutral on SQuAD DEV, where the gold paragraph rarely has two such sentences; it keeps
# "CIA Director John Ratcliffe ..." among those read when many sentences name CIA leaders)
TYPE_WEIGHT = 0.25


@dataclass(frozen=True)
class Candidate:
    """A span of one sentence with the features the score is made of."""

    passage: int  # index into the passages
    sentence: tuple[int, int]  # token range
    first: int  # token range of the (trimmed) span
    last: int
    label: str
    features: tuple[float, ...]


_KIND_GROUPS = ("person", "organisation", "place", "date", "number", "thing")
_LABEL_GROUPS = {
    "PERSON": "person",
    "ORG": "org",
    "NORP": "norp",
    **dict.fromkeys(("GPE", "LOC", "FAC"), "place"),
    **dict.fromkeys(("DATE", "TIME"), "date"),
    **dict.fromkeys(("CARDINAL", "QUANTITY", "MONEY", "PERCENT", "ORDINAL"), "num"),
    "NP": "np",
    "CAP": "cap",
}
_LABEL_GROUP_NAMES = ("person", "org", "place", "norp", "date", "num", "other", "np", "cap")
FEATURES = (
    "sentence",  # the sentence's matched question weight / the best sentence's
    "sentence_rank",  # 0 for the first sentence read, 1, 2
    "sentence_gap",  # the sentence's score (shared words and cosine) minus the best one's
    "dense",  # the sentence's embedding cosine with the question
    "coverage",  # the sentence's matched question weight / the question's total
    "lacks_predicate",  # the question's verb ("hosted") is not in the sentence
    "type",  # 1 for the expected type's first label, falling for later ones, 0 if none fits
    "typed",  # the question asks for entity types (who, when, where, how many, which city)
    "entity",  # a named entity (any label)
    "head",  # the span, before trimming, holds the question's head noun ("alliance")
    "head_next",  # the question's head noun is the word next to the span ("Jin [dynasty]")
    "trimmed",  # question words were cut off the span's edges ("[SVR Director] Naryshkin")
    "in_question",  # share of the span's words that the question already has
    "near",  # 1 / (1 + token distance to the nearest matched question word)
    "tree",  # 1 / (1 + parse-tree distance to the nearest matched question word)
    "window",  # matched question weight within 5 tokens / all matched in the sentence
    "left_subject",  # share of matched words right of the span, when the wh-word is a subject
    "left_other",  # the same share when it is not
    "attached",  # the span's root hangs on a word of the question (through a preposition)
    "role",  # it hangs on the question's wh-verb in the wh-phrase's role ("who" -> nsubj)
    "subject",  # the span's root is a subject
    "object",  # the span's root is an object, attribute or apposition
    "length",  # log(1 + tokens in the span)
    "head_sim",  # the span's embedding cosine with the question's head noun ("serial")
    "q_sim",  # the span's embedding cosine with the question
    "ctx_sim",  # the cosine of the words around the span (6 each side) with the question
    *(f"{k}:{g}" for k in _KIND_GROUPS for g in _LABEL_GROUP_NAMES),
)


def candidates(
    question: str,
    passages: Sequence[Passage],
    *,
    parser: Callable[[str], Parsed] = parse,
) -> list[Candidate]:
    """Candidate spans of the best-matching sentences, with their features. The cosines are
    the bundled MiniLM's (rag.wordsim) whatever the index embeds with: the weights were
    fitted on them."""
    q = parser(question)
    ask = _Question(q)
    parsed = [parser(p.chunk.text) for p in passages]
    sentences = [
        (i, s)
        for i, (p, doc) in enumerate(zip(passages, parsed, strict=True))
        for s in doc.sentences
        if is_statement(doc, s, p.chunk.title)
    ]
    if not sentences or not ask.terms:
        return []
    lemmas = [_lemmas(parsed[i], s) for i, s in sentences]
    weight = _idf(ask.terms, lemmas)
    total = sum(weight.values())
    shared = [sum(weight[t] for t in set(ask.terms) & ls) for ls in lemmas]
    top = max(shared)
    if top <= 0:
        return []
    texts = [parsed[i].span_text(*s) for i, s in sentences]
    dense = default_similarity().cosines(question, texts)
    score = [x / top + DENSE_WEIGHT * d for x, d in zip(shared, dense, strict=True)]
    best = max(score)
    found = [spans(parsed[i], s, ask.lemmas) for i, s in sentences]
    # a sentence naming something of the asked-for type comes first among equals
    label = ask.type.labels[0] if ask.type.labels else None
    typed = [any(span.label == label for span, _ in f) for f in found]
    order = sorted(range(len(sentences)), key=lambda k: -(score[k] + TYPE_WEIGHT * typed[k]))
    out: list[Candidate] = []
    for rank_, k in enumerate(order[:TOP_SENTENCES]):
        i, s = sentences[k]
        doc = parsed[i]
        hits = [j for j in range(*s) if canon(doc.tokens[j].lemma) in weight]
        lacks = bool(ask.predicates) and not ask.predicates & lemmas[k]
        context = _Sentence(
            doc,
            s,
            hits,
            weight,
            score=shared[k] / top,
            rank=rank_,
            gap=score[k] - best,
            dense=dense[k],
            coverage=shared[k] / total,
            lacks_predicate=float(lacks),
        )
        sims = _meanings(question, ask, doc, s, [span for span, _ in found[k]])
        for (span, whole), sim in zip(found[k], sims, strict=True):
            feats = _features(context, span, whole, ask, sim)
            out.append(Candidate(i, s, span.first, span.last, span.label, feats))
    return out


class _Question:
    """What the features need to know about the question."""

    def __init__(self, q: Parsed) -> None:
        self.type = type_of(q)
        self.lemmas = {canon(t.lemma) for t in q.tokens if not t.stop} | {
            t.text.lower() for t in q.tokens
        }
        self.terms = [canon(t.lemma) for t in q.tokens if _is_term(t.lemma, t.pos, t.stop)]
        self.kind = _kind_group(self.type.kind)
        wh = next((t for t in q.tokens if t.text.lower() in _WH_WORDS), None)
        if wh is not None and wh.dep == "det" and 0 <= wh.head < len(q.tokens):
            wh = q.tokens[wh.head]
        self.wh_subject = wh is not None and wh.dep in ("nsubj", "nsubjpass")
        # The wh-phrase's role: its dependency, the word it hangs on, and its preposition.
        self.role, self.verb, self.prep = "", "", ""
        if wh is not None and 0 <= wh.head < len(q.tokens):
            self.role, governor = wh.dep, q.tokens[wh.head]
            if wh.dep == "pobj":
                self.prep = governor.lemma
                if 0 <= governor.head < len(q.tokens):
                    governor = q.tokens[governor.head]
            self.verb = governor.lemma
        # The question's own predicate ("hosted" in "Which country hosted the talks?").
        self.predicates = {
            canon(t.lemma)
            for t in q.tokens
            if t.dep == "ROOT" and t.pos == "VERB" and t.lemma not in _VAGUE_VERBS
        }


@dataclass(frozen=True)
class _Sentence:
    doc: Parsed
    range: tuple[int, int]
    hits: list[int]  # tokens matching question terms
    weight: dict[str, float]
    score: float
    rank: int
    gap: float  # the sentence's score (shared words and cosine) minus the best sentence's
    dense: float  # the sentence's cosine with the question
    coverage: float
    lacks_predicate: float  # the question's predicate verb is not in the sentence


def _kind_group(kind: str) -> str:
    if kind in ("money", "percent", "duration", "ordinal"):
        return "number"
    return kind if kind in _KIND_GROUPS else "thing"


def _is_term(lemma: str, pos: str, stop: bool) -> bool:
    return (
        not stop
        and pos in _CONTENT
        and lemma not in _NEVER_TERMS
        and any(c.isalnum() for c in lemma)
    )


def _lemmas(doc: Parsed, s: tuple[int, int]) -> set[str]:
    return {canon(doc.tokens[k].lemma) for k in range(*s)}


def _idf(terms: list[str], sentence_lemmas: list[set[str]]) -> dict[str, float]:
    """Rarer terms among the candidate sentences count for more."""
    n = len(sentence_lemmas)
    return {t: math.log(1 + n / (1 + sum(t in ls for ls in sentence_lemmas))) + 0.5 for t in terms}


def _meanings(
    question: str, ask: _Question, doc: Parsed, s: tuple[int, int], found: list[Span]
) -> list[dict[str, float]]:
    """The embedding cosines of each span: with the question's head noun ("serial"), with the
    question, and of the six words either side of it with the question."""
    sim = default_similarity()
    texts = [doc.span_text(span.first, span.last) for span in found]
    around = [
        " ".join(
            doc.span_text(a, b)
            for a, b in ((max(s[0], p.first - 6), p.first), (p.last, min(s[1], p.last + 6)))
            if a < b
        )
        for p in found
    ]
    head = ask.type.head
    by_head = sim.cosines(head, texts) if head else [0.0] * len(texts)
    by_question = sim.cosines(question, texts)
    by_context = sim.cosines(question, [a or "." for a in around])
    return [
        {"head_sim": h, "q_sim": q, "ctx_sim": c}
        for h, q, c in zip(by_head, by_question, by_context, strict=True)
    ]


def _features(
    ctx: _Sentence, span: Span, whole: Span, ask: _Question, sims: dict[str, float]
) -> tuple[float, ...]:
    doc = ctx.doc
    toks = doc.tokens[span.first : span.last]
    words = [t for t in toks if not t.stop] or list(toks)
    atype = ask.type
    f: dict[str, float] = {
        "sentence": ctx.score,
        "sentence_rank": float(ctx.rank),
        "sentence_gap": ctx.gap,
        "dense": ctx.dense,
        "coverage": ctx.coverage,
        "lacks_predicate": ctx.lacks_predicate,
        "entity": float(span.label != "NP"),
        "typed": float(bool(atype.labels)),
        "trimmed": float(
            any(
                canon(doc.tokens[k].lemma) in ask.lemmas
                for k in range(whole.first, whole.last)
                if not span.first <= k < span.last
            )
        ),
        "in_question": sum(canon(t.lemma) in ask.lemmas for t in words) / len(words),
        "length": math.log1p(len(toks)),
        **sims,
    }
    if span.label in atype.labels:
        f["type"] = 1.0 - 0.25 * atype.labels.index(span.label)
    elif span.label == "NP" and not atype.labels:
        f["type"] = 0.6
    if atype.head is not None:
        f["head"] = float(any(t.lemma == atype.head for t in doc.tokens[whole.first : whole.last]))
        nearby = (span.first - 1, span.last)
        f["head_next"] = float(
            any(
                ctx.range[0] <= k < ctx.range[1] and doc.tokens[k].lemma == atype.head
                for k in nearby
            )
        )
    outside = [k for k in ctx.hits if not span.first <= k < span.last]
    if outside:
        gap = min(span.first - k if k < span.first else k - span.last + 1 for k in outside)
        f["near"] = 1.0 / (1.0 + gap)
        f["tree"] = 1.0 / (1.0 + min(tree_distance(doc, span, k) for k in outside))
        lemma_weight = [ctx.weight[canon(doc.tokens[k].lemma)] for k in outside]
        close = sum(
            w
            for k, w in zip(outside, lemma_weight, strict=True)
            if span.first - 5 <= k < span.last + 5
        )
        f["window"] = close / sum(lemma_weight)
        right = sum(k >= span.last for k in outside) / len(outside)
        f["left_subject" if ask.wh_subject else "left_other"] = right
    root = doc.tokens[span_root(doc, span)]
    f["attached"], f["role"] = _attachment(doc, root, ask)
    f["subject"] = float(root.dep in ("nsubj", "nsubjpass"))
    f["object"] = float(root.dep in ("dobj", "pobj", "attr", "appos", "oprd"))
    group = _LABEL_GROUPS.get(span.label, "other")
    f[f"{ask.kind}:{group}"] = 1.0
    return tuple(f.get(name, 0.0) for name in FEATURES)


def _attachment(doc: Parsed, root: Token, ask: _Question) -> tuple[float, float]:
    if not 0 <= root.head < len(doc.tokens) or doc.tokens[root.head] is root:
        return 0.0, 0.0
    governor, prep = doc.tokens[root.head], ""
    if root.dep == "pobj" and 0 <= governor.head < len(doc.tokens):
        prep, governor = governor.lemma, doc.tokens[governor.head]
    attached = float(canon(governor.lemma) in ask.lemmas)
    same = governor.lemma == ask.verb and root.dep == ask.role and prep == ask.prep
    return attached, float(same and bool(ask.verb))
