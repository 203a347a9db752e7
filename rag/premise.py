"""What a question takes for granted that the evidence does not state (for refusals).

`premise_gaps(question, evidence)` lists the question's premises the retrieved passages lack:

- a name, number or date of the question that no passage has ("Which Russian official did
  Putin call in 2019?" -> "2019");
- the event of an event question: the main verb of a past-tense or "did" question ("Where did
  they meet in person?" -> "meet" when the passages only report a phone call), and, when the
  question names who did it, a passage stretch that says so ("Which Russian official did
  Trump call?" -> "Trump call" when no passage has Trump with a call);
- a word that narrows what is asked for ("Who is the deputy director of the CIA?" ->
  "deputy" when the passages only name the director).

Plain nouns and adjectives are treated leniently: the corpus may say "Five Eyes" for "alliance
of five English-speaking countries", or "Director" for "heads", so they never make a gap by
themselves; nor does the asked-for noun ("Which country ..."), which the answer stands for.
Nationality adjectives ("English-speaking", "Russian") count as plain words. This module only
reports gaps; the caller decides whether to refuse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from spacy.tokens import Doc, Token

from rag.claims import text_index
from rag.keyterms import KeyTerm, TextIndex, key_terms, stem
from rag.nlp import analyse_many
from rag.wordsim import default_similarity

# Verbs that ask about the documents rather than state an event ("mentioned", "described").
META_VERBS = frozenset(
    (
        *("mention", "say", "describe", "tell", "report", "know", "explain", "mean", "refer"),
        *("list", "name", "write", "state", "discuss", "note", "happen", "include", "involve"),
    )
)
_LENIENT_NAMES = frozenset(("NORP", "LANGUAGE"))
_WH_WORDS = frozenset(["what", "which", "who", "whom", "whose", "where", "when", "why", "how"])
_EVENT_TAGS = frozenset(("VBD", "VBN"))


@dataclass(frozen=True)
class PremiseRules:
    """Tunable parts of the premise check (defaults fitted on the DEV split)."""

    event_similarity: float | None = None  # the same for the event verb; None: lemma or stem
    window: int = 1  # sentences either side in which the event and its doer must be together


def premise_gaps(
    question: str, evidence: str | Sequence[str], rules: PremiseRules | None = None
) -> tuple[str, ...]:
    """The question's names, numbers, dates, event and narrowing words the evidence lacks."""
    rules = rules or PremiseRules()
    passages = [evidence] if isinstance(evidence, str) else list(evidence)
    passages = [p.strip() for p in passages if p and p.strip()]
    question = " ".join(question.split())
    if not question:
        return ()
    docs = analyse_many([question, *passages])
    q_doc = docs[0]
    indexes = [text_index(text, doc) for text, doc in zip(passages, docs[1:], strict=True)]
    forms = frozenset().union(*(f for ix in indexes for f in ix.forms))
    words = list(dict.fromkeys(w for ix in indexes for ws in ix.words for w in ws))
    terms = [t for t in key_terms(q_doc) if t.lemma not in _WH_WORDS]
    focus = focus_noun(q_doc)
    gaps: list[str] = []
    for term in terms:
        if term.keys & forms:
            continue
        if _strict(term, q_doc[term.i], focus):
            gaps.append(term.text)
    event = event_verb(q_doc)
    if event is not None and event.text not in gaps:
        gaps += _event_gap(event, terms, indexes, words, rules)
    return tuple(dict.fromkeys(gaps))


def _strict(term: KeyTerm, token: Token, focus: Token | None) -> bool:
    """Whether the evidence must state this term of the question word for word: names (not
    nationalities), numbers, dates, and the words narrowing the asked-for noun."""
    if term.kind in ("number", "date"):
        return True
    if token.ent_type_ in _LENIENT_NAMES:
        return False
    if term.kind == "name":
        return True
    return focus is not None and term.kind == "modifier" and token.head.i == focus.i


def focus_noun(doc: Doc) -> Token | None:
    """The noun the question asks for: "which country", "who is the director", "what is the
    alliance"; a "name"/"kind" of X asks for the X."""
    for token in doc:
        if token.lower_ in ("which", "what", "whose") and token.dep_ == "det":
            return _past_meta(token.head)
    for token in doc:
        if token.lower_ in ("who", "what") and token.dep_ in ("attr", "nsubj"):
            root = token.head
            for child in root.children:
                if child.i != token.i and child.dep_ in ("nsubj", "attr") and child.pos_ == "NOUN":
                    return _past_meta(child)
    return None


def _past_meta(noun: Token) -> Token:
    """ "the name of the alliance" asks for the alliance."""
    if noun.lemma_.lower() in ("name", "kind", "type", "title", "number"):
        for prep in noun.children:
            if prep.dep_ == "prep" and prep.lower_ == "of":
                for pobj in prep.children:
                    if pobj.dep_ == "pobj" and pobj.pos_ in ("NOUN", "PROPN"):
                        return pobj
    return noun


def event_verb(doc: Doc) -> Token | None:
    """The main verb of an event question: past tense or asked with "did" ("Who initiated the
    call?", "Where did they meet?"); None for state questions ("Who heads the CIA?")."""
    did = [t.i for t in doc if t.lemma_.lower() == "do" and t.tag_ == "VBD"]
    for token in doc:
        lemma = token.lemma_.lower()
        if token.pos_ != "VERB" or lemma in META_VERBS or lemma in ("be", "have", "do"):
            continue
        if token.dep_ in ("amod", "compound", "acl", "relcl") or _naming(token):
            continue
        if token.tag_ in _EVENT_TAGS or any(i < token.i for i in did):
            return token
    return None


def _naming(verb: Token) -> bool:
    """ "What is the alliance called?": a present passive names something, it is no event."""
    return any(c.dep_ == "auxpass" and c.tag_ in ("VBZ", "VBP") for c in verb.children)


def _doers(verb: Token, terms: list[KeyTerm]) -> list[KeyTerm]:
    """The named subject of the event: its nsubj, or the names between "did" and the verb
    (the small parser often reads "did Trump call" as a compound)."""
    names = [t for t in terms if t.kind == "name" and t.i != verb.i]
    subjects = [c for c in verb.children if c.dep_ in ("nsubj", "nsubjpass")]
    inside = {t.i for s in subjects for t in s.subtree}
    found = [t for t in names if t.i in inside]
    if found:
        return found
    did = [t.i for t in verb.doc if t.lemma_.lower() == "do" and t.i < verb.i]
    return [t for t in names if did and did[-1] < t.i < verb.i]


def _event_gap(
    verb: Token,
    terms: list[KeyTerm],
    indexes: list[TextIndex],
    words: list[str],
    rules: PremiseRules,
) -> list[str]:
    """[] when a passage states the event (with its named doer nearby, when the question
    names one); else the verb, or the doer and the verb, as the gap."""
    keys = {verb.lower_, verb.lemma_.lower(), stem(verb.lower_), stem(verb.lemma_)}
    if rules.event_similarity is not None:
        keys |= default_similarity().similar(verb.lemma_.lower(), words, rules.event_similarity)
    doers = _doers(verb, terms)
    w = rules.window
    stated = False
    for index in indexes:
        for i, forms in enumerate(index.forms):
            if not keys & forms:
                continue
            stated = True
            near = frozenset().union(*index.forms[max(0, i - w) : i + w + 1])
            if all(d.keys & near for d in doers):
                return []
    if not stated:
        return [verb.text]
    return [" ".join([*(d.text for d in doers), verb.text])]
