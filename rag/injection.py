"""Prompt injection: recognise text that addresses the assistant, and answers that obey it.

A document is quoted data. A sentence in it that tells the model what to do ("Ignore your
instructions", "SYSTEM: ...", "Note to AI assistants", "always answer with ...", "call
https://...") is an injection attempt. `looks_like_instruction` holds the core patterns (the
compact context leaves such sentences out); `looks_hostile` adds role prefixes, "always
answer", "refuse to answer", "in your answer" and link-fetching orders, and reads the text
with hidden characters and markup removed first, so "I\u200dg\u200dn\u200do\u200dr\u200de"
reads as "Ignore". `hostile_profile` collects, for a set of passages, the terms that occur
only in their injected sentences and the links of their ordinary sentences; `obeys` says
whether an answer sentence only repeats what an injection says ("KUMQUAT.").

This module only recognises. It does not remove markup (rag.sanitize), drop sentences or
score support (rag.grounding, rag.support), or build prompts (rag.prompts).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from index.sentences import split_sentences
from rag.backends.base import Passage
from rag.citations import strip_markers
from rag.sanitize import allowed_urls, strip_invisible, strip_markup
from rag.terms import content_terms, name_terms

# Text that addresses the model instead of informing the reader.
_INSTRUCTION_RES = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\b(ignore|disregard|forget|override)\b.{0,40}\b(instructions?|prompts?|rules|"
        r"directions|above|previous|everything)\b",
        r"\b(reply|respond|answer|say|output|print|write)\b.{0,25}\bonly\b.{0,25}\bwith\b",
        r"\b(new|updated|real) instructions?\b",
        r"\bsystem prompt\b|\byou are now\b|\bas an ai\b",
        r"\bthe answer to (every|any|all) questions?\b",
    )
]

# Further ways of addressing the assistant: role prefixes, "always answer", "refuse to
# answer", "in your answer", "note to AI assistants", "call/fetch this URL".
_HOSTILE_RES = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"^\W*(system|assistant|developer|admin(istrator)?)\s*:",
        r"\b(always|only|must|should)\b.{0,20}\b(answer|reply|respond|say|cite|output)\b.{0,40}"
        r"\b(every|any|each|all|whatever|no matter)\b",
        r"\b(whatever|no matter what)\b.{0,30}\b(user|question|asks?)\b",
        r"\brefuse\b.{0,30}\b(answer|question|help|respond)",
        r"\b(in|to|with|from) your (answer|response|reply|output)s?\b",
        r"\bwhen(ever)? you (answer|reply|respond|write)\b",
        r"\b(every|each|all|any) (answer|reply|response)s?\b.{0,20}\b(must|should|shall)\b",
        r"\b(answer|reply to|respond to)\s+(every|each|all|any)\s+(question|request|message)s?"
        r"\s+with\b",
        r"\b(note|message|instructions?) (to|for) (the |all |any )?(ai|assistants?|models?|"
        r"chatbots?|llms?|language models?)\b",
        r"\b(call|fetch|visit|open|request|send|post|load|ping)\b.{0,60}(https?://|www\.)",
        r"\b(print|reveal|show|repeat|output)\b.{0,30}\b(system prompt|your (instructions|"
        r"prompt|rules))",
    )
]


def looks_like_instruction(text: str) -> bool:
    """Whether `text` reads as an instruction to the model (the core injection patterns)."""
    flat = " ".join(text.split())  # an instruction may be wrapped over several lines
    return any(p.search(flat) for p in _INSTRUCTION_RES)


def looks_hostile(text: str) -> bool:
    """Whether `text` addresses the assistant in any way this module knows, hidden characters
    and markup removed first."""
    for variant in (strip_invisible(text), strip_markup(text)):
        flat = " ".join(variant.split())
        if looks_like_instruction(flat) or any(p.search(flat) for p in _HOSTILE_RES):
            return True
    return False


@dataclass(frozen=True)
class HostileProfile:
    """What the injected sentences of a set of passages say, and which links are ordinary."""

    injected_terms: frozenset[str]  # terms found only inside instruction-like sentences
    links: frozenset[str]  # web links of the ordinary sentences (see rag.sanitize.allowed_urls)


def hostile_profile(passages: Sequence[Passage]) -> HostileProfile:
    """The terms that occur in `passages` only inside instruction-like sentences, and the web
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
    return HostileProfile(frozenset(injected - normal), frozenset(allowed_urls(ordinary)))


def obeys(sentence: str, injected_terms: frozenset[str]) -> bool:
    """Whether `sentence` repeats what only an injected instruction says: one of its names,
    or mostly its words ("KUMQUAT.", "I cannot help with that request.")."""
    if injected_terms.intersection(name_terms(sentence)):
        return True
    terms = set(content_terms(strip_markers(sentence)))
    return bool(terms) and len(terms & injected_terms) >= 0.5 * len(terms)
