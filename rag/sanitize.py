"""Keep an answer plain text: no markup, hidden characters or links a document smuggled in.

An answer is plain sentences with [n] markers. Whatever a model (or a verbatim quote from a
hostile document) adds beyond that is removed before the answer is checked and shown:
HTML tags, comments and <script>/<style> bodies; chat-template control tokens
(`<|im_start|>`, `[INST]`); markdown images (which a renderer would fetch: exfiltration);
markdown links (their text stays, the target goes); `javascript:`/`data:` URLs; web links
that do not occur in the cited passages' ordinary (non-instruction) sentences; invisible
characters (zero-width, bidi controls, Unicode tag characters used for "ASCII smuggling").

This module does not escape for HTML (ui/render.py does that for everything it shows), does
not recognise injected instructions (rag.injection) or decide which sentences are supported
(rag.grounding), and does not touch documents.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from collections.abc import Set as AbstractSet

# Zero-width and joiner characters, bidi embeddings/overrides/isolates, word joiner, BOM, soft
# hyphen, and the Unicode tag block (invisible ASCII look-alikes).
_INVISIBLE_RE = re.compile(
    "[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\U000e0000-\U000e007f]"
)
_COMMENT_RE = re.compile(r"<!--.*?(?:-->|$)", re.DOTALL)
_SCRIPT_RE = re.compile(
    r"<\s*(script|style|iframe|object|embed|template)\b[^>]*>.*?(?:<\s*/\s*\1\s*>|$)",
    re.IGNORECASE | re.DOTALL,
)
_TAG_RE = re.compile(r"<\s*/?\s*[a-zA-Z][a-zA-Z0-9-]*(?:\s[^<>]*)?/?\s*>")
# ChatML and other chat-template control tokens (<|im_start|>, <|eot_id|>, [INST] ...).
CONTROL_TOKEN_RE = re.compile(r"<\|[^|>]{0,40}\|>|\[/?INST\]|<</?SYS>>", re.IGNORECASE)
_TARGET = r"\((?:[^()\n]|\([^()\n]*\))*\)"  # "(url)", one level of nested parentheses
_IMAGE_RE = re.compile(r"!\[[^\]\n]*\]" + _TARGET)
_LINK_RE = re.compile(r"\[([^\]\n]+)\]" + _TARGET)
_REF_LINK_RE = re.compile(r"^\s*\[[^\]\n]+\]:\s*\S+.*$", re.MULTILINE)
_SCHEME_RE = re.compile(
    r"\b(?:javascript|vbscript)\s*:(?:[^\s()\]]|\([^\s()]*\))*|\b(?:data|file):[^\s)\]]+",
    re.IGNORECASE,
)
_URL_RE = re.compile(r"\b(?:https?|ftp)://[^\s<>()\[\]\"']+|\bwww\.[^\s<>()\[\]\"']+", re.I)
_HEADING_RE = re.compile(r"^\s{0,3}#{1,6}\s+", re.MULTILINE)
_SPACES_RE = re.compile(r"[ \t]{2,}")
_TRAILING_PUNCT = ".,;:!?'\""


def strip_invisible(text: str) -> str:
    """`text` without zero-width, bidi-control and tag characters."""
    return _INVISIBLE_RE.sub("", text)


def strip_markup(text: str) -> str:
    """`text` without HTML, chat-template tokens, markdown images/links syntax or headings."""
    text = strip_invisible(text)
    text = _COMMENT_RE.sub(" ", text)
    text = _SCRIPT_RE.sub(" ", text)
    text = _TAG_RE.sub(" ", text)
    text = CONTROL_TOKEN_RE.sub(" ", text)
    text = _IMAGE_RE.sub(" ", text)
    text = _LINK_RE.sub(lambda m: m.group(1), text)
    text = _REF_LINK_RE.sub(" ", text)
    text = _SCHEME_RE.sub(" ", text)
    return _HEADING_RE.sub("", text)


def _url_key(url: str) -> str:
    return url.rstrip(_TRAILING_PUNCT).lower()


def allowed_urls(texts: Iterable[str]) -> set[str]:
    """The web links written in `texts` (the ordinary sentences of the cited passages)."""
    return {_url_key(m.group(0)) for text in texts for m in _URL_RE.finditer(text)}


def strip_urls(text: str, allowed: AbstractSet[str] = frozenset()) -> str:
    """`text` without the web links that are not in `allowed` (see allowed_urls)."""

    def keep(match: re.Match[str]) -> str:
        url = match.group(0)
        key = _url_key(url)
        tail = url[len(url.rstrip(_TRAILING_PUNCT)) :]
        return match.group(0) if key in allowed else tail

    return _URL_RE.sub(keep, text)


def clean_answer(text: str, allowed: AbstractSet[str] = frozenset()) -> str:
    """The answer as plain text: markup removed, links kept only when in `allowed`."""
    text = strip_urls(strip_markup(text), allowed)
    lines = [_SPACES_RE.sub(" ", line).strip() for line in text.splitlines()]
    out = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", out).replace(" .", ".").replace(" ,", ",").strip()
