"""What a question takes for granted that the evidence does not state (for refusals).

`premise_gaps(question, evidence)` lists the question's premises the retrieved passages lack:

- a name, number or date of the question that no passage has ("Which Russian official did
  Putin call in 2019?" -> "2019");
- the event of an event question: the main verb of a past-tense or "did" question ("Where did
  they meet in person?" -> "meet" when the passages only report a phone call), and, when the
  question names who did it, a passage stretch that says so ("Which Russian official did
  Trump call?" -> "Trump call" when no passage has Trump with a call). An event told in other
  words is no gap: a sentence holding most of the question's other key words ("How many
  warriors did Toghrul provide?" against "Toghrul sent ... warriors"), or a close word
  (rag.wordsim) in a sentence naming the doer ("talk" against "the conversation");
- a word that narrows what is asked for ("Who is the deputy director of the CIA?" ->
  "deputy" when the passages only name the director).

Plain nouns and adjectives are treated leniently: the corpus may say "Five Eyes" for "alliance
of five English-speaking countries", or "Director" for "heads", so they never make a gap by
themselves; nor does the asked-for noun ("Which country ..."), which the answer stands for.
Nationalities that describe ("English-speaking", "Russian official") count as plain words,
unless the evidence gives the same noun another one ("French chemist" against "English
chemist John Mayow"); as nouns ("the Catholics") they are names. A person's last name is
enough ("Luther" for "Martin Luther"), and a number that counts the answers ("What two
scientists") is no premise.
This module only reports gaps; the caller decides whether to refuse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from spacy.tokens import Doc, Token

from rag.claims import text_index
from rag.keyterms import (
    LIGHT_VERBS,
    KeyTerm,
    TextIndex,
    key_terms,
    plain_dashes,
    stem,
    token_keys,
)
from rag.nlp import analyse_many
from rag.places import stands_for
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
    """Tunable parts of the premise check. `window` and `anchor_share` were fitted on the DEV
    split of evals/answering/claims_eval.py; `doer_similarity` changes DEV by < 0.002 and is
    set so the corpus's paraphrases pass and its false premises do not (tests/rag)."""

    event_similarity: float | None = None  # cosine at which any word stands for the event verb
    # ... at which a word of a sentence naming the doer does ("talk" for "held a phone call")
    doer_similarity: float | None = 0.5
    window: int = 1  # sentences either side in which the event and its doer must be together
    anchor_share: float = 0.4  # share of the question's key words one sentence must hold
    events: bool = True  # check the event of an event question (else names, numbers only)


def premise_gaps(
    question: str,
    evidence: str | Sequence[str],
    rules: PremiseRules | None = None,
    titles: Sequence[str] = (),
) -> tuple[str, ...]:
    """The question's names, numbers, dates, event and narrowing words the evidence lacks.
    `titles` (the passages' document titles) state names, but no event: a headline's words
    are no sentence that tells it."""
    rules = rules or PremiseRules()
    passages = [evidence] if isinstance(evidence, str) else list(evidence)
    passages = [plain_dashes(p.strip()) for p in passages if p and p.strip()]
    headings = [plain_dashes(t.strip()) for t in titles if t and t.strip()]
    question = plain_dashes(" ".join(question.split()))
    if not question:
        return ()
    docs = analyse_many([question, *passages, *headings])
    q_doc = docs[0]
    cut = 1 + len(passages)
    indexes = [text_index(t, doc) for t, doc in zip(passages, docs[1:cut], strict=True)]
    named = [text_index(t, doc) for t, doc in zip(headings, docs[cut:], strict=True)]
    forms = frozenset().union(*(f for ix in [*indexes, *named] for f in ix.forms))
    words = list(dict.fromkeys(w for ix in indexes for ws in ix.words for w in ws))
    terms = [t for t in key_terms(q_doc) if t.lemma not in _WH_WORDS]
    focus = focus_noun(q_doc)
    gaps: list[str] = []
    for term in terms:
        if term.keys & forms or _surname_known(term, q_doc, forms):
            continue
        if term.kind == "name" and _country_named(q_doc[term.i].text, forms):
            continue  # "Moscow" where the passage says "Russia"
        if _strict(term, q_doc[term.i], focus, forms) or _other_nationality(
            q_doc[term.i], docs[1:cut]
        ):
            gaps.append(term.text)
    event = event_verb(q_doc)
    if rules.events and event is not None and event.text not in gaps:
        gaps += _event_gap(event, terms, indexes, words, rules)
    return tuple(dict.fromkeys(gaps))


def _strict(term: KeyTerm, token: Token, focus: Token | None, forms: frozenset[str]) -> bool:
    """Whether the evidence must state this term of the question word for word: names (not
    nationalities), numbers and dates (not the count of answers asked for, "What two
    scientists", nor "first"/"one" as plain words), and a noun narrowing the asked-for noun
    where the evidence uses that noun ("deputy" when the passages say "director")."""
    if term.kind in ("number", "date"):
        return not (_answer_count(token, focus) or _plain_number_word(token) or _the_pair(token))
    if token.ent_type_ in _LENIENT_NAMES and _describes(token):
        return False
    if term.kind == "name":
        return True
    return (
        focus is not None
        and term.kind == "modifier"
        and token.dep_ == "compound"
        and token.pos_ == "NOUN"
        and token.head.i == focus.i
        and bool(token_keys(focus) & forms)
    )


def _other_nationality(token: Token, passages: Sequence[Doc]) -> bool:
    """A describing nationality the evidence gives otherwise: "What French chemist ..." where
    the passage says "English chemist John Mayow" (the same noun, another nationality)."""
    if token.ent_type_ not in _LENIENT_NAMES or not _describes(token):
        return False
    head = token.head.lemma_.lower()
    return any(
        t.ent_type_ in _LENIENT_NAMES
        and _describes(t)
        and t.head.lemma_.lower() == head
        and t.lower_ != token.lower_
        for doc in passages
        for t in doc
    )


def _country_named(word: str, forms: frozenset[str]) -> bool:
    """Whether `word` is a capital whose country the evidence names (rag.places)."""
    return any(all(w in forms for w in form.split()) for form in stands_for(word))


def _plain_number_word(token: Token) -> bool:
    """ "When did ABC first air", "at one site": words that count loosely, not a figure."""
    return token.dep_ == "advmod" or token.lower_ in ("one", "first")


def _describes(token: Token) -> bool:
    """A nationality or language used to describe ("Russian official", "English-speaking"),
    not to name who is meant ("the Catholics", "Nazis")."""
    return token.dep_ in ("amod", "npadvmod") or (
        token.pos_ == "ADJ" and token.dep_ in ("compound", "nmod")
    )


def _answer_count(token: Token, focus: Token | None) -> bool:
    """ "What two scientists ...", "Who were two of ...": the number counts the answers."""
    if focus is not None and token.head.i == focus.i and token.dep_ == "nummod":
        return True
    if token.i > 0 and token.nbor(-1).lower_ in ("which", "what"):
        return True  # "Which two capitals ...", whatever the parse made of "which"
    return any(c.dep_ == "prep" and c.lower_ == "of" for c in token.children)


def _the_pair(token: Token) -> bool:
    """ "the two agencies", "these two leaders": a pair named before, referred back to; the
    text rarely counts them ("the CIA and the SVR")."""
    return (
        token.lower_ == "two"
        and token.dep_ == "nummod"
        and any(
            c.dep_ == "det" and c.lower_ in ("the", "these", "those") for c in token.head.children
        )
    )


def _surname_known(term: KeyTerm, doc: Doc, forms: frozenset[str]) -> bool:
    """A person's first name may be left out ("Luther" for "Martin Luther"): the last word of
    the person's name is enough."""
    token = doc[term.i]
    if token.ent_type_ != "PERSON":
        return False
    ent = next((e for e in doc.ents if e.start <= token.i < e.end), None)
    return ent is not None and bool(token_keys(doc[ent.end - 1]) & forms)


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
        if token.pos_ != "VERB" or lemma in META_VERBS or lemma in LIGHT_VERBS:
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
    """The named subject of the event (its head word, compounds and conjuncts, not names
    deeper in it: "the population of Earth"), or the names between "did" and the verb (the
    small parser often reads "did Trump call" as a compound)."""
    names = [t for t in terms if t.kind == "name" and t.i != verb.i]
    heads = [c for c in verb.children if c.dep_ == "nsubj"]
    heads += [c for h in heads for c in h.conjuncts]
    inside = {h.i for h in heads} | {
        c.i for h in heads for c in h.children if c.dep_ in ("compound", "flat")
    }
    found = [t for t in names if t.i in inside]
    if found or heads:
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
    """[] when a passage states the event; else the verb, or the doer and the verb.

    The event is stated by its verb (or a close word) in a stretch that also names its doer,
    when the question names one; with no such word anywhere, by a sentence that holds the
    question's other key words (`anchor_share`, at least two), which is the event in other
    words ("How many warriors did Toghrul give Temujin" against "Toghrul sent ... warriors to
    Temujin")."""
    keys = {verb.lower_, verb.lemma_.lower(), stem(verb.lower_), stem(verb.lemma_)}
    if rules.event_similarity is not None:
        keys |= default_similarity().similar(verb.lemma_.lower(), words, rules.event_similarity)
    doers = _doers(verb, terms)
    stated = False
    for index in indexes:
        for i, forms in enumerate(index.forms):
            if keys & forms:
                stated = True
                if all(_near(d, index, i, rules) for d in doers):
                    return []
    if stated:
        if rules.doer_similarity is not None and _done_in_other_words(verb, doers, indexes, rules):
            return []
        return [" ".join([*(d.text for d in doers), verb.text])]
    if doers and _done_in_other_words(verb, doers, indexes, rules):
        return []  # "Who did Naryshkin speak with?" where he "held talks"
    anchors = [t for t in terms if t.i != verb.i and t.kind != "predicate"]
    need = max(2, rules.anchor_share * len(anchors))
    for index in indexes:
        for forms in index.forms:
            if len(anchors) >= 2 and sum(bool(t.keys & forms) for t in anchors) >= need:
                return []
    return [verb.text]


def _done_in_other_words(
    verb: Token, doers: list[KeyTerm], indexes: list[TextIndex], rules: PremiseRules
) -> bool:
    """Whether a sentence naming every doer holds a word close to the verb."""
    lemma = verb.lemma_.lower()
    if rules.doer_similarity is None:
        return False
    for index in indexes:
        for i, words in enumerate(index.words):
            if (
                words
                and all(_near(d, index, i, rules) for d in doers)
                and default_similarity().best(lemma, list(words))[0] >= rules.doer_similarity
            ):
                return True
    return False


# Pronouns that stand for a person or group named before ("it" rarely stands for a doer).
_PRONOUNS = frozenset(("he", "she", "they", "his", "her", "their", "him", "them"))


def _near(doer: KeyTerm, index: TextIndex, i: int, rules: PremiseRules) -> bool:
    """Whether sentence i (or its neighbours) names the doer, or refers back to it with a
    pronoun after naming it in the sentences before."""
    w = rules.window
    if any(doer.keys & f for f in index.forms[max(0, i - w) : i + w + 1]):
        return True
    if not any(t.lower_ in _PRONOUNS for t in index.sentences[i]):
        return False
    return any(doer.keys & f for f in index.forms[max(0, i - 2) : i])
