"""SQuAD v1.1 files: a sampled eval (corpus + suite) and every paragraph as a document.

`load_squad` draws a reproducible sample (`sample`, `seed`) of questions; its corpus is every
paragraph of the articles those questions come from (so each question has same-topic
distractors), one Document per paragraph with source `<title>/<paragraph index>`, and each
case expects the reference answers and its paragraph as source. `squad_paragraphs` reads
every paragraph of a file as a document (source `squad/<title>/<n>`), for the bench's scale
collection. The caller indexes the documents and runs the suite; nothing is scored here.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path

from evals.suite import Case, Suite
from index.types import Document


class SquadError(ValueError):
    """Not a readable SQuAD v1.1 file; the message says why."""


@dataclass(frozen=True)
class SquadEval:
    name: str
    documents: list[Document]
    suite: Suite
    fingerprint: str  # identifies the corpus (file, sample, seed)


def _read(path: Path) -> list[dict]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SquadError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SquadError(f"{path}: not a SQuAD JSON file ({err})") from None
    articles = data.get("data") if isinstance(data, dict) else None
    if not isinstance(articles, list) or not articles:
        raise SquadError(f"{path}: no 'data' list of articles (is this SQuAD v1.1?)")
    return articles


def load_squad(path: str | Path, sample: int = 100, seed: int = 0) -> SquadEval:
    """Build the corpus and the suite. `sample` <= 0 keeps every question."""
    path = Path(path)
    articles = _read(path)
    questions = []  # (article index, paragraph index, qa)
    try:
        for a, article in enumerate(articles):
            for p, para in enumerate(article["paragraphs"]):
                for qa in para["qas"]:
                    if qa.get("answers"):
                        questions.append((a, p, qa))
    except (KeyError, TypeError) as err:
        raise SquadError(f"{path}: unexpected structure (missing {err})") from None
    if not questions:
        raise SquadError(f"{path}: no answerable questions found")
    rng = random.Random(seed)
    chosen = questions if sample <= 0 else rng.sample(questions, min(sample, len(questions)))
    used_articles = sorted({a for a, _, _ in chosen})

    documents = []
    for a in used_articles:
        title = str(articles[a].get("title", f"article-{a}"))
        for p, para in enumerate(articles[a]["paragraphs"]):
            documents.append(_paragraph(title, f"{title}/{p}", para["context"]))

    cases: list[Case] = []
    for a, p, qa in chosen:
        answers = list(dict.fromkeys(ans["text"].strip() for ans in qa["answers"]))
        title = str(articles[a].get("title", f"article-{a}"))
        cases.append(
            Case(
                id=str(qa.get("id", f"{a}-{p}-{len(cases)}")),
                type="factoid",
                question=qa["question"],
                answers=answers,
                reference=answers[0],
                sources=[f"{title}/{p}"],
            )
        )
    key = json.dumps([hashlib.sha256(path.read_bytes()).hexdigest(), used_articles])
    fingerprint = hashlib.sha256(key.encode()).hexdigest()
    name = f"squad-{path.stem}-n{len(cases)}-s{seed}"
    return SquadEval(name, documents, Suite(name=name, cases=cases, path=str(path)), fingerprint)


def _paragraph(title: str, source: str, text: str) -> Document:
    """One SQuAD paragraph as a Document of its article (the title shown with spaces)."""
    return Document(
        path="",
        source=source,
        text=text,
        title=title.replace("_", " "),
        date=None,
        kind="txt",
        content_hash=hashlib.sha256(text.encode()).hexdigest(),
    )


def squad_paragraphs(path: Path) -> list[Document]:
    """Every paragraph of a SQuAD v1.1 file, one document each (source squad/<title>/<n>)."""
    docs = []
    for article in _read(path):
        title = str(article.get("title", "untitled"))
        for n, para in enumerate(article["paragraphs"]):
            docs.append(_paragraph(title, f"squad/{title}/{n}", para["context"]))
    return docs
