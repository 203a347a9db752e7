"""The web chat's handlers around a fake assistant: streaming, checks, per-backend fields."""

from __future__ import annotations

from collections.abc import Iterator

import gradio as gr
import pytest

from rag.config import load_settings
from rag.pipeline_steps import question_problem
from rag.types import Answer, TextPiece
from ui.app import ChatHandlers, server_options
from ui.history import ChatSession


class StreamingAssistant:
    """Streams two pieces, then a checked answer whose text differs from what streamed."""

    def __init__(self) -> None:
        self.options: list[object] = []

    def validate(self, question: str) -> str | None:
        return question_problem(question, 2000)

    def stream(self, question, history=(), *, backend=None, backend_options=None, **_):
        self.options.append(backend_options)
        yield TextPiece("Naryshkin ")
        yield TextPiece("[7].")
        yield Answer(
            text="Naryshkin.", citations=(), hits=(), abstained=False, backend=backend, model="m"
        )


@pytest.fixture
def handlers() -> ChatHandlers:
    return ChatHandlers(load_settings(), StreamingAssistant())


def _respond(h: ChatHandlers, question: str, backend: str = "extractive") -> list[tuple]:
    events: Iterator[tuple] = h.respond(
        question, ChatSession(), backend, "http://127.0.0.1:9/v1", "m2", 5, True, []
    )
    # the handler updates one display list in place: keep what each step showed
    return [(list(display), *rest) for display, *rest in events]


def test_the_answer_streams_then_the_checked_text_replaces_it(handlers):
    steps = _respond(handlers, "Who is the director of the SVR?")
    streamed = [display[-1]["content"] for display, *_ in steps[1:-1]]
    assert any("[7]" in html for html in streamed)  # the raw text is shown as it streams
    display, box, _sources, conv = steps[-1]
    assert "Naryshkin." in display[-1]["content"] and "[7]" not in display[-1]["content"]
    assert box == "" and [m.content for m in conv.messages][-1] == "Naryshkin."


def test_an_over_long_question_is_an_error_with_the_limit(handlers):
    with pytest.raises(gr.Error, match="limit is 2000"):
        _respond(handlers, "x" * 2500)


def test_server_fields_follow_the_backends_options(handlers):
    settings = load_settings()
    assert server_options(settings, "openai") == {
        "base_url": settings.llm.openai.base_url,
        "model": settings.llm.openai.model,
    }
    assert server_options(settings, "extractive") is None
    assert server_options(settings, "llama-cpp") is None
    _respond(handlers, "Who is the director of the SVR?", backend="openai")
    _respond(handlers, "Who is the director of the SVR?", backend="extractive")
    assert handlers.assistant.options == [
        {"base_url": "http://127.0.0.1:9/v1", "model": "m2"},
        None,
    ]
