"""Near-miss questions: a SQuAD question with one name, date or number swapped, so that the
article it was written on is still retrieved but no longer states the answer.

spaCy (rag.nlp) tags the entities of the question and of the article's paragraphs; one entity
of the question that the article also tags with the same label (the small model mislabels
entities in short questions) is replaced by another entity of that label from the same
article. A swap is dropped when the gold paragraph names the swapped-in entity, or when any
paragraph of the article names it together with half of the question's other content words
(that paragraph might answer the new question). Choices are seeded per question id, so the
generation is deterministic; the drawn set is committed (evals/splits/squad-near-miss-*.json).
This module generates questions only; unanswerable.py asks them.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from evals import metrics as m
from evals.answering import common as c

# spaCy labels of names, dates and numbers (not ORDINAL: "Who 75th sent..." asks nothing)
SWAP_LABELS = frozenset(
    {
        "PERSON", "NORP", "FAC", "ORG", "GPE", "LOC", "PRODUCT", "EVENT", "WORK_OF_ART",
        "LAW", "LANGUAGE", "DATE", "TIME", "PERCENT", "MONEY", "QUANTITY", "CARDINAL",
    }
)  # fmt: skip
_MAX_ENTITY_CHARS = 60


@dataclass(frozen=True)
class NearMiss:
    id: str  # the SQuAD question id
    question: str  # with the swap
    original: str  # as in SQuAD
    entity: str  # the text replaced
    replacement: str  # the text put in its place (same label, same article)
    label: str  # spaCy entity label


def _padded(text: str) -> str:
    return f" {m.normalize_answer(text)} "


def _overlaps(a: str, b: str) -> bool:
    """Whether one normalised text holds the other as whole words (Tesla / Nikola Tesla)."""
    return _padded(a) in _padded(b) or _padded(b) in _padded(a)


_DETERMINER = re.compile(r"^(?:the|a|an)\s+", re.IGNORECASE)
_POSSESSIVE = re.compile(r"\s*['’]s?$")


def _core(text: str) -> str:
    """An entity's text without a leading article or a trailing possessive, on one line."""
    return _POSSESSIVE.sub("", _DETERMINER.sub("", " ".join(text.split())))


def _inventory(documents: Sequence[Any], parsed: Sequence[Any]) -> dict[tuple[str, str], dict]:
    """(article title, label) -> normalised entity -> its text, over the article's paragraphs."""
    out: dict[tuple[str, str], dict[str, str]] = {}
    for doc, tagged in zip(documents, parsed, strict=True):
        for ent in tagged.ents:
            text = _core(ent.text)
            norm = m.normalize_answer(text)
            if ent.label_ in SWAP_LABELS and norm and len(text) <= _MAX_ENTITY_CHARS:
                out.setdefault((c.title_of(doc.source), ent.label_), {}).setdefault(norm, text)
    return out


def near_miss_candidates(data: c.SquadData, titles: Sequence[str]) -> list[NearMiss]:
    """One swap (or none) per question of these articles, by question id; deterministic.

    The replaced entity must be tagged with the same label in the article itself (spaCy's small
    model mislabels entities in short questions), and so must its replacement."""
    from rag.nlp import nlp
    from rag.terms import content_terms

    pipeline = nlp()
    documents = data.documents_of(titles)
    padded = {d.source: _padded(d.text) for d in documents}
    terms = {d.source: set(content_terms(d.text)) for d in documents}
    inventory = _inventory(documents, list(pipeline.pipe(d.text for d in documents)))
    holders: dict[tuple[str, str], list[str]] = {}  # (title, norm) -> paragraphs naming it
    for d in documents:
        for (title, _), names in inventory.items():
            if title == c.title_of(d.source):
                for norm in names:
                    if f" {norm} " in padded[d.source]:
                        holders.setdefault((title, norm), []).append(d.source)
    questions = sorted(data.questions_of(titles), key=lambda q: q.id)
    out = []
    for q, parsed in zip(questions, pipeline.pipe(q.question for q in questions), strict=True):
        options = []
        for ent in parsed.ents:
            names = inventory.get((q.title, ent.label_), {})
            core = _core(ent.text)
            if m.normalize_answer(core) not in names or core not in ent.text:
                continue
            start = ent.start_char + ent.text.find(core)
            rest = q.question[:start] + " " + q.question[start + len(core) :]
            others = set(content_terms(rest))
            for norm, text in sorted(names.items()):
                if _overlaps(text, core) or f" {norm} " in _padded(q.question):
                    continue
                if f" {norm} " in padded[q.source]:  # the gold paragraph names it
                    continue
                if not others or any(
                    len(others & terms[src]) * 2 >= len(others)
                    for src in holders.get((q.title, norm), ())
                ):  # a paragraph of the article may state the new fact
                    continue
                swapped = q.question[:start] + text + q.question[start + len(core) :]
                options.append(NearMiss(q.id, swapped, q.question, core, text, ent.label_))
        if options:
            out.append(random.Random(f"{c.SPLIT_SEED}:{q.id}").choice(options))
    return out


def near_miss_set(data: c.SquadData, split: str, n: int = 300) -> list[NearMiss]:
    """n near-miss questions drawn (seeded) from the split's candidates."""
    pool = near_miss_candidates(data, c.article_split(data.titles)[c.check_split(split)])
    return random.Random(c.SPLIT_SEED).sample(pool, min(n, len(pool)))
