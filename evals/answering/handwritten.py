"""A hand-written stand-in for spaCy, to measure what the NLP library is worth to the reader.

`parse_handwritten(text)` builds the same `rag.reader_text.Parsed` value as `rag.reader_text.
parse`, with regular expressions only: word tokens, a lower-case lemma with plural and verb
endings stripped, a stop-word list, and candidate spans: runs of capitalised words ("CAP"),
numbers with their unit (CARDINAL, MONEY with a currency sign, PERCENT), years, months and
dates (DATE), and runs of up to four lower-case content words ("NP"). No parts of speech and
no parse tree: those features are 0 for it. `reader_eval --parser handwritten` ranks these
with the same code and the same fitting as the spaCy reader.

It is an eval baseline, not used by the product.
"""

from __future__ import annotations

import functools
import re

from rag.reader_text import Parsed, Span, Token, sentence_ranges

_TOKEN = re.compile(r"\$?\d+(?:[,.]\d+)*%?|\w+(?:[-'\u2019]\w+)*|[^\w\s]")
STOP = frozenset(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few
    for from further had has have having he her here hers herself him himself his how i if
    in into is it its itself just me more most my myself no nor not of off on once only or
    other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up
    very was we were what when where which while who whom whose why will with would you
    your yours yourself yourselves many much one may might must shall s t
    """.split()  # noqa: SIM905
)
_MONTHS = frozenset(
    """january february march april may june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday
    """.split()  # noqa: SIM905
)
_JOINERS = frozenset(("of", "de", "the", "and", "for", "von", "van", "la", "du", "&"))
_UNITS = re.compile(
    r"^(percent|per|cent|million|billion|thousand|hundred|miles?|km|kilometers?|metres?|meters?"
    r"|feet|foot|years?|days?|months?|weeks?|hours?|minutes?|dollars?|pounds?|people|tons?)$",
    re.IGNORECASE,
)


def _lemma(word: str) -> str:
    low = word.lower()
    for suffix, keep in (
        ("ies", "y"),
        ("sses", "ss"),
        ("ing", ""),
        ("ed", ""),
        ("es", ""),
        ("s", ""),
    ):
        if low.endswith(suffix) and len(low) - len(suffix) >= 3:
            return low[: len(low) - len(suffix)] + keep
    return low


@functools.lru_cache(maxsize=4096)
def parse_handwritten(text: str) -> Parsed:
    tokens = tuple(
        Token(
            text=m.group(),
            lemma=_lemma(m.group()),
            pos="X",
            start=m.start(),
            end=m.end(),
            stop=m.group().lower() in STOP or not m.group()[0].isalnum(),
            head=-1,
        )
        for m in _TOKEN.finditer(text)
    )
    sentences = sentence_ranges(text, [t.start for t in tokens])
    spans: list[Span] = []
    for first, last in sentences:
        spans += _capitalised(tokens, first, last)
        spans += _numbers(tokens, first, last)
        spans += _phrases(tokens, first, last)
    return Parsed(text, tokens, tuple(spans), sentences)


def _capitalised(tokens: tuple[Token, ...], first: int, last: int) -> list[Span]:
    out = []
    k = first
    while k < last:
        if tokens[k].text[0].isupper() and tokens[k].text.lower() not in STOP:
            end = k + 1
            while end < last and (
                tokens[end].text[0].isupper()
                or (
                    tokens[end].text.lower() in _JOINERS
                    and end + 1 < last
                    and tokens[end + 1].text[0].isupper()
                )
            ):
                end += 1
            is_date = tokens[k].text.lower() in _MONTHS
            while (
                is_date
                and end < last
                and (
                    tokens[end].text[0].isdigit()
                    or (
                        tokens[end].text == ","
                        and end + 1 < last
                        and tokens[end + 1].text[0].isdigit()
                    )
                )
            ):
                end += 1
            out.append(Span(k, end, "DATE" if is_date else "CAP"))
            k = end
        else:
            k += 1
    return out


def _numbers(tokens: tuple[Token, ...], first: int, last: int) -> list[Span]:
    out = []
    for k in range(first, last):
        word = tokens[k].text
        if not word[0].isdigit() and not (word[0] == "$" and len(word) > 1):
            continue
        end = k + 1
        while end < last and _UNITS.match(tokens[end].text):
            end += 1
        label = "CARDINAL"
        if word.startswith("$"):
            label = "MONEY"
        elif word.endswith("%") or (end > k + 1 and tokens[k + 1].text.lower() == "percent"):
            label = "PERCENT"
        elif re.fullmatch(r"1\d{3}|20\d{2}|\d{1,4}s", word) or (
            k > first and tokens[k - 1].text.lower() in _MONTHS
        ):
            label = "DATE"
        out.append(Span(k, end, label))
    return out


def _phrases(tokens: tuple[Token, ...], first: int, last: int) -> list[Span]:
    out = []
    k = first
    while k < last:
        t = tokens[k]
        if not t.stop and t.text[0].isalpha() and t.text[0].islower():
            end = k + 1
            while (
                end < last
                and end - k < 4
                and not tokens[end].stop
                and tokens[end].text[0].isalnum()
            ):
                end += 1
            out.append(Span(k, end, "NP"))
            k = end
        else:
            k += 1
    return out
