"""Retrieval-only evaluation on a BEIR-format dataset (corpus.jsonl, queries.jsonl, qrels).

The corpus is indexed into its own cached data dir (`<data_dir>/beir/<dataset>-<hash>`, the
hash covering the corpus file and the embedding/chunking settings) through
`index.pipeline.index_documents`, one Document per BEIR doc (source = its `_id`, text =
title + text). The test queries are run through `rag.retrieval.build_retriever` in three
modes (dense, BM25, hybrid); a document's score is the best score of its chunks. Reports
nDCG@10, recall@10, recall@100 and MRR@10 beside published anchors. No answers are generated.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evals import metrics as m
from index.config import IndexSettings
from index.types import Document
from rag.config import RetrievalSettings, Settings

MODES = ("dense", "bm25", "hybrid")
CHUNKS_PER_QUERY = 200  # chunk hits per query: enough for 100 distinct documents on SciFact
# Published nDCG@10 on SciFact (BEIR paper; MTEB / sentence-transformers model card).
ANCHORS = {"bm25": (0.665, 0.685), "dense": (0.645, 0.674)}


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


def cached_index_settings(
    base: IndexSettings, kind: str, name: str, fingerprint: str
) -> IndexSettings:
    """Settings for a benchmark's own index, keyed by the data and the indexing settings."""
    parts = [fingerprint, base.embedding_model, base.chunk_tokens, base.chunk_overlap]
    if base.embedding_backend != "torch":  # torch-built caches keep their old key
        parts.append(base.embedding_backend)
    key = json.dumps(parts, sort_keys=True)
    short = hashlib.sha256(key.encode()).hexdigest()[:12]
    return base.model_copy(
        update={
            "data_dir": base.data_dir / kind / f"{name}-{short}",
            "collection": f"{kind}-{short}",
        }
    )


def ensure_index(documents: list[Document], settings: IndexSettings, progress: bool) -> bool:
    """Index the documents once; a marker file makes later runs reuse it. True if built now."""
    from index.pipeline import index_documents

    marker = settings.data_dir / "complete.json"
    if marker.is_file() and json.loads(marker.read_text()).get("documents") == len(documents):
        return False
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    report = index_documents(documents, settings, progress=progress)
    marker.write_text(json.dumps({"documents": len(documents), "chunks": report.chunks}))
    return True


def mode_settings(retrieval: RetrievalSettings, mode: str) -> RetrievalSettings:
    """Plain retrieval in one mode: no MMR, neighbours, reranker or source filter."""
    return retrieval.model_copy(
        update={
            "dense": mode in ("dense", "hybrid"),
            "bm25": mode in ("bm25", "hybrid"),
            "mmr": False,
            "neighbours": 0,
            "reranker": None,
            "sources": [],
            "candidates": max(retrieval.candidates, CHUNKS_PER_QUERY),
        }
    )


def rank_documents(hits: list[Any]) -> list[str]:
    """Documents by their best chunk score, best first."""
    best: dict[str, float] = {}
    for hit in hits:
        src = hit.chunk.source
        best[src] = max(best.get(src, float("-inf")), hit.score)
    return sorted(best, key=lambda d: best[d], reverse=True)


def score_rankings(rankings: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> dict:
    """Mean nDCG@10, recall@10, recall@100, MRR@10 over the judged queries."""
    rows = []
    for qid, ranked in rankings.items():
        rel = qrels[qid]
        relevant = {d for d, r in rel.items() if r > 0}
        rows.append(
            {
                "ndcg_at_10": m.ndcg_at_k(ranked, rel, 10),
                "recall_at_10": m.recall_at_k(ranked, relevant, 10),
                "recall_at_100": m.recall_at_k(ranked, relevant, 100),
                "mrr_at_10": m.reciprocal_rank(ranked, relevant, 10),
            }
        )
    keys = ("ndcg_at_10", "recall_at_10", "recall_at_100", "mrr_at_10")
    return {k: round(m.mean(r[k] for r in rows) or 0.0, 4) for k in keys}


def run_beir(
    directory: str | Path,
    settings: Settings,
    *,
    progress: bool = False,
    on_query: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Index (cached) and evaluate the three modes. Returns the JSON-ready result."""
    from index.embedding import get_embedder
    from index.store import open_index
    from rag.retrieval import build_retriever

    data = load_beir(directory)
    index_settings = cached_index_settings(settings.index, "beir", data.name, data.fingerprint)
    built = ensure_index(beir_documents(data), index_settings, progress)
    index = open_index(index_settings)
    embedder = get_embedder(index_settings)
    modes: dict[str, dict[str, float]] = {}
    for mode in MODES:
        retriever = build_retriever(mode_settings(settings.retrieval, mode), index, embedder)
        rankings = {}
        for qid, text in data.queries.items():
            rankings[qid] = rank_documents(retriever.retrieve(text, CHUNKS_PER_QUERY))
            if on_query is not None:
                on_query()
        modes[mode] = score_rankings(rankings, data.qrels)
    return {
        "dataset": data.name,
        "documents": len(data.corpus),
        "queries": len(data.queries),
        "index": str(index_settings.data_dir),
        "built_index": built,
        "modes": modes,
        "anchors_ndcg_at_10": {k: list(v) for k, v in ANCHORS.items()},
    }


def beir_markdown(result: dict[str, Any]) -> str:
    """The result as a Markdown table, published anchors beside ours."""
    lines = [
        f"## BEIR {result['dataset']}: {result['documents']} documents, "
        f"{result['queries']} test queries",
        "",
        "| mode | nDCG@10 | recall@10 | recall@100 | MRR@10 | published nDCG@10 |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for mode, s in result["modes"].items():
        anchor = ANCHORS.get(mode)
        label = f"{anchor[0]:.3f}–{anchor[1]:.3f}" if anchor else "–"
        lines.append(
            f"| {mode} | {s['ndcg_at_10']:.3f} | {s['recall_at_10']:.3f} | "
            f"{s['recall_at_100']:.3f} | {s['mrr_at_10']:.3f} | {label} |"
        )
    lines.append("")
    lines.append("Anchors: BM25 from the BEIR paper; dense = all-MiniLM-L6-v2 (MTEB).")
    return "\n".join(lines) + "\n"
