"""Check a generated answer against the passages it was given: markers, support, spans.

After generation: [n] markers ("[1]", "[1, 2]", "[1][2]") that do not match a passage are
removed; the answer is split into sentences (index.sentences.split_sentences) and each one is
scored against the text it cites. Lexical support is the share of the sentence's content words
(stemmed, stopwords removed) found in the cited chunks; semantic support is the best cosine
between the sentence and a sentence of the cited chunks (the embedder); combined =
w * lexical + (1 - w) * semantic, supported when >= the threshold (settings.grounding) and
every name and number of the sentence occurs in the cited text. A
sentence without a marker is checked against every passage and, when supported, gets the best
passage's marker. Each cited passage becomes one Citation whose span is the best-matching
sentence(s) of the chunk, in document offsets. When no sentence is supported the answer is
replaced by an extractive one (rag.extractive.best_sentences) with its citations.

Hostile input (issue 7): before any of that the answer is made plain text (rag.sanitize: no
markup, hidden characters, markdown images/links or links that no ordinary passage sentence
holds), and a sentence that quotes an injected instruction or only repeats what one says
("KUMQUAT.") is dropped. Instruction-like passage sentences (rag.sanitize.looks_hostile) never
count as support and are never quoted by the fallback.

This module does not decide abstention (abstain.py) or call a model.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from index.sentences import split_sentences
from index.types import Chunk
from rag.backends.base import Passage
from rag.citations import clean_markers, parse_markers, strip_markers
from rag.config import GroundingSettings
from rag.extractive import best_sentences, content_terms
from rag.prompts import ABSTAIN_TEXT
from rag.sanitize import allowed_urls, clean_answer, looks_hostile, strip_invisible
from rag.types import Citation, SentenceCheck

_WORD_RE = re.compile(r"\w+")
FALLBACK_SENTENCES = 2


_NAME_RE = re.compile(r"\b([A-Z][\w'’-]*|\w*\d\w*)")


def name_terms(text: str) -> list[str]:
    """Stemmed terms of the names and numbers in `text`: capitalised words that do not open
    the text, and anything with a digit ("Who won the 2022 World Cup?" -> 2022, world, cup)."""
    found = [m.group(1) for m in _NAME_RE.finditer(text.strip()) if m.start() > 0]
    return list(dict.fromkeys(t for word in found for t in content_terms(word)))


def is_abstention(text: str) -> bool:
    """Whether `text` is (essentially) the fixed abstention sentence."""
    norm = " ".join(strip_markers(text).lower().split()).rstrip(".")
    target = ABSTAIN_TEXT.lower().rstrip(".")
    return norm.startswith(target) or norm.startswith("i could not find")


@dataclass(frozen=True)
class GroundingResult:
    text: str
    citations: tuple[Citation, ...]
    sentences: tuple[SentenceCheck, ...]
    fallback: bool = False
    model_abstained: bool = False  # the model wrote the abstention sentence


@dataclass(frozen=True)
class _Support:
    combined: float
    lexical: float
    semantic: float
    best_n: int  # passage with the best match
    spans: dict[int, tuple[int, int]]  # passage n -> best chunk-relative sentence span
    missing_names: tuple[str, ...] = ()  # names/numbers of the sentence the passages lack


class SupportScorer:
    """Scores sentences against chunks; caches each chunk's sentence spans and embeddings."""

    def __init__(self, embedder=None, settings: GroundingSettings | None = None) -> None:
        self.embedder = embedder
        self.settings = settings or GroundingSettings()
        self._cache: OrderedDict[str, tuple[list[tuple[int, int]], np.ndarray | None]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    def _spans(self, chunk: Chunk) -> list[tuple[int, int]]:
        # Injected instructions in a document never count as support for anything.
        spans = [
            (s, e)
            for s, e in split_sentences(chunk.text)
            if chunk.text[s:e].strip() and not looks_hostile(chunk.text[s:e])
        ]
        return spans or [(0, 0)]

    def prepare(self, chunks: Sequence[Chunk], sentences: list[str]) -> list[np.ndarray | None]:
        """Cache the chunks' sentences (one embedding batch for everything not cached yet)
        and return the vectors of `sentences`."""
        with self._lock:
            todo = list({c.id: c for c in chunks if c.id not in self._cache}.values())
        spans = {c.id: self._spans(c) for c in todo}
        texts = [c.text[s:e] for c in todo for s, e in spans[c.id]] + sentences
        vectors = None
        if self.embedder is not None and texts:
            vectors = np.asarray(self.embedder.embed_documents(texts))
        offset = 0
        with self._lock:
            for chunk in todo:
                n = len(spans[chunk.id])
                chunk_vecs = vectors[offset : offset + n] if vectors is not None else None
                self._cache[chunk.id] = (spans[chunk.id], chunk_vecs)
                offset += n
            while len(self._cache) > 2048:
                self._cache.popitem(last=False)
        if vectors is None:
            return [None] * len(sentences)
        return list(vectors[offset:])

    def _chunk_sentences(self, chunk: Chunk) -> tuple[list[tuple[int, int]], np.ndarray | None]:
        with self._lock:
            cached = self._cache.get(chunk.id)
        if cached is None:
            self.prepare([chunk], [])
            with self._lock:
                cached = self._cache[chunk.id]
        return cached

    def _one(self, terms: set[str], vector: np.ndarray | None, chunk: Chunk):
        """(covered terms, best cosine, best-matching sentence span) for one chunk."""
        w = self.settings.lexical_weight
        chunk_spans, vectors = self._chunk_sentences(chunk)
        covered: set[str] = set()
        best_value, best_sim, best_span = -1.0, 0.0, chunk_spans[0]
        for i, (s, e) in enumerate(chunk_spans):
            sentence_terms = terms & set(content_terms(chunk.text[s:e]))
            covered |= sentence_terms
            lex = len(sentence_terms) / len(terms) if terms else 0.0
            sim = float(vectors[i] @ vector) if vectors is not None and vector is not None else 0.0
            value = w * lex + (1 - w) * sim if vector is not None else lex
            best_sim = max(best_sim, sim)
            if value > best_value:
                best_value, best_span = value, (s, e)
        return covered, best_sim, best_span

    def score(
        self, sentence: str, vector: np.ndarray | None, passages: Sequence[Passage], *, pick: bool
    ) -> _Support:
        """Support of `sentence` by `passages` together (pick=False: the passages it cites) or
        by the single best of them (pick=True: an unmarked sentence gets that one's marker)."""
        terms = set(content_terms(sentence))
        w = self.settings.lexical_weight
        per = {p.n: self._one(terms, vector, p.chunk) for p in passages}

        def verdict(covered: set[str], sim: float) -> tuple[float, float, float]:
            lexical = len(covered) / len(terms) if terms else 0.0
            semantic = sim if vector is not None else lexical
            return w * lexical + (1 - w) * max(0.0, semantic), lexical, semantic

        spans = {n: span for n, (_, _, span) in per.items()}
        names = name_terms(sentence)
        if pick:
            scored = {n: verdict(cov, sim) for n, (cov, sim, _) in per.items()}
            best_n = max(scored, key=lambda n: (scored[n][0], -n))
            missing = tuple(t for t in names if t not in per[best_n][0])
            return _Support(*scored[best_n], best_n, spans, missing)
        covered = set().union(*(cov for cov, _, _ in per.values()))
        best_sim = max(sim for _, sim, _ in per.values())
        best_n = max(per, key=lambda n: (per[n][1], -n))
        missing = tuple(t for t in names if t not in covered)
        return _Support(*verdict(covered, best_sim), best_n, spans, missing)


def _shown_span(
    before: tuple[bool, float, tuple[int, int]] | None, supported: bool, support: _Support, n: int
) -> tuple[bool, float, tuple[int, int]]:
    """The span of passage n to highlight, given one more sentence citing it: the supported
    sentences' spans joined (so each cited sentence is highlighted), else the best-scoring."""
    span = support.spans[n]
    if before is None or (supported and not before[0]):
        return supported, support.combined, span
    was_supported, score, (start, end) = before
    if supported:
        return True, max(score, support.combined), (min(start, span[0]), max(end, span[1]))
    if not was_supported and support.combined > score:
        return False, support.combined, span
    return before


def _citation(passage: Passage, span: tuple[int, int]) -> Citation:
    chunk = passage.chunk
    s, e = span
    return Citation(
        n=passage.n,
        source=chunk.source,
        title=chunk.title,
        chunk_id=chunk.id,
        start=chunk.start + s,
        end=chunk.start + e,
        text=chunk.text[s:e],
        chunk_text=chunk.text,
        chunk_start=chunk.start,
        page=chunk.page,
        path=chunk.path,
    )


def _with_marker(sentence: str, n: int) -> str:
    body = sentence.rstrip()
    tail = ""
    while body and body[-1] in ".!?\"'”":
        tail = body[-1] + tail
        body = body[:-1]
    return f"{body.rstrip()} [{n}]{tail}"


def _hostile_profile(passages: Sequence[Passage]) -> tuple[set[str], set[str]]:
    """Terms that occur in the passages only inside instruction-like sentences, and the web
    links of their ordinary sentences (the only links an answer may repeat)."""
    injected: set[str] = set()
    normal: set[str] = set()
    ordinary: list[str] = []
    for passage in passages:
        text = passage.chunk.text
        for s, e in split_sentences(text):
            hostile = looks_hostile(text[s:e])
            (injected if hostile else normal).update(content_terms(strip_invisible(text[s:e])))
            if not hostile:
                ordinary.append(text[s:e])
    return injected - normal, allowed_urls(ordinary)


def _obeys(sentence: str, injected: set[str]) -> bool:
    """Whether `sentence` repeats what only an injected instruction says: one of its names,
    or mostly its words ("KUMQUAT.", "I cannot help with that request.")."""
    if injected.intersection(name_terms(sentence)):
        return True
    terms = set(content_terms(strip_markers(sentence)))
    return bool(terms) and len(terms & injected) >= 0.5 * len(terms)


def check_answer(
    answer: str,
    passages: Sequence[Passage],
    scorer: SupportScorer,
    *,
    question: str = "",
    fallback: bool = True,
) -> GroundingResult:
    """Validate markers, score each sentence, build citations; fall back when nothing holds."""
    by_n = {p.n: p for p in passages}
    injected, links = _hostile_profile(passages)
    # Markup, hidden characters and links no ordinary passage sentence holds are never shown.
    text = clean_markers(clean_answer(answer, links), set(by_n))
    model_abstained = is_abstention(text)
    spans = [(s, e) for s, e in split_sentences(text) if _WORD_RE.search(text[s:e])]
    pieces = [text[s:e].strip() for s, e in spans]
    # A quoted injection ("Ignore your instructions...") is dropped from the answer, and so is
    # a sentence that obeys one (it carries a name, or mostly words, only an injection has).
    pieces = [p for p in pieces if not looks_hostile(p) and not _obeys(p, injected)]
    claims = [i for i, p in enumerate(pieces) if not is_abstention(p)]
    bare = [strip_markers(pieces[i]) for i in claims]
    vectors = scorer.prepare([p.chunk for p in passages], bare)

    checks: list[SentenceCheck] = []
    # passage n -> (a supported sentence cites it, best score, span shown for it)
    cited_spans: dict[int, tuple[bool, float, tuple[int, int]]] = {}
    out = list(pieces)
    threshold = scorer.settings.support_threshold
    for i, sentence, vector in zip(claims, bare, vectors, strict=True):
        markers = list(dict.fromkeys(parse_markers(pieces[i])))
        targets = [by_n[n] for n in markers] if markers else list(passages)
        if not targets:
            checks.append(SentenceCheck(sentence, (), False, 0.0, 0.0, 0.0))
            continue
        support = scorer.score(sentence, vector, targets, pick=not markers)
        # A name or number the cited text does not contain is an invention, whatever the score.
        supported = support.combined >= threshold and not support.missing_names
        if not markers and supported:
            markers = [support.best_n]
            out[i] = _with_marker(pieces[i], support.best_n)
        for n in markers:
            cited_spans[n] = _shown_span(cited_spans.get(n), supported, support, n)
        checks.append(
            SentenceCheck(
                sentence=sentence,
                citations=tuple(markers),
                supported=supported,
                score=support.combined,
                lexical=support.lexical,
                semantic=support.semantic,
            )
        )

    if fallback and passages and not any(c.supported for c in checks):
        extractive = extractive_answer(question or answer, passages, scorer)
        if extractive.citations:
            return replace(extractive, model_abstained=model_abstained)

    citations = tuple(_citation(by_n[n], span) for n, (_, _, span) in sorted(cited_spans.items()))
    return GroundingResult(
        text=" ".join(out).strip(),
        citations=citations,
        sentences=tuple(checks),
        model_abstained=model_abstained,
    )


def extractive_answer(
    question: str, passages: Sequence[Passage], scorer: SupportScorer, k: int = FALLBACK_SENTENCES
) -> GroundingResult:
    """The best supporting sentences of the passages, verbatim, each with its marker."""
    by_n = {p.n: p for p in passages}
    _, links = _hostile_profile(passages)
    selected, texts = [], []
    for sel in best_sentences(question, list(passages), k + 3, embedder=scorer.embedder):
        # Quotes are plain text too: a sentence that is only markup has nothing to say.
        text = " ".join(clean_answer(strip_markers(sel.text), links).split())
        if text and _WORD_RE.search(text) and not looks_hostile(sel.text) and len(texts) < k:
            selected.append(sel)
            texts.append(text)
    sentences, checks = [], []
    cited: dict[int, tuple[int, int]] = {}
    vectors = scorer.prepare([p.chunk for p in passages], texts)
    for sel, text, vector in zip(selected, texts, vectors, strict=True):
        chunk = by_n[sel.n].chunk
        cited.setdefault(sel.n, _chunk_relative(chunk, sel.start, sel.end, sel.text))
        sentences.append(_with_marker(text, sel.n))
        # Quotes are scored like any answer sentence (they score high, being verbatim).
        support = scorer.score(text, vector, [by_n[sel.n]], pick=False)
        checks.append(
            SentenceCheck(
                sentence=text,
                citations=(sel.n,),
                supported=support.combined >= scorer.settings.support_threshold
                and not support.missing_names,
                score=support.combined,
                lexical=support.lexical,
                semantic=support.semantic,
            )
        )
    citations = tuple(_citation(by_n[n], span) for n, span in sorted(cited.items()))
    return GroundingResult(
        text=" ".join(sentences), citations=citations, sentences=tuple(checks), fallback=True
    )


def _chunk_relative(chunk: Chunk, start: int, end: int, text: str) -> tuple[int, int]:
    """Offsets of a selected sentence inside the chunk (accepts chunk or document offsets)."""
    if chunk.text[start:end] == text:
        return start, end
    if chunk.text[start - chunk.start : end - chunk.start] == text:
        return start - chunk.start, end - chunk.start
    found = chunk.text.find(text)
    return (found, found + len(text)) if found >= 0 else (0, len(chunk.text))
