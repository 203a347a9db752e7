"""Typed values of the document side: a loaded document, its chunks, and an ingest report.

These cross module boundaries (loaders -> cleaning -> chunking -> stores -> the question
side), so they are frozen dataclasses, never loose dicts. Nothing here does any work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class PageSpan:
    """Where one PDF page lies in a document's cleaned text: [start, end) character offsets."""

    page: int  # 1-based page number
    start: int
    end: int


@dataclass(frozen=True)
class RawDocument:
    """What a loader returns: text as extracted, before cleaning.

    `pages` is set for paginated formats (PDF): offsets into `text`.
    """

    path: str  # absolute path of the file
    source: str  # path relative to the indexed root (POSIX separators): the document's name
    text: str
    kind: str  # "txt", "md", "html", "pdf", "docx"
    pages: tuple[PageSpan, ...] = ()
    title_hint: str | None = None  # a title the format itself carries (<title>, docx core props)


@dataclass(frozen=True)
class Document:
    """A cleaned document, ready to chunk. Offsets in chunks refer to `text`."""

    path: str
    source: str
    text: str
    title: str
    date: str | None  # ISO date (YYYY-MM-DD) when one is written in the text
    kind: str
    content_hash: str  # sha256 of the file's bytes
    pages: tuple[PageSpan, ...] = ()


@dataclass(frozen=True)
class Chunk:
    """A passage of a document, the unit that is embedded, searched and cited.

    `text == document.text[start:end]`, so a citation can highlight the exact passage.
    """

    id: str  # derived from source, position and text: same content -> same id
    source: str
    title: str
    text: str
    position: int  # 0-based index of the chunk within its document
    start: int
    end: int
    n_tokens: int
    page: int | None = None  # PDF page where the chunk starts
    date: str | None = None
    path: str = ""
    heading: str | None = None  # the section heading the chunk falls under, if any

    def metadata(self) -> dict[str, str | int]:
        """Flat metadata for a vector store (no None values: Chroma rejects them)."""
        meta: dict[str, str | int] = {
            "source": self.source,
            "title": self.title,
            "position": self.position,
            "start": self.start,
            "end": self.end,
            "n_tokens": self.n_tokens,
            "path": self.path,
        }
        if self.page is not None:
            meta["page"] = self.page
        if self.date:
            meta["date"] = self.date
        if self.heading:
            meta["heading"] = self.heading
        return meta

    @classmethod
    def from_metadata(cls, chunk_id: str, text: str, meta: dict) -> Chunk:
        """Inverse of `metadata()`."""
        return cls(
            id=chunk_id,
            source=str(meta["source"]),
            title=str(meta.get("title", "")),
            text=text,
            position=int(meta.get("position", 0)),
            start=int(meta.get("start", 0)),
            end=int(meta.get("end", len(text))),
            n_tokens=int(meta.get("n_tokens", 0)),
            page=int(meta["page"]) if meta.get("page") is not None else None,
            date=meta.get("date") or None,
            path=str(meta.get("path", "")),
            heading=meta.get("heading") or None,
        )


@dataclass(frozen=True)
class Skipped:
    """A file that was not indexed, and why (shown to the user as is)."""

    path: str
    reason: str


FileStatus = Literal["added", "updated", "unchanged", "removed", "skipped"]


@dataclass(frozen=True)
class FileResult:
    """What one run did to one file (the web upload shows these per file)."""

    source: str
    status: FileStatus
    chunks: int = 0
    reason: str | None = None  # why it was skipped

    def as_json(self) -> dict:
        return {
            "source": self.source,
            "status": self.status,
            "chunks": self.chunks,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class IndexStatus:
    """What is in the index now (shown by the web app and `rag index --status`)."""

    documents: int
    chunks: int
    embedding_model: str
    dimension: int
    chunk_tokens: int
    chunk_overlap: int
    last_indexed: str | None  # ISO timestamp of the last run that changed something
    location: str  # the data dir, or the Chroma server URL

    def as_json(self) -> dict:
        return dict(self.__dict__)


@dataclass
class IngestReport:
    """The summary of one `rag index` run. `as_json()` is the `--json` contract."""

    documents: int = 0  # documents in the index after the run
    chunks: int = 0  # chunks in the index after the run
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    seconds: float = 0.0
    embedded_chunks: int = 0  # chunks embedded in this run (0 when nothing changed)
    timings: dict[str, float] = field(default_factory=dict)  # load/chunk/embed/store seconds
    files: list[FileResult] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "documents": self.documents,
            "chunks": self.chunks,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            "seconds": round(self.seconds, 3),
            "embedded_chunks": self.embedded_chunks,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "files": [f.as_json() for f in self.files],
        }
