"""Fakes that look exactly like the real components, for unit tests of the code around them.

- `BagEmbedder`: a deterministic embedder (hashed word counts, L2-normalised), so texts that
  share words get similar vectors; counts its calls.
- `HashEmbedder`: every text its own random unit vector, seeded by the text.
- `FakeIndex`: the `index.store.ChunkIndex` reads the question side uses, over a list of
  chunks; dense and BM25 rankings are computed from the chunks or scripted per half.
- `FakeRetriever`: ranks chunks by shared content terms and honours the source filter.
- `ScriptedBackend`: a chat backend that replies from a queue.
- `chunks_from_documents`: real chunks (one per paragraph, exact offsets) of a few texts.

Code under test often builds its own retriever or backend (through a factory or the backend
registry), so `FakeRetriever` records its queries and `ScriptedBackend` its requests on the
class, where a test can read them; `reset()` empties them. A `ScriptedBackend` built with its
own replies keeps replies and requests on the instance instead.

Nothing here loads a model, opens a store or touches the network.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from index.types import Chunk, IndexStatus
from rag.backends.base import BackendStatus, ChatRequest, NoOptions
from rag.terms import content_terms
from rag.types import Hit

_PARAGRAPH_RE = re.compile(r"[^\n]+(?:\n(?!\s*\n)[^\n]+)*")


def plain_words(text: str) -> list[str]:
    """Lower-cased runs of letters and digits: no stop words removed, no stemming."""
    return re.findall(r"[a-z0-9]+", text.lower())


def _bucket(term: str, dim: int) -> int:
    return int(hashlib.md5(term.encode()).hexdigest(), 16) % dim


class BagEmbedder:
    """Hashed counts of a text's terms, L2-normalised (float32); a text without terms is the
    zero vector. `terms` picks the words: `content_terms` (stemmed, no stop words) or
    `plain_words`. `calls` counts the embed calls."""

    def __init__(
        self,
        dim: int = 64,
        *,
        name: str = "bag",
        terms: Callable[[str], list[str]] = content_terms,
    ) -> None:
        self.name = name
        self.dim = dim
        self.terms = terms
        self.calls = 0

    def vector(self, text: str) -> np.ndarray:
        """The vector of `text`, without counting a call."""
        vec = np.zeros(self.dim, dtype=np.float32)
        for term in self.terms(text):
            vec[_bucket(term, self.dim)] += 1.0
        norm = np.linalg.norm(vec)
        return vec / norm if norm else vec

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.vstack([self.vector(t) for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        self.calls += 1
        return self.vector(text)


class HashEmbedder:
    """Every text its own random unit vector (float32), seeded by the text: equal texts get
    equal vectors, different texts unrelated ones."""

    def __init__(self, dim: int = 16, *, name: str = "hash-test") -> None:
        self.name = name
        self.dim = dim

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        rows = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            seed = int(hashlib.sha256(text.encode()).hexdigest()[:12], 16)
            vec = np.random.default_rng(seed).standard_normal(self.dim)
            rows[i] = vec / np.linalg.norm(vec)
        return rows

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


def chunks_from_documents(documents: Mapping[str, str]) -> list[Chunk]:
    """One chunk per paragraph (blank-line separated) of each document, with real offsets."""
    chunks: list[Chunk] = []
    for source, text in documents.items():
        for position, match in enumerate(_PARAGRAPH_RE.finditer(text)):
            chunks.append(
                Chunk(
                    id=f"{source}#{position}",
                    source=source,
                    title=source.rsplit(".", 1)[0],
                    text=match.group(0),
                    position=position,
                    start=match.start(),
                    end=match.end(),
                    n_tokens=len(match.group(0).split()),
                )
            )
    return chunks


class FakeIndex:
    """The `ChunkIndex` reads retrieval and the assistant use, over `chunks`.

    Dense search ranks by the embedder's cosine, BM25 search by the number of shared
    `plain_words`; either can be scripted instead as (chunk id, score) best first. Every
    search records the source filter it was given in `searched_sources`. There is no
    `embeddings()`: callers fall back to embedding chunk texts, as with a store without
    stored vectors.
    """

    def __init__(
        self,
        chunks: Sequence[Chunk],
        embedder: BagEmbedder | None = None,
        *,
        dense_ranking: Sequence[tuple[str, float]] | None = None,
        bm25_ranking: Sequence[tuple[str, float]] | None = None,
    ) -> None:
        self.chunks = {c.id: c for c in chunks}
        self.embedder = embedder
        self.dense_ranking = dense_ranking
        self.bm25_ranking = bm25_ranking
        self.searched_sources: list[list[str] | None] = []

    def _filter(
        self, ranking: Sequence[tuple[str, float]], k: int, sources: Sequence[str] | None
    ) -> list[tuple[str, float]]:
        self.searched_sources.append(None if sources is None else list(sources))
        kept = [(cid, s) for cid, s in ranking if not sources or self.chunks[cid].source in sources]
        return kept[:k]

    def dense_search(
        self, query_vec: np.ndarray, k: int, sources: Sequence[str] | None = None
    ) -> list[tuple[str, float]]:
        if self.dense_ranking is not None:
            return self._filter(self.dense_ranking, k, sources)
        if self.embedder is None:
            raise ValueError("FakeIndex needs an embedder (or a dense_ranking) for dense search")
        embedder = self.embedder
        scored = [(c.id, float(embedder.vector(c.text) @ query_vec)) for c in self.chunks.values()]
        return self._filter(sorted(scored, key=lambda x: -x[1]), k, sources)

    def bm25_search(
        self, query: str, k: int, sources: Sequence[str] | None = None
    ) -> list[tuple[str, float]]:
        if self.bm25_ranking is not None:
            return self._filter(self.bm25_ranking, k, sources)
        terms = set(plain_words(query))
        scored = [
            (c.id, float(len(terms & set(plain_words(c.text))))) for c in self.chunks.values()
        ]
        scored = [x for x in scored if x[1] > 0]
        return self._filter(sorted(scored, key=lambda x: -x[1]), k, sources)

    def count(self) -> int:
        return len(self.chunks)

    def sources(self) -> list[str]:
        return sorted({c.source for c in self.chunks.values()})

    def get(self, ids: Sequence[str]) -> list[Chunk]:
        return [self.chunks[i] for i in ids if i in self.chunks]

    def chunks_of(self, source: str) -> list[Chunk]:
        return sorted(
            (c for c in self.chunks.values() if c.source == source), key=lambda c: c.position
        )

    def status(self) -> IndexStatus:
        name, dim = (
            ("fake", 0) if self.embedder is None else (self.embedder.name, self.embedder.dim)
        )
        return IndexStatus(len(self.sources()), self.count(), name, dim, 256, 40, None, "memory")


class FakeRetriever:
    """Ranks `chunks` by the number of content terms they share with the query (ties keep
    the given order); `dense_score` is 0.2 + 0.1 per shared term. Records every query in
    `FakeRetriever.queries`."""

    queries: ClassVar[list[str]] = []

    def __init__(self, chunks: Sequence[Chunk]) -> None:
        self.chunks = list(chunks)

    @classmethod
    def reset(cls) -> None:
        cls.queries = []

    def retrieve(self, query: str, k: int, sources: Sequence[str] | None = None) -> list[Hit]:
        FakeRetriever.queries.append(query)
        terms = set(content_terms(query))
        scored = [
            (len(terms & set(content_terms(c.text))), c)
            for c in self.chunks
            if not sources or c.source in sources
        ]
        scored.sort(key=lambda x: -x[0])
        return [
            Hit(chunk=c, score=float(s), dense_score=0.2 + 0.1 * s, bm25_score=float(s))
            for s, c in scored[: max(k, 0)]
        ]


class ScriptedBackend:
    """A chat backend that streams scripted replies word by word; a queued exception is raised.

    `ScriptedBackend(replies)` has its own queue and records its requests on the instance.
    Built by the registry (`from_settings`), it replies from the class-level queue
    `ScriptedBackend.replies`, records requests in `ScriptedBackend.requests` and the
    settings and options it was built with in `built_with` and `built_options`.
    """

    name: ClassVar[str] = "scripted"
    Options: ClassVar[type] = NoOptions
    context_tokens: ClassVar[int | None] = None  # whole passages, like a served model
    can_rewrite: ClassVar[bool] = True  # "auto" rewriting may ask it
    # The class-level queue and log; an instance built with its own replies shadows them.
    replies: list[Any] = []  # noqa: RUF012
    requests: list[ChatRequest] = []  # noqa: RUF012
    built_with: ClassVar[list[Any]] = []
    built_options: ClassVar[list[Any]] = []

    def __init__(self, replies: Sequence[Any] | None = None) -> None:
        if replies is not None:
            self.replies = list(replies)
            self.requests = []

    @classmethod
    def reset(cls) -> None:
        cls.replies, cls.requests, cls.built_with, cls.built_options = [], [], [], []

    @classmethod
    def from_settings(cls, settings: Any, options: Any = None) -> ScriptedBackend:
        cls.built_with.append(settings)
        cls.built_options.append(options)
        return cls()

    @property
    def model(self) -> str:
        return "scripted-1"

    @property
    def context_window(self) -> int:
        return 4096

    def status(self) -> BackendStatus:
        return BackendStatus(self.name, "available", self.model)

    def stream(self, request: ChatRequest) -> Iterator[str]:
        self.requests.append(request)
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        first, *rest = reply.split(" ")
        yield first
        for word in rest:
            yield " " + word
