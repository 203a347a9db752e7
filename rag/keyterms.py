"""The key terms of a sentence, and where a text states them: names, numbers, dates, words.

A claim or a question is parsed with spaCy (rag.nlp) and broken into `KeyTerm`s:

- name: a token of a named entity (person, organisation, place, work, law...) or another
  proper noun ("Director" in "CIA Director"); matched by its lower-cased form or lemma;
- number: a cardinal, ordinal, amount, percentage or money value, normalised with text2num
  ("five" == "5", "1,000" == "1000", "1.5 million" == "1500000", "first" == "1st");
- date: the numbers and month/day names of a date or time ("27 July 2008"); period: its
  other words ("winter", "annually", "year");
- predicate: a content verb (not be/have/do), matched by lemma or Snowball stem, so "calls",
  "called" and "the call" match;
- modifier: a noun or adjective that narrows a noun ("deputy" in "deputy director");
- word: any other noun, adjective or adverb.

`TextIndex` holds, for each sentence of a cited text, the forms it states (lower-cased words,
lemmas, stems, normalised numbers, the acronyms of the names it spells out), so a term is
found in a sentence by set lookup. Which terms must be found, and how leniently, is decided
by the callers (rag.claims, rag.premise); this module only extracts and looks up.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from functools import cache

import Stemmer
from spacy.tokens import Doc, Span, Token
from text_to_num import alpha2digit, text2num

from index.sentences import split_sentences

NAME_TYPES = frozenset(
    [
        "PERSON",
        "NORP",
        "FAC",
        "ORG",
        "GPE",
        "LOC",
        "PRODUCT",
        "EVENT",
        "WORK_OF_ART",
        "LAW",
        "LANGUAGE",
    ]
)
NUMBER_TYPES = frozenset(["CARDINAL", "QUANTITY", "MONEY", "PERCENT", "ORDINAL"])
DATE_TYPES = frozenset(("DATE", "TIME"))
LIGHT_VERBS = frozenset(["be", "have", "do", "get", "make", "take", "give", "go", "become", "seem"])
NEGATIONS = frozenset(["not", "n't", "never", "no", "nor", "without", "neither", "none", "cannot"])
_CONTENT_POS = frozenset(("NOUN", "ADJ", "ADV", "VERB", "PROPN", "NUM"))
_MODIFIER_DEPS = frozenset(("amod", "compound", "nmod"))
_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")
_SCALES = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
# Words too common to carry a claim ("also", "other", "such") even when tagged as content.
_WEAK = frozenset(
    [
        "also",
        "other",
        "such",
        "many",
        "much",
        "more",
        "most",
        "very",
        "well",
        "however",
        "even",
        "just",
        "only",
        "still",
        "then",
        "there",
        "here",
        "so",
        "thus",
        "often",
        "first",
        "new",
        "several",
        "various",
        "including",
        "according",
    ]
)


# Hyphens and dashes read as one (not the minus sign): a question's "15-1" is a passage's "15–1".
_DASHES = str.maketrans(dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015", "-"))


def plain_dashes(text: str) -> str:
    """`text` with every dash as a hyphen (the same length, so offsets still hold)."""
    return text.translate(_DASHES)


@cache
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def stem(word: str) -> str:
    return _stemmer().stemWord(word.lower())


def number_key(value: float) -> str:
    """The one form of a number: "#5", "#1500000", "#2.5"."""
    return f"#{value:g}" if abs(value) < 1e15 else f"#{value:.6g}"


def _token_numbers(token: Token) -> list[float]:
    """The numeric values a token spells ("5", "1,000", "five", "1990s", "1st", "first")."""
    text = token.text.lower()
    values = []
    for match in _DIGITS.findall(text):
        try:
            values.append(float(match.replace(",", "")))
        except ValueError:
            continue
    if values:
        return values
    if text in _SCALES:
        return []
    try:
        return [float(text2num(text, "en"))]
    except ValueError:
        pass
    digits = _DIGITS.findall(alpha2digit(text, "en", threshold=0))  # ordinals: "first" -> 1st
    return [float(d.replace(",", "")) for d in digits]


def _span_values(span: Span | list[Token]) -> set[float]:
    """Every value of a numeric span: each number, and numbers times a following scale word
    ("1.5 million" -> 1.5 and 1500000); word groups joined ("twenty one" -> 21)."""
    tokens = list(span)
    values: set[float] = set()
    for i, token in enumerate(tokens):
        for value in _token_numbers(token):
            values.add(value)
            nxt = tokens[i + 1].text.lower() if i + 1 < len(tokens) else ""
            if nxt in _SCALES:
                values.add(value * _SCALES[nxt])
    words = " ".join(t.text.lower() for t in tokens if t.is_alpha and t.like_num)
    if " " in words:
        with contextlib.suppress(ValueError):
            values.add(float(text2num(words, "en")))
    return values


@dataclass(frozen=True)
class KeyTerm:
    """One thing a sentence states: its text, kind and the forms that count as stating it."""

    text: str
    kind: str  # "name", "number", "date", "predicate", "modifier", "word"
    keys: frozenset[str]
    i: int  # index of its token in the parsed sentence
    lemma: str = ""


def token_keys(token: Token) -> set[str]:
    """The forms under which a text states this token: lower-cased word, lemma, their stems;
    an acronym ("NFL", "V&A") also as the initials a spelt-out name gives (`initials_keys`)."""
    lower, lemma = token.text.lower(), token.lemma_.lower()
    # "St." and "St", "U.S." and "US" are one word
    bare, undotted = lower.rstrip("."), lower.replace(".", "")
    keys = {lower, lemma, bare, undotted, stem(lower), stem(lemma)} - {""}
    if _ACRONYM.fullmatch(token.text):
        keys.add(_INITIALS + re.sub(r"[^a-z]", "", lower))
    return keys


_ACRONYM = re.compile(r"[A-Z][A-Z&.]*[A-Z]\.?")
_INITIALS = "initials:"  # kept apart from words: "us" the pronoun is not "U.S."
# Capitalised words, with the small words a long name keeps inside ("Victoria and Albert").
_NAME_RUN = re.compile(r"[A-Z][\w'’-]*(?:\s+(?:(?:of|and|&|the|for|de)\s+)*[A-Z][\w'’-]*)*")


def initials_keys(text: str) -> set[str]:
    """The acronyms `text` spells out: the initials of each run of capitalised words and of
    each stretch of it ("National Football League" -> NFL, FL...; "Victoria and Albert
    Museum" -> VAM, VA, AM), as keys `token_keys` gives an acronym."""
    keys: set[str] = set()
    for run in _NAME_RUN.findall(text):
        initials = "".join(w[0] for w in run.split() if w[0].isupper()).lower()
        for i in range(len(initials)):
            for j in range(i + 2, len(initials) + 1):
                keys.add(_INITIALS + initials[i:j])
    return keys


def _is_number_token(token: Token) -> bool:
    return token.like_num or token.pos_ == "NUM" or token.ent_type_ in NUMBER_TYPES


def key_terms(doc: Doc | Span) -> list[KeyTerm]:
    """The key terms of a parsed sentence (or sentences), in order, one per token."""
    terms: list[KeyTerm] = []
    for token in doc:
        lemma = token.lemma_.lower()
        if token.is_punct or token.is_space or (token.is_stop and not _is_number_token(token)):
            continue
        ent = token.ent_type_
        if _is_number_token(token) or (ent in DATE_TYPES and _token_numbers(token)):
            span = _entity_of(token)
            values = _span_values(span) if span is not None else set(_token_numbers(token))
            if not values or token.text.lower() in _SCALES:
                continue
            kind = "date" if ent in DATE_TYPES else "number"
            keys = frozenset(number_key(v) for v in values)
            terms.append(KeyTerm(token.text, kind, keys, token.i, lemma))
        elif ent in NAME_TYPES or ent in DATE_TYPES or token.pos_ == "PROPN":
            kind = "name"
            if ent in DATE_TYPES:  # "July", "Tuesday" are dates; "year", "winter" periods
                kind = "date" if token.pos_ == "PROPN" else "period"
            terms.append(KeyTerm(token.text, kind, frozenset(token_keys(token)), token.i, lemma))
        elif token.pos_ not in _CONTENT_POS or lemma in _WEAK or not token.is_alpha:
            continue
        elif token.pos_ == "VERB" and token.dep_ not in _MODIFIER_DEPS:
            if lemma not in LIGHT_VERBS:
                keys = frozenset(token_keys(token))
                terms.append(KeyTerm(token.text, "predicate", keys, token.i, lemma))
        elif token.dep_ in _MODIFIER_DEPS and token.head.pos_ in ("NOUN", "PROPN"):
            keys = frozenset(token_keys(token))
            terms.append(KeyTerm(token.text, "modifier", keys, token.i, lemma))
        else:
            terms.append(KeyTerm(token.text, "word", frozenset(token_keys(token)), token.i, lemma))
    return terms


def _entity_of(token: Token) -> Span | None:
    if not token.ent_type_:
        return None
    for ent in token.doc.ents:
        if ent.start <= token.i < ent.end:
            return ent
    return None


def negated(tokens: Span | Doc) -> bool:
    """Whether the span holds a negation ("not", "no", "never", "without"...)."""
    return any(t.dep_ == "neg" or t.lower_ in NEGATIONS for t in tokens)


@dataclass(frozen=True)
class TextIndex:
    """A cited text, sentence by sentence: the forms each sentence states, and its words."""

    doc: Doc
    sentences: tuple[Span, ...]
    forms: tuple[frozenset[str], ...]  # per sentence: words, lemmas, stems, number keys
    words: tuple[tuple[str, ...], ...]  # per sentence: content lemmas (for similarity)

    @classmethod
    def of(cls, doc: Doc) -> TextIndex:
        """Sentences as the project splits them (headings and list items stand alone),
        index.sentences.split_sentences, not the parser's guesses."""
        spans = [doc.char_span(s, e, alignment_mode="expand") for s, e in split_sentences(doc.text)]
        sentences = tuple(s for s in spans if s is not None and len(s)) or (doc[:],)
        forms, words = [], []
        for sent in sentences:
            found: set[str] = set()
            lemmas: list[str] = []
            for token in sent:
                if token.is_punct or token.is_space:
                    continue
                found |= token_keys(token)
                if token.is_alpha and not token.is_stop and token.pos_ in _CONTENT_POS:
                    lemmas.append(token.lemma_.lower())
            for ent in sent.ents:
                if ent.label_ in NUMBER_TYPES or ent.label_ in DATE_TYPES:
                    found |= {number_key(v) for v in _span_values(ent)}
            for token in sent:
                if _is_number_token(token):
                    found |= {number_key(v) for v in _token_numbers(token)}
            found |= initials_keys(sent.text)
            forms.append(frozenset(found))
            words.append(tuple(dict.fromkeys(lemmas)))
        return cls(doc, sentences, tuple(forms), tuple(words))

    def where(self, term: KeyTerm) -> list[int]:
        """The sentences that state `term` word for word (by form)."""
        return [i for i, forms in enumerate(self.forms) if term.keys & forms]
