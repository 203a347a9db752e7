"""What kind of answer a question asks for, read from its wh-phrase.

`expected_type("Which European country hosted the talks?")` gives
`AnswerType(kind="place", labels={"GPE", ...}, head="country", wh="which")`: who → person (or
an organisation / a group), when → date, how many / how much → number, where → place,
which / what X → an X, looked up in a small table of head nouns (country → place, alliance →
organisation, year → date...). `labels` are the spaCy entity labels that fit, best first;
an empty tuple means any noun phrase may answer ("What does the SVR do?").

It reads only the question: whether the documents hold such an answer is the reader's job.
"""

from __future__ import annotations

from dataclasses import dataclass

from rag.reader_text import Parsed, parse

PERSON = ("PERSON", "ORG", "NORP")
ORGANISATION = ("ORG", "NORP", "GPE", "PERSON")
PLACE = ("GPE", "LOC", "FAC", "ORG")
DATE = ("DATE", "TIME", "CARDINAL")
NUMBER = ("CARDINAL", "QUANTITY", "MONEY", "PERCENT", "DATE", "TIME", "ORDINAL")
_KINDS = {
    "person": PERSON,
    "organisation": ORGANISATION,
    "place": PLACE,
    "date": DATE,
    "number": NUMBER,
    "money": ("MONEY", "CARDINAL"),
    "percent": ("PERCENT", "CARDINAL"),
    "duration": ("DATE", "TIME", "QUANTITY", "CARDINAL"),
    "group": ("NORP", "ORG", "GPE"),
    "language": ("LANGUAGE", "NORP"),
    "event": ("EVENT", "DATE"),
    "work": ("WORK_OF_ART", "PRODUCT", "ORG"),
    "law": ("LAW", "WORK_OF_ART"),
    "product": ("PRODUCT", "ORG", "WORK_OF_ART"),
    "ordinal": ("ORDINAL", "CARDINAL"),
}


def _heads(kind: str, words: str) -> dict[str, str]:
    return dict.fromkeys(words.split(), kind)


# Head nouns of "which/what X" questions and the kind of answer they ask for.
HEAD_KINDS: dict[str, str] = {
    **_heads(
        "person",
        """person man woman boy girl player president king queen emperor leader scientist
        author writer composer artist actor actress singer poet philosopher director chief
        minister general officer official coach founder inventor architect engineer painter
        musician pope bishop saint chancellor governor mayor senator ruler student teacher
        professor father mother son daughter wife husband brother sister child explorer
        commander figure individual head manager owner chairman ceo secretary spokesperson
        economist historian theorist physicist chemist mathematician astronomer designer
        producer character prince princess duke emperor pharaoh sultan monarch politician
        quarterback pitcher captain lawyer judge doctor priest monk prophet god goddess
        investor entrepreneur journalist reporter editor researcher expert analyst""",
    ),
    **_heads(
        "organisation",
        """company organization organisation team university college school group agency
        party band institution institute alliance firm corporation club network newspaper
        magazine station channel government league association union council committee
        department bank publisher label brand airline service ministry court army navy
        military force order society foundation charity business manufacturer studio
        broadcaster outlet church denomination dynasty empire""",
    ),
    **_heads(
        "place",
        """country nation state city town village region province county continent area
        place location island river mountain ocean sea lake capital district territory
        neighborhood neighbourhood site building stadium venue airport street park hospital
        port border coast peninsula desert valley kingdom republic colony borough suburb
        campus museum library theater theatre arena church cathedral palace castle""",
    ),
    **_heads("group", "nationality religion ethnicity tribe people population"),
    **_heads("language", "language dialect tongue"),
    **_heads("date", "year century decade day month date era period season age time week hour"),
    **_heads(
        "number",
        """number amount size length distance height weight temperature total count rate
        speed score capacity area depth width""",
    ),
    **_heads("money", "cost price fee salary budget revenue income"),
    **_heads("percent", "percentage percent proportion share"),
    **_heads(
        "event",
        "war battle event tournament competition championship election revolution conflict",
    ),
    **_heads(
        "work",
        "book film movie song album novel play painting show series opera poem episode",
    ),
    **_heads("law", "law act treaty amendment constitution bill agreement"),
}
# Words that name the real head through "of": "the name of the alliance", "what type of".
_OF_WORDS = frozenset(
    [
        "name",
        "type",
        "kind",
        "sort",
        "form",
        "part",
        "term",
        "word",
        "one",
        "title",
        "group",
        "member",
    ]
)
_HOW = {
    "many": "number",
    "much": "number",
    "long": "duration",
    "old": "number",
    "far": "number",
    "big": "number",
    "large": "number",
    "tall": "number",
    "high": "number",
    "deep": "number",
    "wide": "number",
    "heavy": "number",
    "fast": "number",
    "often": "number",
}
_MONEY_WORDS = frozenset(
    ["cost", "pay", "spend", "worth", "price", "earn", "sell", "buy", "money", "fund", "raise"]
)
_COPULA = frozenset(["be", "is", "was", "are", "were"])
_WH = frozenset(["who", "whom", "whose", "what", "which", "when", "where", "why", "how"])


@dataclass(frozen=True)
class AnswerType:
    kind: str  # person, organisation, place, date, number, money, ..., thing, reason, manner
    labels: tuple[str, ...]  # spaCy entity labels that fit, best first; () = any noun phrase
    head: str | None  # the question's head noun lemma ("which European country" -> "country")
    wh: str  # who, when, where, which, what, how many, ..., or "" when there is no wh-word


def expected_type(question: str) -> AnswerType:
    """The answer type a question asks for (spaCy-parsed)."""
    return type_of(parse(question))


def type_of(q: Parsed) -> AnswerType:
    """The answer type of an already parsed question."""
    words = [t.text.lower() for t in q.tokens]
    at = next((i for i, w in enumerate(words) if w in _WH), -1)
    if at < 0:
        return _typed("thing", None, "")
    wh = words[at]
    nxt = words[at + 1] if at + 1 < len(words) else ""
    if wh in ("who", "whom", "whose"):
        head = _head_after(q, at + 1) if nxt in _COPULA else None
        if head is not None and HEAD_KINDS.get(head) == "person":
            # "Who is the director of the SVR?" asks for a person, not the agency.
            return AnswerType("person", ("PERSON",), head, wh)
        return _typed("person", None, wh)
    if wh == "when":
        return _typed("date", None, wh)
    if wh == "where":
        return _typed("place", None, wh)
    if wh == "why":
        return _typed("reason", None, wh)
    if wh == "how":
        kind = _HOW.get(nxt)
        if kind is None:
            return _typed("manner", None, wh)
        head = _head_after(q, at + 2) if nxt in ("many", "much") else None
        if nxt == "much" and _MONEY_WORDS & {t.lemma for t in q.tokens}:
            kind = "money"
        elif head in HEAD_KINDS and HEAD_KINDS[head] in ("money", "percent", "date"):
            kind = HEAD_KINDS[head]
        return _typed(kind, head, f"how {nxt}")
    head = _head_after(q, at + 1)
    return _typed(HEAD_KINDS.get(head or "", "thing"), head, wh)


def _head_after(q: Parsed, i: int) -> str | None:
    """The head noun of the phrase starting at token i ("European country" -> "country")."""
    toks = q.tokens
    if i < len(toks) and toks[i].lemma in _COPULA:  # "what is the name of ...", "who is the"
        j = i + 1
        while j < len(toks) and toks[j].lemma in ("the", "a", "an"):
            j += 1
        if j + 1 < len(toks) and toks[j].lemma in _OF_WORDS and toks[j + 1].lemma == "of":
            return _head_after(q, j + 2) or toks[j].lemma
        if j < len(toks) and toks[j].lemma in HEAD_KINDS and toks[j].lemma not in _OF_WORDS:
            return toks[j].lemma
        return None
    tagged = any(t.pos != "X" for t in toks)
    noun = None
    while i < len(toks):
        t = toks[i]
        if tagged:
            if t.pos in ("NOUN", "PROPN"):
                noun = i
            elif t.pos not in ("ADJ", "NUM", "DET") or noun is not None:
                break
        else:  # untagged text: the first table word of the next few content words
            if t.stop or i > 3 + (noun or i):
                break
            if noun is None or (toks[noun].lemma not in HEAD_KINDS and t.lemma in HEAD_KINDS):
                noun = i
        i += 1
    if noun is None:
        return None
    lemma = toks[noun].lemma
    after = noun + 1
    if lemma in _OF_WORDS and after < len(toks) and toks[after].lemma == "of":
        return _head_after(q, after + 1) or lemma
    return lemma


def _typed(kind: str, head: str | None, wh: str) -> AnswerType:
    return AnswerType(kind, _KINDS.get(kind, ()), head, wh)
