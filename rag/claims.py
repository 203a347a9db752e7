"""Does the cited text state this claim? A check on names, numbers, predicates and roles.

`check_claim(claim, cited_text)` parses both with spaCy (rag.nlp) and takes the claim's key
terms (rag.keyterms). The claim is supported only when one sentence of the cited text (with
`ClaimRules.window` neighbours either side; none by default) states:

- every name, number and date of the claim, exactly (numbers normalised: "five" == "5"); a
  name may come from up to two sentences before when the sentence refers back with a pronoun
  ("He initiated the call" after a sentence naming Ratcliffe);
- every predicate verb and narrowing modifier ("called", "met", "deputy"), by lemma or stem,
  or by a word of the sentence whose embedding is very close (rag.wordsim, "reduce" for
  "decrease"; antonyms such as "increase"/"decrease" stay below the bar);
- the claim's other nouns and adjectives, all but a share (`word_allowance`), by lemma, stem
  or a close word: those are the words a faithful paraphrase changes;
- the same participants: when the text's same verb (or event noun: "initiated the call with")
  has other named doers or objects and none of the claim's ("A called B" against "B called
  A"), it is not supported.

A term the claim states that the text lacks makes it unsupported whatever the word overlap;
`ClaimVerdict.missing` lists them and `reason` says it in words. The defaults were fitted on
the DEV split of evals/answering/claims_eval.py. Negation is not compared: on DEV it flagged
gold sentences and caught no more contradictions. This module does not split answers into
sentences, read citation markers or decide refusals (rag.premise does the question side).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from spacy.tokens import Doc, Span, Token

from rag.keyterms import NAME_TYPES, KeyTerm, TextIndex, key_terms, negated, plain_dashes
from rag.nlp import analyse_many
from rag.wordsim import default_similarity

STRICT_KINDS = frozenset(("name", "number", "date", "period", "predicate", "modifier"))
# How much a term weighs when choosing the stretch of text that the claim is about.
_WEIGHT = {"name": 3.0, "number": 3.0, "date": 3.0, "period": 2.0, "predicate": 2.0}
_SUBJECTS = frozenset(("nsubj", "csubj"))
_OBJECTS = frozenset(("dobj", "nsubjpass", "dative", "attr", "oprd"))


@dataclass(frozen=True)
class ClaimRules:
    """The tunable parts of the check (defaults fitted on the DEV split of the claims eval)."""

    window: int = 0  # sentences either side of the best one that may complete the claim
    word_allowance: float = 0.5  # share of the claim's plain words the text may phrase otherwise
    # Cosine (rag.wordsim) at which another word of the stretch stands for a predicate or
    # modifier of the claim, and for a plain word; None: the word itself (lemma or stem).
    predicate_similarity: float | None = 0.7
    word_similarity: float | None = 0.6
    # A name may come from this many sentences before the stretch when the stretch refers
    # back with a pronoun ("He initiated the call" after "Ratcliffe ..."); 0: never.
    coreference: int = 2
    roles: bool = True  # subject/object of the shared verb must not be swapped
    polarity: bool = False  # negation must agree


@dataclass(frozen=True)
class ClaimVerdict:
    """Whether the cited text states the claim; what it lacks, in words."""

    supported: bool
    missing: tuple[str, ...]  # the claim's names/numbers/dates/key words the cited text lacks
    reason: str  # readable, e.g. "the cited text does not say 'deputy'"


_INDEXES: OrderedDict[str, TextIndex] = OrderedDict()
_LOCK = threading.Lock()
_CACHED_TEXTS = 512


def text_index(text: str, doc: Doc) -> TextIndex:
    """The cached sentence index of a cited text (passages recur across claims)."""
    with _LOCK:
        found = _INDEXES.get(text)
        if found is not None:
            _INDEXES.move_to_end(text)
            return found
    built = TextIndex.of(doc)
    with _LOCK:
        _INDEXES[text] = built
        while len(_INDEXES) > _CACHED_TEXTS:
            _INDEXES.popitem(last=False)
    return built


def _phrases(terms: list[KeyTerm]) -> list[str]:
    """The terms' words, with adjacent words of one name joined ("Edward Hunter Christie")."""
    out: list[str] = []
    last: KeyTerm | None = None
    for term in sorted(terms, key=lambda t: t.i):
        if last is not None and term.kind == last.kind == "name" and term.i == last.i + 1:
            out[-1] = f"{out[-1]} {term.text}"
        else:
            out.append(term.text)
        last = term
    return list(dict.fromkeys(out))


def _quote(words: list[str]) -> str:
    return ", ".join(f"'{w}'" for w in words)


def check_claim(claim: str, cited_text: str, rules: ClaimRules | None = None) -> ClaimVerdict:
    """Whether `cited_text` states `claim` (one sentence); see the module docstring."""
    rules = rules or ClaimRules()
    claim, cited_text = plain_dashes(" ".join(claim.split())), plain_dashes(cited_text.strip())
    if not claim:
        return ClaimVerdict(False, (), "the claim is empty")
    if not cited_text:
        return ClaimVerdict(False, (), "the cited text is empty")
    if len(claim.split()) >= 3 and claim.rstrip(".!?") in " ".join(cited_text.split()):
        return ClaimVerdict(True, (), "the cited text says it word for word")
    claim_doc, text_doc = analyse_many([claim, cited_text])
    index = text_index(cited_text, text_doc)
    terms = key_terms(claim_doc)
    if not terms:
        return ClaimVerdict(False, (), "the claim states nothing the cited text could confirm")
    hits = [set(index.where(t)) for t in terms]
    n, w = len(index.sentences), rules.window
    windows = sorted(
        (range(max(0, i - w), min(n, i + w + 1)) for i in range(n)),
        key=lambda rng: (-_value(terms, hits, rng), rng.start),
    )
    verdicts = []
    for rng in windows:
        verdict = _verdict(claim_doc, terms, hits, index, rng, rules)
        if verdict.supported:
            return verdict
        verdicts.append(verdict)
        if len(verdicts) > 1 and verdicts[-1].reason.startswith("the cited text does not say"):
            break  # later stretches state even less of the claim
    return verdicts[0]


_PRONOUNS = frozenset(("he", "she", "they", "it", "his", "her", "their", "its", "him", "them"))


def _refers_back(index: TextIndex, rng: range) -> bool:
    """Whether the stretch opens a reference to an earlier sentence (a personal pronoun)."""
    return any(t.lower_ in _PRONOUNS for i in rng for t in index.sentences[i])


def _close(term: KeyTerm, words: list[str], rules: ClaimRules) -> bool:
    """Whether the stretch says `term` in other words (plain words and predicates only)."""
    if term.kind in ("predicate", "modifier"):
        threshold = rules.predicate_similarity
    elif term.kind == "word":
        threshold = rules.word_similarity
    else:
        return False
    return threshold is not None and default_similarity().best(term.lemma, words)[0] >= threshold


def _value(terms: list[KeyTerm], hits: list[set[int]], rng: range) -> float:
    """How much of the claim a stretch of sentences states (names and numbers weigh most)."""
    return sum(_WEIGHT.get(t.kind, 1.0) for t, h in zip(terms, hits, strict=True) if h & set(rng))


def _verdict(
    claim_doc: Doc,
    terms: list[KeyTerm],
    hits: list[set[int]],
    index: TextIndex,
    rng: range,
    rules: ClaimRules,
) -> ClaimVerdict:
    """The verdict of one stretch of the cited text on the claim."""
    inside = set(rng)
    missing = [t for t, h in zip(terms, hits, strict=True) if not h & inside]
    if missing and rules.coreference and _refers_back(index, rng):
        before = set(range(max(0, rng.start - rules.coreference), rng.start))
        missing = [
            t
            for t, h in zip(terms, hits, strict=True)
            if t in missing and not (t.kind == "name" and h & before)
        ]
    if missing and (rules.predicate_similarity or rules.word_similarity):
        words = [w for i in rng for w in index.words[i]]
        missing = [t for t in missing if not _close(t, words, rules)]
    strict = [t for t in missing if t.kind in STRICT_KINDS]
    plain = [t for t in terms if t.kind not in STRICT_KINDS]
    loose = [t for t in missing if t.kind not in STRICT_KINDS]
    if len(loose) > rules.word_allowance * len(plain):
        strict += loose
    if strict:
        words = _phrases(strict)
        elsewhere = [t.text for t, h in zip(terms, hits, strict=True) if t in strict and h]
        reason = f"the cited text does not say {_quote(words)}"
        if elsewhere:
            reason += f" where it states the rest ({_quote(elsewhere)}: only elsewhere)"
        return ClaimVerdict(False, tuple(words), reason)
    stretch = [index.sentences[i] for i in rng]
    if rules.roles:
        clash = role_clash(claim_doc, terms, stretch)
        if clash:
            return ClaimVerdict(False, (clash[0],), clash[1])
    if rules.polarity and negated(claim_doc) != any(negated(s) for s in stretch):
        word = "not" if negated(claim_doc) else "a negation"
        return ClaimVerdict(False, (word,), f"the claim and the cited text differ in {word!r}")
    return ClaimVerdict(True, (), "the cited text states every name, number and key word")


# -- roles ------------------------------------------------------------------------------------


def _name_words(token: Token) -> set[str]:
    """The lower-cased name words of an argument (its head, compounds and conjuncts): entity
    words when it has any, else proper nouns, so titles ("Director") do not count as names."""
    tokens = [token, *token.conjuncts]
    tokens += [c for t in tokens for c in t.children if c.dep_ in ("compound", "flat", "appos")]
    named = {t.lower_ for t in tokens if t.ent_type_ in NAME_TYPES}
    return named or {t.lower_ for t in tokens if t.pos_ == "PROPN"}


def _roles(verb: Token) -> tuple[set[str], set[str]]:
    """(agent names, patient names) of a verb, passive turned active ("B was called by A").
    An event noun takes them from its verb: "A initiated the call with B" -> (A, B)."""
    agent: set[str] = set()
    patient: set[str] = set()
    if verb.pos_ == "NOUN":
        if verb.dep_ not in ("dobj", "nsubjpass"):
            return agent, patient
        agent, _ = _roles(verb.head)
        for prep in (*verb.children, *verb.head.children):
            if prep.dep_ == "prep" and prep.lower_ in ("with", "to"):
                for pobj in prep.children:
                    if pobj.dep_ == "pobj":
                        patient |= _name_words(pobj)
        return agent, patient
    for child in verb.children:
        if child.dep_ in _SUBJECTS:
            agent |= _name_words(child)
        elif child.dep_ in _OBJECTS:
            patient |= _name_words(child)
        elif child.dep_ == "agent":
            for pobj in child.children:
                if pobj.dep_ == "pobj":
                    agent |= _name_words(pobj)
    return agent, patient


def role_clash(claim_doc: Doc, terms: list[KeyTerm], stretch: list[Span]) -> tuple[str, str] | None:
    """(word, reason) when the text gives a predicate of the claim other named participants:
    "A called B" against "B called A", or against "C called B" when no "A called" is there."""
    for term in terms:
        if term.kind != "predicate":
            continue
        agent, patient = _roles(claim_doc[term.i])
        if not agent and not patient:
            continue
        same = [
            tok
            for sent in stretch
            for tok in sent
            if tok.pos_ in ("VERB", "AUX", "NOUN") and tok.lemma_.lower() == term.lemma
        ]
        clash = None
        for tok in same:
            t_agent, t_patient = _roles(tok)
            if (agent & t_agent) or (patient & t_patient):
                return None  # one occurrence with the same participant is enough
            if agent and t_agent:
                clash = clash or (sorted(agent)[0], "the one who")
            elif patient and t_patient:
                clash = clash or (sorted(patient)[0], "the one whom")
        if clash:
            who, role = clash
            return term.text, f"in the cited text {who!r} is not {role} {term.text!r}"
    return None
