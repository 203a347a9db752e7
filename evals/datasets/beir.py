"""BEIR-format datasets (corpus.jsonl, queries.jsonl, qrels/<split>.tsv): read, convert, subset.

`load_beir(folder)` reads one into a `BeirData` (only queries judged in the split are kept; a
malformed folder is a `BeirError` whose message says what is wrong), `beir_documents` turns
its corpus into index Documents (source = the BEIR `_id`, text = title + text), and `subset`
keeps the first queries with their judged documents. Nothing is indexed or scored here
(evals/retrieval_eval.py and evals/bench/ do that).
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.types import Document


class BeirError(ValueError):
    """A dataset folder that is not in BEIR format; the message says what is wrong."""


@dataclass(frozen=True)
class BeirData:
    name: str
    corpus: dict[str, tuple[str, str]]  # doc id -> (title, text)
    queries: dict[str, str]  # test query id -> text
    qrels: dict[str, dict[str, int]]  # query id -> doc id -> relevance
    fingerprint: str  # sha256 of the corpus file


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as err:
                raise BeirError(f"{path}: line {n} is not JSON ({err.msg})") from None


def load_beir(directory: str | Path, split: str = "test") -> BeirData:
    """Read a BEIR dataset; only queries with judgments in qrels/<split>.tsv are kept."""
    directory = Path(directory)
    paths = {
        "corpus": directory / "corpus.jsonl",
        "queries": directory / "queries.jsonl",
        "qrels": directory / "qrels" / f"{split}.tsv",
    }
    for path in paths.values():
        if not path.is_file():
            raise BeirError(f"{directory}: not a BEIR dataset ({path.name} is missing)")
    qrels: dict[str, dict[str, int]] = {}
    # BEIR writes qrels with csv.writer: CRLF line ends, a header row.
    with paths["qrels"].open(encoding="utf-8", newline="") as f:
        rows = csv.reader(f, delimiter="\t")
        for n, row in enumerate(rows, start=1):
            if not row or (n == 1 and row[0] == "query-id"):
                continue
            if len(row) < 3:
                raise BeirError(f"{paths['qrels']}: line {n} needs query-id, corpus-id, score")
            try:
                qrels.setdefault(row[0], {})[row[1]] = int(row[2])
            except ValueError:
                raise BeirError(
                    f"{paths['qrels']}: line {n}: score {row[2]!r} is not an integer"
                ) from None
    corpus: dict[str, tuple[str, str]] = {}
    digest = hashlib.sha256()
    for doc in _jsonl(paths["corpus"]):
        if "_id" not in doc:
            raise BeirError(f"{paths['corpus']}: a document has no _id")
        corpus[str(doc["_id"])] = (doc.get("title") or "", doc.get("text") or "")
        digest.update(json.dumps(doc, sort_keys=True).encode())
    queries = {
        str(q["_id"]): q.get("text", "") for q in _jsonl(paths["queries"]) if str(q["_id"]) in qrels
    }
    missing = sorted(set(qrels) - set(queries))
    if missing:
        raise BeirError(f"{paths['qrels']}: query ids not in queries.jsonl: {missing[:5]}")
    return BeirData(directory.resolve().name, corpus, queries, qrels, digest.hexdigest())


def beir_documents(data: BeirData) -> list[Document]:
    """One Document per BEIR doc: source = its _id, text = title and text."""
    docs = []
    for doc_id, (title, text) in data.corpus.items():
        body = f"{title}\n\n{text}" if title else text
        docs.append(
            Document(
                path="",
                source=doc_id,
                text=body,
                title=title or doc_id,
                date=None,
                kind="txt",
                content_hash=hashlib.sha256(body.encode()).hexdigest(),
            )
        )
    return docs


def subset(data: BeirData, max_docs: int | None, max_queries: int | None) -> BeirData:
    """A smaller BeirData: the first queries, their judged documents, then others to fill.

    With no limits the data is returned as is. Judged documents are always kept so the
    subset's nDCG still means something (it is higher than on the full corpus: fewer
    distractors).
    """
    if not max_docs and not max_queries:
        return data
    qids = list(data.queries)[: max_queries or None]
    keep: dict[str, None] = {}
    for q in qids:
        keep.update(dict.fromkeys(data.qrels[q]))
    for doc_id in data.corpus:
        if max_docs and len(keep) >= max_docs:
            break
        keep.setdefault(doc_id, None)
    corpus = {d: data.corpus[d] for d in keep if d in data.corpus}
    return BeirData(
        name=f"{data.name}-subset{len(corpus)}",
        corpus=corpus,
        queries={q: data.queries[q] for q in qids},
        qrels={q: data.qrels[q] for q in qids},
        fingerprint=f"{data.fingerprint}:{len(corpus)}:{len(qids)}",
    )
