"""The words of a text as the answer checks compare them: content terms and name terms.

`content_terms` lower-cases, drops English stop words (bm25s' NLTK-like list, which includes
who/what/did) and one-letter words, and stems with Snowball (PyStemmer), so "directors" and
"director" match. `name_terms` keeps only the names and numbers of a text, in the same stemmed
form, because an answer that names something its passages never name is an invention.
Used by sentence selection, support scoring, abstention and the injection checks; this
module does not score or select anything itself.
"""

from __future__ import annotations

import re
from functools import cache

import Stemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS

_WORD_RE = re.compile(r"\w+", re.UNICODE)
_NAME_RE = re.compile(r"\b([A-Z][\w'’-]*|\w*\d\w*)")
_STOPWORDS = frozenset(STOPWORDS_EN_PLUS)


@cache
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def content_terms(text: str) -> list[str]:
    """Lower-cased, stemmed words of `text` without stop words (in order, repeats kept)."""
    words = [w for w in _WORD_RE.findall(text.lower()) if w not in _STOPWORDS and len(w) > 1]
    return _stemmer().stemWords(words) if words else []


def _describes(word: str) -> bool:
    """A capitalised word hyphened to a lower-case one describes ("English-speaking",
    "Russian-backed"): it is no name the documents must use."""
    parts = word.split("-")
    return len(parts) > 1 and any(p[:1].islower() for p in parts[1:])


def name_terms(text: str) -> list[str]:
    """Stemmed terms of the names and numbers in `text`: capitalised words that do not open
    the text, and anything with a digit ("Who won the 2022 World Cup?" -> 2022, world, cup)."""
    found = [
        m.group(1)
        for m in _NAME_RE.finditer(text.strip())
        if m.start() > 0 and not _describes(m.group(1))
    ]
    return list(dict.fromkeys(t for word in found for t in content_terms(word)))
