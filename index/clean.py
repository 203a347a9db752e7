"""Turn a loaded `RawDocument` into a clean `Document`: text without page chrome, a title, a date.

Chrome (share/follow lines, "Advertisement", "Trending", "Post a Comment", category labels,
a table of contents...) is removed by general rules over whole lines, never by a list of
one corpus's strings:

- anywhere: short lines made only of web-interface vocabulary (share, subscribe, related,
  read more, comments, previous/next post, cookies, skip to content...);
- before the first body line and after the last one: short lines with no sentence
  punctuation (category words, bylines, captions), except the title, a date line, a numbered
  or markdown heading and the line right before the body (a section heading);
- repeated lines in the header (a title printed twice);
- a table-of-contents block: short items right after a "Table of Contents"/"Contents" line.

A "body line" has at least 8 words and ends like a sentence, or has at least 20 words;
lines of 12 words or more are never removed. The text is NFC-normalised, spaces collapsed,
newlines unified, and paragraph breaks kept as one blank line. PDF page spans are
recomputed for the cleaned text. This module does not split sentences or chunk.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from pathlib import PurePosixPath

from index.sentences import split_sentences
from index.types import Document, PageSpan, RawDocument

_SPACES = re.compile(r"[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000\x0b\x0c]+")
_INVISIBLE = re.compile(r"[\u200b\u2060\ufeff\u00ad\x00-\x08\x0e-\x1f\x7f]")
_TERMINAL = re.compile(r"[.!?\u2026][\"'\u201d\u2019\u00bb)\]]*$")
_NUMBERED = re.compile(r"\d+(?:\.\d+)*[.)]?\s+\S")
_BULLET = re.compile(r"(?:[-*+\u2022\u2023\u25e6\u00b7\u25aa\u25cf]|\d{1,3}[.)])\s")
_PAGE_NUMBER = re.compile(r"(?:page\s+)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?|- \d{1,4} -")
_TOC_HEAD = re.compile(r"(?:table of contents|contents|in this article|on this page|jump to)")
# Lines made only of web-interface vocabulary: removed wherever they appear.
_UI = re.compile(
    r"""(?:
    share(?:\s+(?:this|on|via|article|story|post)\b.*)?|tweet(?:\s+this)?|pin\s+it|email\s+this
    |print(?:\s+this.*)?|follow(?:\s+us\b.*|\s+@.*)?|connect\s+with\s+us.*|(?:like|join)\s+us\s+on\s.*
    |subscribe\b.*|sign\s*up\b.*|(?:log|sign)\s*(?:in|out)\b.*|register(?:\s+now)?
    |advertisements?|advert|ad|ads|sponsored(?:\s+\w+)?|paid\s+content|promoted(?:\s+content)?
    |related(?:\s+(?:articles?|posts?|stories|news|content|reading|topics|videos))?
    |trending(?:\s+(?:now|news|stories|topics|articles))?|top\s+stories
    |most\s+(?:read|popular|viewed|shared)(?:\s+\w+)?|popular\s+(?:posts|stories|articles)
    |read\s+(?:more|next|also)\b.*|continue\s+reading\b.*|see\s+(?:more|also)\b.*
    |more\s+(?:stories|news|articles|from\b.*)|(?:load|show|view)\s+(?:more|all)(?:\s+\w+)?
    |you\s+(?:may|might)\s+also\s+like.*|recommended(?:\s+(?:for\s+you|stories|articles))?
    |don'?t\s+miss.*|\d*\s*comments?|no\s+comments(?:\s+yet)?
    |(?:leave|post|add|write)\s+a\s+(?:comment|reply)|comment\s+(?:below|here)
    |(?:previous|next|older|newer)(?:\s+(?:post|article|story|posts|entries))?
      (?:\s+(?:previous|next|older|newer)(?:\s+(?:post|article|story|posts|entries))?)?
    |(?:accept|reject|manage)(?:\s+all)?\s+cookies.*|.*\buses\s+cookies\b.*|we\s+use\s+cookies.*
    |cookie\s+(?:policy|settings|preferences)|(?:our\s+|the\s+)?newsletter
    |(?:main\s+)?menu|toggle\s+(?:menu|navigation)|skip\s+to\s+(?:main\s+)?content
    |exit\s+mobile\s+version|(?:back|scroll|go)\s+to\s+top|(?:click|tap)\s+here\b.*
    |(?:copyright\s+)?\u00a9.*|copyright\s+\d{4}.*|all\s+rights\s+reserved.*
    |listen\s+to\s+(?:this\s+)?(?:article|story).*|\d+\s+min(?:ute)?s?\s+read
    )""",
    re.VERBOSE,
)
# Vocabulary that is chrome only at the top or the bottom of a page (bylines, labels).
_EDGE_UI = re.compile(
    r"(?:published|updated|last\s+updated|posted|written|by|filed\s+under|tags?|categories"
    r"|topics|home|search|source|photo|image)\b.*"
)

_MONTHS = {
    name: i
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_MONTH = "(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DATE_PATTERNS = (
    (re.compile(r"(?<!\d)(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?!\d)"), "ymd"),
    (re.compile(rf"\b{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", re.I), "mdy"),
    (
        re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH},?\s+(\d{{4}})\b", re.I),
        "dmy",
    ),
)
_DATE_WINDOW = 3000  # the date of publication is written near the top


@dataclass
class _Line:
    text: str
    page: int | None
    removed: bool = False


def clean_document(raw: RawDocument, content_hash: str) -> Document:
    """Clean `raw`'s text, find its title and date, and recompute PDF page offsets."""
    lines = _lines_of(raw)
    normalised = "\n".join(line.text for line in lines)
    if raw.pages:  # running page numbers of a PDF
        for line in lines:
            if _PAGE_NUMBER.fullmatch(line.text.lower()):
                line.removed = True
    zone_title = _remove_chrome(lines)
    text, pages = _join(lines)
    if not text:  # the whole file looked like chrome: keep it rather than lose it
        for line in lines:
            line.removed = False
        text, pages = _join(lines)
    title = _title(raw, text, zone_title)
    return Document(
        path=raw.path,
        source=raw.source,
        text=text,
        title=title,
        date=find_date(normalised[:_DATE_WINDOW]),
        kind=raw.kind,
        content_hash=content_hash,
        pages=pages,
    )


def normalise_line(line: str) -> str:
    """One line with invisible characters dropped and runs of spaces collapsed."""
    return _SPACES.sub(" ", _INVISIBLE.sub("", line)).strip()


def _lines_of(raw: RawDocument) -> list[_Line]:
    text = unicodedata.normalize("NFC", raw.text)
    segments: list[tuple[str, int | None]]
    segments = [(text[p.start : p.end], p.page) for p in raw.pages] if raw.pages else [(text, None)]
    out: list[_Line] = []
    for segment, page in segments:
        segment = segment.replace("\r\n", "\n").replace("\r", "\n")
        segment = segment.replace("\u2029", "\n\n").replace("\u2028", "\n").replace("\x85", "\n")
        if out:
            out.append(_Line("", page))  # pages never run into each other
        out.extend(_Line(normalise_line(line), page) for line in segment.split("\n"))
    return out


def _words(line: str) -> int:
    return len(line.split())


def _is_body(line: str) -> bool:
    n = _words(line)
    return (n >= 8 and bool(_TERMINAL.search(line))) or n >= 20


def _is_short(line: str) -> bool:
    return _words(line) <= 4 and not _TERMINAL.search(line)


def _key(line: str) -> str:
    """A line reduced to its words, for matching vocabulary and duplicates."""
    return " ".join(re.findall(r"[\w'\u00a9@]+", line.casefold()))


def _is_ui(line: str) -> bool:
    if _words(line) > (15 if "\u00a9" in line or "copyright" in line.lower() else 8):
        return False
    return bool(_UI.fullmatch(_key(line)))


def _is_date_line(line: str) -> bool:
    return _words(line) <= 6 and find_date(line) is not None


def _is_heading_marker(line: str) -> bool:
    return line.startswith("#") or bool(_NUMBERED.match(line))


def _remove_toc(lines: list[_Line]) -> None:
    for i, line in enumerate(lines):
        if line.removed or not _TOC_HEAD.fullmatch(_key(line.text)):
            continue
        j = i + 1
        while j < len(lines) and not lines[j].text:
            j += 1
        first_item = j
        while j < len(lines) and lines[j].text and _is_toc_item(lines[j].text):
            j += 1
        if j - first_item >= 2:
            for line_ in lines[i:j]:
                line_.removed = True


def _is_toc_item(line: str) -> bool:
    return _words(line) <= 12 and not _TERMINAL.search(line)


def _remove_chrome(lines: list[_Line]) -> str | None:
    """Mark chrome lines as removed; return the title line found in the header, if any."""
    _remove_toc(lines)
    for line in lines:
        if line.text and not line.removed and _is_ui(line.text):
            line.removed = True
    body = [i for i, line in enumerate(lines) if not line.removed and _is_body(line.text)]
    if not body:
        return None  # no running text to anchor on: only the rules above apply
    first, last = body[0], body[-1]
    header = [i for i in range(first) if lines[i].text and not lines[i].removed]
    title_at = _pick_title(lines, header)
    seen: set[str] = set()
    for i in header:
        text = lines[i].text
        key = _key(text)
        keep = i == title_at or (
            key not in seen
            and not _EDGE_UI.fullmatch(key)
            and (
                not _is_short(text)
                or _is_date_line(text)
                or _is_heading_marker(text)
                or i == header[-1] == first - 1 - _blank_run(lines, first)
            )
        )
        lines[i].removed = not keep
        seen.add(key)
    for line in lines[last + 1 :]:
        if line.text and (_is_short(line.text) or _EDGE_UI.fullmatch(_key(line.text))):
            line.removed = True
    return lines[title_at].text if title_at is not None else None


def _blank_run(lines: list[_Line], before: int) -> int:
    """Number of blank lines directly above line `before`."""
    n = 0
    while before - n - 1 >= 0 and not lines[before - n - 1].text:
        n += 1
    return n


def _pick_title(lines: list[_Line], header: list[int]) -> int | None:
    candidates = [
        i
        for i in header
        if not _EDGE_UI.fullmatch(_key(lines[i].text)) and not _is_date_line(lines[i].text)
    ]
    for min_words in (5, 2, 1):
        for i in candidates:
            if _words(lines[i].text) >= min_words:
                return i
    return None


def _join(lines: list[_Line]) -> tuple[str, tuple[PageSpan, ...]]:
    parts: list[str] = []
    offset = 0
    gap = False
    page_bounds: dict[int, list[int]] = {}
    last_page: int | None = None
    for line in lines:
        if not line.text:
            gap = True
            continue
        if line.removed:
            continue
        if parts:
            sep = "\n\n" if gap or line.page != last_page else "\n"
            parts.append(sep)
            offset += len(sep)
        parts.append(line.text)
        if line.page is not None:
            bounds = page_bounds.setdefault(line.page, [offset, offset])
            bounds[1] = offset + len(line.text)
        offset += len(line.text)
        gap = False
        last_page = line.page
    pages = tuple(PageSpan(p, a, b) for p, (a, b) in sorted(page_bounds.items()))
    return "".join(parts), pages


def _title(raw: RawDocument, text: str, zone_title: str | None) -> str:
    if raw.title_hint and raw.title_hint.strip():
        return _plain_heading(normalise_line(raw.title_hint))
    if zone_title:
        return _plain_heading(zone_title)
    for line in [line for line in text.split("\n") if line][:10]:
        if _is_heading_like(line):
            return _plain_heading(line)
    spans = split_sentences(text)
    if spans:
        first = text[spans[0][0] : spans[0][1]]
        if len(first) > 100:
            first = first[:100].rsplit(" ", 1)[0] + "\u2026"
        return _plain_heading(first)
    return PurePosixPath(raw.source).stem


def _is_heading_like(line: str) -> bool:
    return (
        3 <= _words(line) <= 25
        and not _TERMINAL.search(line)
        and not line.endswith(":")
        and not _BULLET.match(line)
    )


def _plain_heading(line: str) -> str:
    return line.lstrip("#").strip() or line


def find_date(text: str) -> str | None:
    """The first date written in `text` (ISO, "March 12, 2025", "12 March 2025") as YYYY-MM-DD."""
    best: tuple[int, str] | None = None
    for pattern, order in _DATE_PATTERNS:
        for m in pattern.finditer(text):
            if best is not None and m.start() >= best[0]:
                break
            iso = _to_iso(m.groups(), order)
            if iso:
                best = (m.start(), iso)
                break
    return best[1] if best else None


def _to_iso(groups: tuple[str, ...], order: str) -> str | None:
    try:
        if order == "ymd":
            y, m, d = int(groups[0]), int(groups[1]), int(groups[2])
        elif order == "mdy":
            m, d, y = _MONTHS[groups[0].lower()], int(groups[1]), int(groups[2])
        else:
            d, m, y = int(groups[0]), _MONTHS[groups[1].lower()], int(groups[2])
        if not 1900 <= y <= 2100:
            return None
        return date(y, m, d).isoformat()
    except (ValueError, KeyError):
        return None
