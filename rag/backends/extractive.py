"""The `extractive` backend: answers with the passages' best sentences, each cited [n].

No model and no network: it reads `request.passages` and `request.question` (not the
prompt messages). When the request carries the reader's short answer it leads with it, then
quotes the sentence that states it with its marker ("John Ratcliffe — CIA Director John
Ratcliffe initiated the call ... [1]."); otherwise it returns up to three sentences chosen by
`rag.extractive.best_sentences`, each with its passage marker. It yields nothing when no
sentence shares a content word with the question; the assistant reads an empty answer as "not
found". Deterministic, always available; its one option, `semantic`, adds embedding similarity
to the sentence ranking. It does not retrieve, abstain or check grounding (the assistant does).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from rag.backends.base import BackendStatus, ChatRequest, backend_options
from rag.citations import strip_markers
from rag.extractive import best_sentences, cite, lead_with

if TYPE_CHECKING:
    from index.embedding import Embedder
    from rag.config import Settings


class ExtractiveOptions(BaseModel):
    """The `[llm.extractive]` settings."""

    model_config = ConfigDict(extra="forbid")

    semantic: bool = Field(
        True,
        description=(
            "Rank sentences also by embedding similarity to the question (the index's "
            "embedder), not by shared words alone."
        ),
    )


class ExtractiveBackend:
    """Answers by quoting; `embedder` (optional) adds embedding similarity to the ranking."""

    name: ClassVar[str] = "extractive"
    Options: ClassVar[type[BaseModel]] = ExtractiveOptions
    context_tokens: int | None = None  # it reads passages, not a prompt: no need to cut them
    can_rewrite: bool = False  # no model to rewrite a follow-up with

    def __init__(self, sentences: int = 3, embedder: Embedder | None = None) -> None:
        self.sentences = sentences
        self.embedder = embedder

    @classmethod
    def from_settings(cls, settings: Settings, options: Any = None) -> ExtractiveBackend:
        opts = options if options is not None else backend_options(cls, settings)
        if not isinstance(opts, ExtractiveOptions) or not opts.semantic:
            return cls()
        from index.embedding import get_embedder

        return cls(embedder=get_embedder(settings.index))

    @property
    def model(self) -> str:
        return "extractive"

    @property
    def context_window(self) -> int:
        return 1_000_000  # no model: only the retriever's top_k limits the context

    def status(self) -> BackendStatus:
        return BackendStatus(
            name=self.name,
            state="available",
            model=self.model,
            detail="no model: quotes the best supporting sentences with their citations",
        )

    def stream(self, request: ChatRequest) -> Iterator[str]:
        selected = best_sentences(
            request.question, request.passages, k=self.sentences, embedder=self.embedder
        )
        short = request.short_answer
        first = lead_with(short, request.passages) if short is not None else ""
        if short is not None and first:
            yield first
            # the best-matching sentence too, when it is not the one the short answer is from
            said = " ".join(strip_markers(first).split())
            if selected and strip_markers(selected[0].clean_text).rstrip(".!?") not in said:
                yield " " + cite(selected[0])
            return
        for i, sentence in enumerate(selected):
            yield ("" if i == 0 else " ") + cite(sentence)
