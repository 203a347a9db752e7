"""Citation markers in answer text, and the `Citation` a marker points at.

A marker is a passage number in square brackets: "[1]", a group "[1, 2]" (or "[1; 2]"), or
a run "[1][2]". `MARKER_RE` is the one pattern every part of the project uses to find them
(each match is one bracket; group 1 holds its numbers). `parse_markers` reads the numbers,
`strip_markers` removes markers, `clean_markers` keeps only the numbers of passages that were
given and writes them the one way the answer shows them ("[1][2]" before the final stop).
`add_marker` appends a marker to a sentence; `citation_for` turns a passage and a span of its
chunk into the `Citation` the user sees.

This module does not decide which passage supports a sentence (rag.support) or check an
answer (rag.grounding); it only reads and writes markers.
"""

from __future__ import annotations

import re

from rag.backends.base import Passage
from rag.types import Citation

MARKER_RE = re.compile(r"\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]")
# A marker with the white space before it ("Ames [1]." -> "Ames.").
_SPACED_MARKER_RE = re.compile(r"\s*" + MARKER_RE.pattern)
# Markers written after the sentence's stop ("Ames. [1]") are moved before it.
_MARKERS_AFTER_STOP_RE = re.compile(r"([.!?])((?:\s*" + MARKER_RE.pattern + r")+)")
_NUMBER_SEP_RE = re.compile(r"[,;]")
_SPACES_RE = re.compile(r"[ \t]{2,}")


def _numbers(group: str) -> list[int]:
    return [int(n) for n in _NUMBER_SEP_RE.split(group)]


def parse_markers(text: str) -> list[int]:
    """Every passage number cited in `text`, in order of appearance (repeats kept)."""
    return [n for group in MARKER_RE.findall(text) for n in _numbers(group)]


def strip_markers(text: str) -> str:
    """`text` without its markers (and the white space before each), runs of spaces joined."""
    return _SPACES_RE.sub(" ", _SPACED_MARKER_RE.sub("", text)).replace(" .", ".").strip()


def clean_markers(text: str, valid: set[int]) -> str:
    """Drop marker numbers not in `valid`; rewrite groups as "[1][2]"; move them before the stop."""
    text = _MARKERS_AFTER_STOP_RE.sub(lambda m: f" {m.group(2).strip()}{m.group(1)}", text)

    def fix(match: re.Match[str]) -> str:
        kept = dict.fromkeys(n for n in _numbers(match.group(1)) if n in valid)
        return "".join(f"[{n}]" for n in kept)

    cleaned = MARKER_RE.sub(fix, text)
    return _SPACES_RE.sub(" ", cleaned).replace(" .", ".").replace(" ,", ",").strip()


def add_marker(sentence: str, n: int) -> str:
    """`sentence` with "[n]" before its closing punctuation and quotes: 'X is Y [2].'"""
    body = sentence.rstrip()
    tail = ""
    while body and body[-1] in ".!?\"'”":
        tail = body[-1] + tail
        body = body[:-1]
    return f"{body.rstrip()} [{n}]{tail}"


def citation_for(passage: Passage, span: tuple[int, int]) -> Citation:
    """The citation of passage n, highlighting `span` (offsets inside the chunk's text)."""
    chunk = passage.chunk
    start, end = span
    return Citation(
        n=passage.n,
        source=chunk.source,
        title=chunk.title,
        chunk_id=chunk.id,
        start=chunk.start + start,
        end=chunk.start + end,
        text=chunk.text[start:end],
        chunk_text=chunk.text,
        chunk_start=chunk.start,
        page=chunk.page,
        path=chunk.path,
    )
