"""Split a cleaned `Document` into token-sized `Chunk`s made of whole sentences.

Chunks hold about `target_tokens` tokens (tiktoken cl100k) and begin with up to
`overlap_tokens` of whole sentences carried over from the previous chunk. A chunk boundary
never falls inside a sentence; it prefers a paragraph break, and a heading line starts a new
chunk once the current one is at least half full. Each chunk records the heading it falls
under, its page (PDF) and exact offsets: `doc.text[chunk.start:chunk.end] == chunk.text`.

A single sentence longer than the target (a table flattened to one line, a 1 MB line with
no full stop) is the one exception: it is cut between words into pieces of at most the
target, in linear time, and a warning is logged. This module does not embed or store.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import re
from dataclasses import dataclass

from index.sentences import split_sentences
from index.tokens import count_tokens, encoding
from index.types import Chunk, Document

log = logging.getLogger(__name__)

_WORD_RUN = re.compile(r"\s*\S{1,100}")  # a word with its leading space; long runs cut
_TERMINAL = re.compile(r"[.!?\u2026][\"'\u201d\u2019\u00bb)\]]*$")
_LIST_ITEM = re.compile(r"[-*+\u2022\u2023\u25e6\u00b7\u25aa\u25cf]\s")
_NUMBERED = re.compile(r"\d{1,3}(?:\.\d+)*[.)]?\s")
_CHARS_PER_TOKEN_MAX = 20  # past target * this many characters, don't count: split


@dataclass(frozen=True)
class _Unit:
    start: int
    end: int
    tokens: int
    para: bool  # a line break lies between this unit and the previous one
    heading: str | None  # set when the unit is a heading line
    forced: bool = False  # a piece of a sentence longer than the target


def chunk_id(source: str, position: int, text: str) -> str:
    """Stable id of a chunk: the same source, position and text always give the same id."""
    return hashlib.sha256(f"{source}\x00{position}\x00{text}".encode()).hexdigest()[:24]


def chunk_document(
    doc: Document, target_tokens: int = 256, overlap_tokens: int = 40
) -> list[Chunk]:
    """Chunks of `doc`, in order; an empty document gives []."""
    if target_tokens < 1:
        raise ValueError("target_tokens must be at least 1")
    overlap_tokens = max(0, min(overlap_tokens, target_tokens // 2))
    units = _units(doc, target_tokens)
    groups = _pack(units, target_tokens, overlap_tokens)
    page_starts = [p.start for p in doc.pages]
    chunks: list[Chunk] = []
    for members, fresh_from in groups:
        first, last = units[members[0]], units[members[-1]]
        text = doc.text[first.start : last.end]
        position = len(chunks)
        chunks.append(
            Chunk(
                id=chunk_id(doc.source, position, text),
                source=doc.source,
                title=doc.title,
                text=text,
                position=position,
                start=first.start,
                end=last.end,
                n_tokens=count_tokens(text),
                page=_page_of(doc, page_starts, first.start),
                date=doc.date,
                path=doc.path,
                heading=_heading_of(units, members[fresh_from]),
            )
        )
    return chunks


def _page_of(doc: Document, starts: list[int], offset: int) -> int | None:
    if not doc.pages:
        return None
    i = bisect.bisect_right(starts, offset) - 1
    return doc.pages[max(i, 0)].page


def _heading_of(units: list[_Unit], index: int) -> str | None:
    for unit in reversed(units[: index + 1]):
        if unit.heading is not None:
            return unit.heading
    return None


def _is_heading(line: str, after_blank: bool) -> bool:
    if line.startswith("#"):
        return True
    words = len(line.split())
    if line.endswith("?") and words <= 15 and line[0].isupper():
        return True  # "Can Trump Succeed Where Others Failed?"
    if words > 20 or _TERMINAL.search(line) or line.endswith((":", ",", ";")):
        return False
    if _LIST_ITEM.match(line) or not any(ch.isalpha() for ch in line):
        return False
    if _NUMBERED.match(line):
        return after_blank  # "2. Background" set apart, not an item of a list
    return line[0].isupper() or line[0].isdigit()


def _units(doc: Document, target: int) -> list[_Unit]:
    """Sentences (and pieces of over-long ones) with their token counts and line roles."""
    text = doc.text
    spans = split_sentences(text)
    units: list[_Unit] = []
    split_any = False
    for n, (a, b) in enumerate(spans):
        gap_before = text[spans[n - 1][1] : a] if n else "\n\n"
        gap_after = text[b : spans[n + 1][0]] if n + 1 < len(spans) else "\n"
        para = "\n" in gap_before
        heading = None
        if para and "\n" in gap_after and _is_heading(text[a:b], "\n\n" in gap_before):
            heading = text[a:b].lstrip("#").strip() or text[a:b]
        tokens = count_tokens(text[a:b]) if b - a <= target * _CHARS_PER_TOKEN_MAX else None
        if tokens is not None and tokens <= target:
            units.append(_Unit(a, b, tokens, para, heading))
            continue
        split_any = True
        for i, (pa, pb, pt) in enumerate(_pieces(text, a, b, target)):
            units.append(_Unit(pa, pb, pt, para and i == 0, heading if i == 0 else None, True))
    if split_any:
        log.warning(
            "%s: a sentence longer than %d tokens was cut between words", doc.source, target
        )
    return units


def _pieces(text: str, a: int, b: int, target: int) -> list[tuple[int, int, int]]:
    """Cut text[a:b] between words into pieces of at most `target` tokens (linear time)."""
    words = [(m.start(), m.end()) for m in _WORD_RUN.finditer(text, a, b)]
    encode = encoding().encode_ordinary
    counts = [len(encode(text[s:e])) for s, e in words]
    pieces: list[tuple[int, int, int]] = []
    start: int | None = None
    end = total = 0
    for (ws, we), n in zip(words, counts, strict=True):
        if start is not None and total + n > target:
            pieces.append((start, end, total))
            start = None
        if start is None:
            start, total = ws + (len(text[ws:we]) - len(text[ws:we].lstrip())), 0
        total += n
        end = we
    if start is not None:
        pieces.append((start, end, total))
    return pieces


def _pack(units: list[_Unit], target: int, overlap: int) -> list[tuple[list[int], int]]:
    """Group unit indices into chunks; each group comes with the index of its first new unit."""
    groups: list[tuple[list[int], int]] = []
    cur: list[int] = []
    carried = 0  # how many units at the head of `cur` are overlap from the previous chunk
    used = 0  # approximate tokens of `cur` (a paragraph break counts one)

    def cost(members: list[int]) -> int:
        return sum(units[i].tokens for i in members) + sum(1 for i in members[1:] if units[i].para)

    for index, unit in enumerate(units):
        if unit.heading is not None and len(cur) > carried and used >= target / 2:
            groups.append((cur, carried))
            cur, carried, used = [], 0, 0  # a new section starts clean, without overlap
        extra = unit.tokens + (1 if unit.para else 0)
        while len(cur) > carried and used + extra > target:
            k, before_heading = _break_point(units, cur, carried, target)
            emitted, rest = cur[:k], cur[k:]
            groups.append((emitted, carried))
            room = 0 if before_heading else target - cost(rest) - extra - 1
            carry = _overlap(units, emitted[carried:], overlap, room)
            cur, carried = carry + rest, len(carry)
            used = cost(cur)
        if cur and len(cur) == carried and used + extra > target:
            cur, carried, used = [], 0, 0  # the overlap does not fit with this unit: drop it
        used += extra if cur else unit.tokens
        cur.append(index)
    if len(cur) > carried:
        groups.append((cur, carried))
    return groups


def _break_point(units: list[_Unit], cur: list[int], carried: int, target: int) -> tuple[int, bool]:
    """Where to end the chunk `cur` and whether a heading follows: before its last heading,
    else at its last paragraph break past the half-way mark, else after its last unit."""
    heading_at = para_at = None
    used = 0
    for k, i in enumerate(cur):
        if k > carried:
            if units[i].heading is not None:
                heading_at = k
            elif units[i].para and used >= target / 2:
                para_at = k
        used += units[i].tokens
    if heading_at is not None:
        return heading_at, True
    return (para_at if para_at is not None else len(cur)), False


def _overlap(units: list[_Unit], emitted: list[int], limit: int, room: int) -> list[int]:
    """The last whole sentences of `emitted`, at most `limit` tokens (and `room`)."""
    budget = min(limit, room)
    carry: list[int] = []
    used = 0
    for i in reversed(emitted):
        if units[i].heading is not None or used + units[i].tokens > budget:
            break
        carry.insert(0, i)
        used += units[i].tokens
    if len(carry) == len(emitted):
        carry = carry[1:]  # always move forward: never repeat a whole chunk
    return carry
