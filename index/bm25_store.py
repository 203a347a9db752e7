"""The keyword side of the index: a bm25s index plus the chunk records it was built from.

The records (id, text, metadata) live here too, so keyword hits and `get()` need no Chroma
round-trip. The whole store is rewritten on each change (bm25s has no incremental add; a
rebuild of tens of thousands of chunks takes seconds) into a new generation folder, and a
one-line `CURRENT` pointer is swapped with `os.replace`, so a crash at any moment leaves
either the old or the new store, never half of one. This module does not embed or talk to
Chroma; keeping both stores in step is `store.ChunkIndex`'s job.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path

import bm25s
import numpy as np
import Stemmer

from index.types import Chunk

_RECORDS = "records.jsonl"
_CURRENT = "CURRENT"
_STEMMER = Stemmer.Stemmer("english")


def tokenize_for_bm25(texts: Sequence[str]) -> list[list[str]]:
    """Lower-cased, English-stopword-free, stemmed tokens: what BM25 matches on."""
    return bm25s.tokenize(
        list(texts), stopwords="en", stemmer=_STEMMER, return_ids=False, show_progress=False
    )


class BM25Store:
    """Chunk records in index order and the BM25 index over their texts."""

    def __init__(self, folder: Path, chunks: Iterable[Chunk] = ()) -> None:
        self.folder = folder
        self._chunks: dict[str, Chunk] = {c.id: c for c in chunks}
        self._order: list[str] = list(self._chunks)
        self._retriever: bm25s.BM25 | None = None
        self._grouped: dict[str, list[Chunk]] | None = None
        self._sorted_sources: list[str] | None = None
        self._rows: dict[str, np.ndarray] | None = None  # source -> its rows in index order

    # ---------------------------------------------------------------- reading

    @classmethod
    def load(cls, folder: Path) -> BM25Store:
        """The last complete generation, or an empty store when there is none."""
        store = cls(folder)
        current = folder / _CURRENT
        for _attempt in range(3):  # a writer may swap generations while we read
            if not current.is_file():
                return store
            generation = folder / current.read_text(encoding="utf-8").strip()
            records = generation / _RECORDS
            if records.is_file():
                break
        else:
            return store
        with records.open(encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                chunk = Chunk.from_metadata(row["id"], row["text"], row["meta"])
                store._chunks[chunk.id] = chunk
        store._order = list(store._chunks)
        if store._order:
            store._retriever = bm25s.BM25.load(
                str(generation), load_vocab=True, show_progress=False
            )
        return store

    @property
    def ids(self) -> list[str]:
        return list(self._order)

    def __len__(self) -> int:
        return len(self._order)

    def get(self, chunk_id: str) -> Chunk | None:
        return self._chunks.get(chunk_id)

    def chunks(self) -> Iterable[Chunk]:
        return (self._chunks[i] for i in self._order)

    def sources(self) -> list[str]:
        if self._sorted_sources is None:  # asked per filtered query: kept until a change
            self._sorted_sources = sorted(self._by_source())
        return list(self._sorted_sources)

    def of_source(self, source: str) -> list[Chunk]:
        """The chunks of one source, by position."""
        return list(self._by_source().get(source, ()))

    def _by_source(self) -> dict[str, list[Chunk]]:
        if self._grouped is None:
            grouped: dict[str, list[Chunk]] = {}
            for chunk in self.chunks():
                grouped.setdefault(chunk.source, []).append(chunk)
            for chunks in grouped.values():
                chunks.sort(key=lambda c: c.position)
            self._grouped = grouped
        return self._grouped

    def search(
        self, query: str, k: int, sources: Sequence[str] | None = None
    ) -> list[tuple[str, float]]:
        """Best-first (chunk id, BM25 score) with score > 0, optionally within `sources`.

        Filtering masks scores before the top-k, so k hits come back whenever the chosen
        sources hold k matching chunks.
        """
        if self._retriever is None or k <= 0 or not query.strip():
            return []
        token_ids = self._retriever.get_tokens_ids(tokenize_for_bm25([query])[0])
        if not token_ids:
            return []
        scores = np.asarray(self._retriever.get_scores_from_ids(token_ids), dtype=np.float64)
        if sources:
            keep = np.zeros(len(scores), dtype=bool)
            rows = self._source_rows()
            for source in sources:
                if source in rows:
                    keep[rows[source]] = True
            scores = np.where(keep, scores, 0.0)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self._order[i], float(scores[i])) for i in top if scores[i] > 0]

    # ---------------------------------------------------------------- changing

    def replace_sources(self, sources: Iterable[str], new_chunks: Iterable[Chunk]) -> None:
        """Drop every chunk of `sources`, then add `new_chunks` (in memory; call save())."""
        drop = set(sources)
        if drop:
            self._chunks = {i: c for i, c in self._chunks.items() if c.source not in drop}
        for chunk in new_chunks:
            self._chunks[chunk.id] = chunk
        self._order = list(self._chunks)
        self._retriever = None
        self._grouped = None
        self._sorted_sources = None
        self._rows = None

    def save(self) -> None:
        """Rebuild the BM25 index and write a new generation atomically."""
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"gen-{uuid.uuid4().hex[:12]}"
        tmp = self.folder / f".{name}.tmp"
        tmp.mkdir()
        with (tmp / _RECORDS).open("w", encoding="utf-8") as fh:
            for chunk in self.chunks():
                row = {"id": chunk.id, "text": chunk.text, "meta": chunk.metadata()}
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        if self._order:
            retriever = bm25s.BM25()
            texts = [self._chunks[i].text for i in self._order]
            tokens = bm25s.tokenize(texts, stopwords="en", stemmer=_STEMMER, show_progress=False)
            retriever.index(tokens, show_progress=False)
            retriever.save(str(tmp), show_progress=False)
            self._retriever = retriever
        os.replace(tmp, self.folder / name)
        pointer = self.folder / f".{_CURRENT}.tmp"
        pointer.write_text(name + "\n", encoding="utf-8")
        os.replace(pointer, self.folder / _CURRENT)
        self._remove_old_generations(keep=name)

    def _source_rows(self) -> dict[str, np.ndarray]:
        """Row numbers (index order) of each source's chunks, built once per generation."""
        if self._rows is None:
            rows: dict[str, list[int]] = {}
            for row, chunk_id in enumerate(self._order):
                rows.setdefault(self._chunks[chunk_id].source, []).append(row)
            self._rows = {s: np.asarray(r, dtype=np.int64) for s, r in rows.items()}
        return self._rows

    def _remove_old_generations(self, keep: str) -> None:
        for entry in self.folder.iterdir():
            if entry.is_dir() and entry.name != keep:
                shutil.rmtree(entry, ignore_errors=True)
