"""Example questions for the chat, made from the indexed documents' own titles.

The examples under the chat box should fit whatever was indexed, not the default corpus: each
is a question about one document's title ("What is “<title>” about?"), for the first few
documents that have one. The titles are read from the index (index.store, the chunks' `title`)
once per index state and cached; with no index, no titled document, or an index that cannot be
read, the fixed `FALLBACK` questions are offered. Nothing here answers or checks anything.
"""

from __future__ import annotations

import threading
from typing import Any

from index.config import IndexSettings

FALLBACK = (
    "Who is the director of the SVR?",
    "When did the CIA and SVR chiefs speak?",
    "Why are U.S. allies rethinking intelligence sharing?",
)
COUNT = 3
TITLE_CHARS = 90


def question_about(title: str) -> str:
    flat = " ".join(title.split()).strip(" .:")
    if len(flat) > TITLE_CHARS:
        flat = flat[: TITLE_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return f"What is “{flat}” about?"


def document_titles(settings: IndexSettings, limit: int = COUNT) -> list[str]:
    """Distinct titles of the first `limit` titled documents (by file name)."""
    from index.store import open_index

    index = open_index(settings, check=False)
    titles: list[str] = []
    for source in sorted(index.sources()):
        chunks = index.chunks_of(source)
        title = chunks[0].title.strip() if chunks else ""
        if title and title != source and title not in titles:
            titles.append(title)
        if len(titles) >= limit:
            break
    return titles


class ExampleQuestions:
    """The current examples, recomputed only when the index state (`key`) changes."""

    def __init__(self, settings: IndexSettings) -> None:
        self.settings = settings
        self._key: object = None
        self._questions: list[str] = list(FALLBACK)
        self._lock = threading.Lock()

    def get(self, key: object) -> list[str]:
        with self._lock:
            if key is not None and key != self._key:
                try:
                    titles = document_titles(self.settings)
                except Exception:  # examples are a convenience: never break the page
                    titles = []
                self._questions = [question_about(t) for t in titles] or list(FALLBACK)
                self._key = key
            return list(self._questions)

    def for_assistant(self, assistant: Any) -> list[str]:
        """The examples for the assistant's current index (its status is the cache key)."""
        try:
            status = assistant.index_status()
        except Exception:  # the page must load even if the index misbehaves
            status = None
        return self.get((status.documents, status.chunks, status.last_indexed) if status else None)
