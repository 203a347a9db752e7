"""Check a generated answer against the passages it was given: markers, support, spans.

After generation the answer is made plain text (rag.sanitize: no markup, hidden characters,
markdown images/links, or links that no ordinary passage sentence holds), and [n] markers
that do not match a passage are removed (rag.citations). The answer is split into sentences
(index.sentences.split_sentences); a sentence that quotes an injected instruction or only
repeats what one says is dropped (rag.injection). Each remaining sentence is scored against
the passages it cites (rag.support); a sentence without a marker is checked against every
passage and, when supported, gets the best passage's marker. With `claims=True` a supported
sentence must also pass rag.claims.check_claim against the text it cites: a name, number,
date or key word the cited text lacks, or its entities in swapped roles, make it unsupported
whatever the overlap (the reason is kept on its SentenceCheck). Each cited passage becomes one
`Citation` whose span is the supported sentences' match in the chunk (document offsets).
When no sentence is supported the answer is replaced by quoted passage sentences
(rag.fallback).

This module does not decide abstention (rag.abstain) or call a model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from index.sentences import split_sentences
from rag.backends.base import Passage
from rag.citations import add_marker, citation_for, clean_markers, parse_markers, strip_markers
from rag.claims import check_claim
from rag.fallback import fallback_answer
from rag.injection import hostile_profile, looks_hostile, obeys
from rag.nlp import NlpUnavailable
from rag.prompts import ABSTAIN_TEXT
from rag.sanitize import clean_answer
from rag.support import GroundingResult, Support, SupportScorer
from rag.types import SentenceCheck

__all__ = ["GroundingResult", "SupportScorer", "check_answer", "is_abstention"]

_WORD_RE = re.compile(r"\w+")
# passage n -> (a supported sentence cites it, best score, span of the chunk shown for it)
_Shown = tuple[bool, float, tuple[int, int]]


def is_abstention(text: str) -> bool:
    """Whether `text` is (essentially) the fixed abstention sentence."""
    norm = " ".join(strip_markers(text).lower().split()).rstrip(".")
    target = ABSTAIN_TEXT.lower().rstrip(".")
    return norm.startswith(target) or norm.startswith("i could not find")


def _shown_span(before: _Shown | None, supported: bool, support: Support, n: int) -> _Shown:
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


def check_answer(
    answer: str,
    passages: Sequence[Passage],
    scorer: SupportScorer,
    *,
    question: str = "",
    fallback: bool = True,
    claims: bool = False,
) -> GroundingResult:
    """Validate markers, score each sentence, build citations; fall back when nothing holds."""
    by_n = {p.n: p for p in passages}
    profile = hostile_profile(passages)
    text = clean_markers(clean_answer(answer, profile.links), set(by_n))
    model_abstained = is_abstention(text)
    spans = [(s, e) for s, e in split_sentences(text) if _WORD_RE.search(text[s:e])]
    pieces = [text[s:e].strip() for s, e in spans]
    pieces = [p for p in pieces if not looks_hostile(p) and not obeys(p, profile.injected_terms)]
    statements = [i for i, p in enumerate(pieces) if not is_abstention(p)]
    bare = [strip_markers(pieces[i]) for i in statements]
    vectors = scorer.prepare([p.chunk for p in passages], bare)

    checks: list[SentenceCheck] = []
    shown: dict[int, _Shown] = {}
    out = list(pieces)
    for i, sentence, vector in zip(statements, bare, vectors, strict=True):
        markers = list(dict.fromkeys(parse_markers(pieces[i])))
        targets = [by_n[n] for n in markers] if markers else list(passages)
        if not targets:
            checks.append(SentenceCheck(sentence, (), False, 0.0, 0.0, 0.0))
            continue
        support = scorer.score(sentence, vector, targets, pick=not markers)
        supported = support.holds(scorer.threshold)
        reason = ""
        if supported and claims:
            cited = [by_n[n] for n in markers] if markers else [by_n[support.best_n]]
            try:
                verdict = check_claim(sentence, "\n\n".join(p.chunk.text for p in cited))
                supported, reason = verdict.supported, verdict.reason
            except NlpUnavailable:  # without spaCy's model the support score decides alone
                pass
        if not markers and supported:
            markers = [support.best_n]
            out[i] = add_marker(pieces[i], support.best_n)
        for n in markers:
            shown[n] = _shown_span(shown.get(n), supported, support, n)
        check = support.check(sentence, markers, scorer.threshold)
        checks.append(replace(check, supported=supported, reason=reason))

    if fallback and passages and not any(c.supported for c in checks):
        quoted = fallback_answer(question or answer, passages, scorer)
        if quoted.citations:
            return replace(quoted, model_abstained=model_abstained)

    citations = tuple(citation_for(by_n[n], span) for n, (_, _, span) in sorted(shown.items()))
    return GroundingResult(
        text=" ".join(out).strip(),
        citations=citations,
        sentences=tuple(checks),
        model_abstained=model_abstained,
    )
