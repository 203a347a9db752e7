"""Labelled claims for the claim checker: SQuAD gold sentences, their swaps, SciFact claims.

- SQuAD v1.1 dev: a question's gold sentence is the sentence of its paragraph
  (index.sentences.split_sentences) that holds the first gold answer; the claim is that
  sentence and the cited text the paragraph (should pass). Its swapped twin replaces one
  entity or number of the sentence (spaCy's entities; the one overlapping the gold answer when
  there is one) by another entity of the same type from the same article that shares no word
  with it (should fail). Articles are split with the answering evals' one article split
  (evals.answering.common.article_split); `SQUAD_PER_SPLIT` distinct sentences per split are
  drawn with `SPLIT_SEED`.
- BEIR SciFact: every claim with evidence, paired with each evidence abstract; the label
  (SUPPORT should pass, CONTRADICT should fail) is the one in queries.jsonl's metadata. Claims
  are shuffled with `SPLIT_SEED`, first half DEV, second half TEST.

The id lists are committed under evals/splits/ (claims-squad-*.txt: question ids;
claims-scifact-*.txt: claim ids) and read back, so every run checks the same claims. This
module builds data only; it scores nothing (claims_eval.py does).
"""

from __future__ import annotations

import json
import random
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from evals.answering.common import (
    DEFAULT_SQUAD,
    REPO_ROOT,
    SPLIT_SEED,
    SPLITS_DIR,
    Split,
    article_split,
    read_ids,
    write_ids,
)
from index.sentences import split_sentences
from rag.keyterms import DATE_TYPES, NAME_TYPES, NUMBER_TYPES

if TYPE_CHECKING:
    from spacy.tokens import Doc

DEFAULT_SCIFACT = REPO_ROOT.parent / "shared" / "datasets" / "scifact"
SQUAD_PER_SPLIT = 1000
# Entity types that name one thing or amount, so another of the type is a different claim.
SWAP_TYPES = NAME_TYPES | DATE_TYPES | NUMBER_TYPES
_WORD = re.compile(r"\w+")
_SKIP_WORDS = frozenset(["the", "a", "an", "of", "and", "in", "on", "at", "s"])


@dataclass(frozen=True)
class LabelledClaim:
    """A claim, the text it cites, and whether that text states it."""

    id: str
    claim: str
    cited: str
    supported: bool  # the label: True = the cited text states the claim
    kind: str  # "squad-gold", "squad-swap", "scifact-support", "scifact-contradict"


def split_path(dataset: str, split: Split) -> Path:
    return SPLITS_DIR / f"claims-{dataset}-{split}.txt"


# -- SQuAD ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Gold:
    qid: str
    question: str
    title: str
    paragraph: str
    start: int  # the gold sentence's span in the paragraph
    end: int
    answer_start: int
    answer_end: int


def _squad_golds(path: Path) -> dict[str, _Gold]:
    """Every question's gold sentence, keyed by question id, in file order."""
    articles = json.loads(path.read_text(encoding="utf-8"))["data"]
    golds = {}
    for article in articles:
        for para in article["paragraphs"]:
            context = para["context"]
            spans = split_sentences(context)
            for qa in para["qas"]:
                answer = qa["answers"][0]
                a0 = answer["answer_start"]
                a1 = a0 + len(answer["text"])
                for s, e in spans:
                    if s <= a0 < e:
                        golds[qa["id"]] = _Gold(
                            qa["id"], qa["question"], article["title"], context, s, e, a0, a1
                        )
                        break
    return golds


def write_squad_splits(path: Path = DEFAULT_SQUAD, per_split: int = SQUAD_PER_SPLIT) -> None:
    """Draw and commit the question ids whose gold sentences are the SQuAD claims."""
    golds = _squad_golds(path)
    halves = article_split({g.title for g in golds.values()})
    for split in ("dev", "test"):
        wanted = set(halves[split])
        seen: dict[tuple[str, int], str] = {}
        for g in golds.values():
            if g.title in wanted:
                seen.setdefault((g.paragraph, g.start), g.qid)
        ids = sorted(seen.values())
        random.Random(SPLIT_SEED).shuffle(ids)
        header = (
            f"SQuAD v1.1 dev question ids for the claim checker, {split} articles "
            f"(article_split, seed {SPLIT_SEED}); one question per distinct gold sentence, "
            f"{per_split} drawn with random.Random({SPLIT_SEED}).shuffle."
        )
        write_ids(split_path("squad", split), ids[:per_split], header)


def _norm_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _SKIP_WORDS}


def _swap(
    text: str, ents: list, pool: dict[str, list[str]], rng: random.Random, prefer: range
) -> str | None:
    """`text` with one of its entities (char offsets in `text`) replaced by another of the
    same type from `pool` that shares no word with it, preferring one that overlaps `prefer`;
    None when none can be."""
    options = []
    for start, end, label in ents:
        words = _norm_words(text[start:end])
        others = [t for t in pool.get(label, ()) if not (_norm_words(t) & words)]
        if others and words:
            options.append((start, end, others))
    if not options:
        return None
    preferred = [o for o in options if o[0] < prefer.stop and prefer.start < o[1]]
    start, end, others = rng.choice(preferred or options)
    return text[:start] + rng.choice(others) + text[end:]


@dataclass(frozen=True)
class _SquadSplit:
    golds: list[_Gold]
    docs: dict[str, Doc]  # paragraph -> parsed Doc
    pools: dict[str, dict[str, list[str]]]  # title -> entity label -> entity texts


@cache
def _squad_split(split: Split, path: Path) -> _SquadSplit:
    """The split's chosen gold sentences, their parsed paragraphs and the articles' entities."""
    from rag.nlp import nlp

    golds = _squad_golds(path)
    chosen = [golds[i] for i in read_ids(split_path("squad", split))]
    titles = {g.title for g in chosen}
    # The pool of same-type entities comes from every paragraph of the article.
    paragraphs = list(dict.fromkeys(g.paragraph for g in golds.values() if g.title in titles))
    title_of = {g.paragraph: g.title for g in golds.values()}
    docs = dict(zip(paragraphs, nlp().pipe(paragraphs), strict=True))
    pools: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for text, doc in docs.items():
        for ent in doc.ents:
            if ent.label_ in SWAP_TYPES:
                pools[title_of[text]][ent.label_].add(ent.text)
    frozen = {t: {label: sorted(v) for label, v in p.items()} for t, p in pools.items()}
    return _SquadSplit(chosen, docs, frozen)


def squad_claims(split: Split, path: Path = DEFAULT_SQUAD) -> list[LabelledClaim]:
    """The split's gold sentences (should pass) and their swapped twins (should fail)."""
    data = _squad_split(split, path)
    out = []
    for g in data.golds:
        sentence = g.paragraph[g.start : g.end]
        out.append(LabelledClaim(g.qid, sentence.strip(), g.paragraph, True, "squad-gold"))
        ents = [
            (e.start_char - g.start, e.end_char - g.start, e.label_)
            for e in data.docs[g.paragraph].ents
            if g.start <= e.start_char and e.end_char <= g.end and e.label_ in SWAP_TYPES
        ]
        answer = range(g.answer_start - g.start, g.answer_end - g.start)
        rng = random.Random(f"{SPLIT_SEED}-{g.qid}")
        swapped = _swap(sentence, ents, data.pools[g.title], rng, answer)
        if swapped is not None:
            out.append(LabelledClaim(g.qid, swapped.strip(), g.paragraph, False, "squad-swap"))
    return out


def squad_questions(split: Split, path: Path = DEFAULT_SQUAD) -> list[LabelledClaim]:
    """The same questions against their paragraph (`claim` = the question; the paragraph
    states its premises), and near-miss twins with one entity or number swapped for another
    of the same type from the same article (the paragraph does not)."""
    from rag.nlp import nlp

    data = _squad_split(split, path)
    questions = [g.question.strip() for g in data.golds]
    out = []
    for g, q, doc in zip(data.golds, questions, nlp().pipe(questions), strict=True):
        out.append(LabelledClaim(g.qid, q, g.paragraph, True, "squad-question"))
        ents = [(e.start_char, e.end_char, e.label_) for e in doc.ents if e.label_ in SWAP_TYPES]
        rng = random.Random(f"{SPLIT_SEED}-q-{g.qid}")
        swapped = _swap(q, ents, data.pools[g.title], rng, range(0))
        if swapped is not None:
            out.append(LabelledClaim(g.qid, swapped, g.paragraph, False, "squad-near-miss"))
    return out


# -- SciFact ----------------------------------------------------------------------------------


def _scifact_queries(root: Path) -> dict[str, dict]:
    queries = {}
    with (root / "queries.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row.get("metadata"):
                queries[row["_id"]] = row
    return queries


def write_scifact_splits(root: Path = DEFAULT_SCIFACT) -> None:
    """Commit the claim ids with evidence, shuffled with `SPLIT_SEED`, halves DEV and TEST."""
    ids = sorted(_scifact_queries(root), key=int)
    random.Random(SPLIT_SEED).shuffle(ids)
    half = len(ids) // 2
    halves: tuple[tuple[Split, list[str]], ...] = (("dev", ids[:half]), ("test", ids[half:]))
    for split, part in halves:
        header = (
            f"BEIR SciFact claim ids with evidence, {split} half: sorted by id, shuffled with "
            f"random.Random({SPLIT_SEED}), first half dev, second half test."
        )
        write_ids(split_path("scifact", split), part, header)


def scifact_claims(split: Split, root: Path = DEFAULT_SCIFACT) -> list[LabelledClaim]:
    """Each claim of the split with each evidence abstract: SUPPORT pass, CONTRADICT fail."""
    queries = _scifact_queries(root)
    ids = read_ids(split_path("scifact", split))
    wanted = {doc for i in ids for doc in queries[i]["metadata"]}
    abstracts = {}
    with (root / "corpus.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row["_id"] in wanted:
                abstracts[row["_id"]] = row["text"]
    out = []
    for i in ids:
        for doc, evidence in sorted(queries[i]["metadata"].items()):
            label = evidence[0]["label"]
            supported = label == "SUPPORT"
            kind = "scifact-support" if supported else "scifact-contradict"
            out.append(
                LabelledClaim(f"{i}/{doc}", queries[i]["text"], abstracts[doc], supported, kind)
            )
    return out


def write_splits() -> None:
    write_squad_splits()
    write_scifact_splits()
