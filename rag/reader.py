"""The short-answer reader: the few words of the passages that answer a question, or None.

`read(question, passages)` picks the sentences that share the most (weighted) question terms,
collects candidate spans in them (named entities of the expected answer type from
`rag.answer_types`, else noun phrases), drops spans the question already names, and scores
each candidate on type fit, its sentence's match, its distance to the question's words in
the sentence and in the parse tree. The best candidate is returned as a `ShortAnswer` with
document offsets of the span and of its supporting sentence, or None when no candidate fits
or the best one is not clearly ahead: leading with the quoted sentence beats a confident
wrong phrase.

Headings, titles and bylines are never answers: a sentence without a verb, the chunk's
title, a line in Title Case or a "By NAME" line is skipped.

It does not retrieve, generate or check claims; it only reads the passages it is given.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.answer_types import type_of
from rag.backends.base import Passage
from rag.reader_text import Parsed, Span, Token, parse

# Parts of speech that carry a question's meaning ("X": untagged text, decided by `stop`).
_CONTENT = frozenset(["NOUN", "PROPN", "VERB", "ADJ", "NUM", "ADV", "X"])
_NEVER_TERMS = frozenset(
    [
        "who",
        "whom",
        "whose",
        "what",
        "which",
        "when",
        "where",
        "why",
        "how",
        "name",
        "type",
        "kind",
        "many",
        "much",
        "do",
        "does",
        "did",
    ]
)
_EDGE_WORDS = frozenset(
    [
        "the",
        "a",
        "an",
        "this",
        "that",
        "these",
        "those",
        "its",
        "his",
        "her",
        "their",
        "our",
        "your",
    ]
)
# Words of a title before a name: "SVR Director Sergey Naryshkin" may lose "Director".
_TITLE_WORDS = frozenset(
    [
        "director",
        "chief",
        "head",
        "president",
        "minister",
        "secretary",
        "general",
        "chairman",
        "ceo",
        "king",
        "queen",
        "prince",
        "senator",
        "governor",
        "mayor",
        "judge",
        "officer",
        "spokesperson",
        "leader",
        "founder",
    ]
)
_BYLINE = re.compile(r"^\s*(by|written by|reporting by)\s+[A-Z]", re.IGNORECASE)
TOP_SENTENCES = 3


@dataclass(frozen=True)
class ShortAnswer:
    text: str  # the short answer, exact text of the document
    n: int  # the [n] of the passage it comes from
    start: int  # document character offsets of the span (Chunk.start-based, like Citation)
    end: int
    sentence_start: int  # the supporting sentence, document offsets
    sentence_end: int
    kind: str  # expected answer type: person, organisation, date, number, place, thing, ...
    score: float  # confidence in [0, 1]


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
    "GPE": "place",
    "LOC": "place",
    "FAC": "place",
    "NORP": "norp",
    "DATE": "date",
    "TIME": "date",
    "CARDINAL": "num",
    "QUANTITY": "num",
    "MONEY": "num",
    "PERCENT": "num",
    "ORDINAL": "num",
    "NP": "np",
    "CAP": "cap",
}
_LABEL_GROUP_NAMES = ("person", "org", "place", "norp", "date", "num", "other", "np", "cap")
FEATURES = (
    "sentence",  # the sentence's matched question weight / the best sentence's
    "sentence_rank",  # 0 for the best sentence, 1, 2
    "coverage",  # the sentence's matched question weight / the question's total
    "type",  # 1 for the expected type's first label, falling for later ones, 0 if none fits
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
    *(f"{k}:{g}" for k in _KIND_GROUPS for g in _LABEL_GROUP_NAMES),
)
# Hand-set weights (features not named weigh 0), the fallback and the measured baseline.
HAND_WEIGHTS = {
    "sentence": 1.0,
    "sentence_rank": -0.3,
    "type": 2.0,
    "head": 0.5,
    "in_question": -2.0,
    "near": 1.0,
    "tree": 1.0,
    "window": 1.0,
    "length": -0.2,
}
WEIGHTS_FILE = Path(__file__).with_name("reader_weights.json")


def load_weights(path: Path = WEIGHTS_FILE) -> tuple[float, ...]:
    """Weights fitted on SQuAD DEV questions (evals/answering/reader_eval.py --fit), or the
    hand-set ones when the file is missing or was fitted for other features."""
    try:
        fitted = json.loads(path.read_text(encoding="utf-8"))
        if tuple(fitted["features"]) == FEATURES:
            return tuple(float(w) for w in fitted["weights"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return tuple(HAND_WEIGHTS.get(f, 0.0) for f in FEATURES)


WEIGHTS = load_weights()
MIN_SCORE = 0.15  # below this share of the candidates' probability the reader says nothing


def read(
    question: str,
    passages: Sequence[Passage],
    *,
    parser: Callable[[str], Parsed] = parse,
) -> ShortAnswer | None:
    """The short answer to `question` from `passages`, or None when unsure."""
    ranked = rank(question, passages, parser=parser)
    if not ranked:
        return None
    (best, score), parsed = ranked[0], parser(passages[ranked[0][0].passage].chunk.text)
    if score < MIN_SCORE:
        return None
    chunk = passages[best.passage].chunk
    start = parsed.tokens[best.first].start
    end = parsed.tokens[best.last - 1].end
    s_first, s_last = best.sentence
    return ShortAnswer(
        text=chunk.text[start:end],
        n=passages[best.passage].n,
        start=chunk.start + start,
        end=chunk.start + end,
        sentence_start=chunk.start + parsed.tokens[s_first].start,
        sentence_end=chunk.start + parsed.tokens[s_last - 1].end,
        kind=type_of(parser(question)).kind,
        score=round(score, 3),
    )


def rank(
    question: str,
    passages: Sequence[Passage],
    *,
    parser: Callable[[str], Parsed] = parse,
    weights: Sequence[float] | None = None,
) -> list[tuple[Candidate, float]]:
    """Every candidate with its probability of being the pick (a softmax), best first."""
    w = WEIGHTS if weights is None else weights
    cands = candidates(question, passages, parser=parser)
    if not cands:
        return []
    z = [sum(wi * fi for wi, fi in zip(w, c.features, strict=True)) for c in cands]
    top = max(z)
    e = [math.exp(v - top) for v in z]
    total = sum(e)
    return sorted(((c, v / total) for c, v in zip(cands, e, strict=True)), key=lambda cs: -cs[1])


def candidates(
    question: str,
    passages: Sequence[Passage],
    *,
    parser: Callable[[str], Parsed] = parse,
) -> list[Candidate]:
    """Candidate spans of the best-matching sentences, with their features."""
    q = parser(question)
    ask = _Question(q)
    parsed = [parser(p.chunk.text) for p in passages]
    sentences = [
        (i, s)
        for i, (p, doc) in enumerate(zip(passages, parsed, strict=True))
        for s in doc.sentences
        if _answerable(doc, s, p.chunk.title)
    ]
    if not sentences or not ask.terms:
        return []
    weight = _idf(ask.terms, [_lemmas(parsed[i], s) for i, s in sentences])
    total = sum(weight.values())
    scored = []
    for i, s in sentences:
        matched = set(ask.terms) & _lemmas(parsed[i], s)
        scored.append((sum(weight[t] for t in matched), i, s))
    scored.sort(key=lambda x: -x[0])
    top = scored[0][0]
    if top <= 0:
        return []
    out: list[Candidate] = []
    for rank_, (s_score, i, s) in enumerate(scored[:TOP_SENTENCES]):
        doc = parsed[i]
        hits = [k for k in range(*s) if _canon(doc.tokens[k].lemma) in weight]
        context = _Sentence(doc, s, hits, weight, s_score / top, rank_, s_score / total)
        for span, whole in _spans(doc, s, ask.lemmas):
            feats = _features(context, span, whole, ask)
            out.append(Candidate(i, s, span.first, span.last, span.label, feats))
    return out


class _Question:
    """What the features need to know about the question."""

    def __init__(self, q: Parsed) -> None:
        self.type = type_of(q)
        self.lemmas = {_canon(t.lemma) for t in q.tokens if not t.stop} | {
            t.text.lower() for t in q.tokens
        }
        self.terms = [_canon(t.lemma) for t in q.tokens if _is_term(t.lemma, t.pos, t.stop)]
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


@dataclass(frozen=True)
class _Sentence:
    doc: Parsed
    range: tuple[int, int]
    hits: list[int]  # tokens matching question terms
    weight: dict[str, float]
    score: float
    rank: int
    coverage: float


_WH_WORDS = frozenset(["who", "whom", "whose", "what", "which", "when", "where", "why", "how"])


# Words a question and a document use for the same thing; each class matches as one term.
_EQUIVALENT_CLASSES = (
    "head lead direct run chair director chief leader boss chairman",
    "call phone talk speak conversation",
    "meet meeting",
    "start begin initiate launch",
)
_CANON = {w: c.split()[0] for c in _EQUIVALENT_CLASSES for w in c.split()}


def _canon(lemma: str) -> str:
    return _CANON.get(lemma, lemma)


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
    return {_canon(doc.tokens[k].lemma) for k in range(*s)}


def _idf(terms: list[str], sentence_lemmas: list[set[str]]) -> dict[str, float]:
    """Rarer terms among the candidate sentences count for more."""
    n = len(sentence_lemmas)
    return {t: math.log(1 + n / (1 + sum(t in ls for ls in sentence_lemmas))) + 0.5 for t in terms}


def _answerable(doc: Parsed, s: tuple[int, int], title: str) -> bool:
    """False for headings, titles and bylines: they name things but state nothing."""
    text = doc.span_text(*s)
    if text.strip() == title.strip() or _BYLINE.match(text):
        return False
    tokens = doc.tokens[s[0] : s[1]]
    if any(t.pos != "X" for t in tokens) and not any(t.pos in ("VERB", "AUX") for t in tokens):
        return False
    words = [t.text for t in tokens if len(t.text) > 3 and t.text[0].isalpha()]
    return not (len(words) >= 2 and all(w[0].isupper() for w in words))


def _spans(doc: Parsed, s: tuple[int, int], q_lemmas: set[str]) -> list[tuple[Span, Span]]:
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
    """Half its words are the question's, or its initials are a question word (CIA)."""
    words = [t for t in doc.tokens[first:last] if not t.stop] or doc.tokens[first:last]
    initials = "".join(t.text[0] for t in words if t.text[:1].isupper()).lower()
    if len(initials) >= 2 and len(initials) == len(words) and initials in q_lemmas:
        return True
    return sum(_canon(t.lemma) in q_lemmas for t in words) * 2 >= len(words)


_NOT_ANSWERS = frozenset(("PRON", "DET", "ADP", "CCONJ", "SCONJ", "PART", "PUNCT", "AUX"))


def _edge(
    doc: Parsed, k: int, inner: int, q_lemmas: set[str], trim_question: bool, names: list[Span]
) -> bool:
    """Whether token k, at a span's edge, should be cut off (`inner`: its neighbour inside)."""
    t = doc.tokens[k]
    low = t.text.lower()
    if low in _EDGE_WORDS or low in ("'s", "\u2019s", "and", "or") or t.pos in ("CCONJ", "ADP"):
        return True
    if not any(c.isalnum() for c in low):
        return True
    if not trim_question or _canon(t.lemma) not in q_lemmas:
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


def _features(ctx: _Sentence, span: Span, whole: Span, ask: _Question) -> tuple[float, ...]:
    doc = ctx.doc
    toks = doc.tokens[span.first : span.last]
    words = [t for t in toks if not t.stop] or list(toks)
    atype = ask.type
    f: dict[str, float] = {
        "sentence": ctx.score,
        "sentence_rank": float(ctx.rank),
        "coverage": ctx.coverage,
        "entity": float(span.label != "NP"),
        "trimmed": float(
            any(
                _canon(doc.tokens[k].lemma) in ask.lemmas
                for k in range(whole.first, whole.last)
                if not span.first <= k < span.last
            )
        ),
        "in_question": sum(_canon(t.lemma) in ask.lemmas for t in words) / len(words),
        "length": math.log1p(len(toks)),
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
        f["tree"] = 1.0 / (1.0 + min(_tree_distance(doc, span, k) for k in outside))
        lemma_weight = [ctx.weight[_canon(doc.tokens[k].lemma)] for k in outside]
        close = sum(
            w
            for k, w in zip(outside, lemma_weight, strict=True)
            if span.first - 5 <= k < span.last + 5
        )
        f["window"] = close / sum(lemma_weight)
        right = sum(k >= span.last for k in outside) / len(outside)
        f["left_subject" if ask.wh_subject else "left_other"] = right
    root = doc.tokens[_root(doc, span)]
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
    attached = float(_canon(governor.lemma) in ask.lemmas)
    same = governor.lemma == ask.verb and root.dep == ask.role and prep == ask.prep
    return attached, float(same and bool(ask.verb))


def _root(doc: Parsed, span: Span) -> int:
    for j in range(span.first, span.last):
        if not span.first <= doc.tokens[j].head < span.last:
            return j
    return span.first


def _tree_distance(doc: Parsed, span: Span, k: int) -> int:
    """Edges between the span's root and token k in the dependency tree (10 if unparsed)."""
    path_a = _path_to_root(doc, _root(doc, span))
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
