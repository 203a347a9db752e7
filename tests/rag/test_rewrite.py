"""Follow-up questions become standalone queries (heuristic, and with a model)."""

from __future__ import annotations

import pytest

from rag.backends.base import BackendError
from rag.rewrite import heuristic_rewrite, needs_rewrite, rewrite_query
from rag.testing.fakes import ScriptedBackend
from rag.types import Message

SVR_TURN = (
    Message("user", "Who is the director of the SVR?"),
    Message("assistant", "The SVR director is Sergey Naryshkin [1]."),
)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Who did he speak with?", True),
        ("And the CIA?", True),
        ("What about their agreement?", True),
        ("Why?", True),
        ("Which institute is Edward Hunter Christie from?", False),
        ("Who is the director of the SVR?", False),
    ],
)
def test_which_questions_lean_on_the_conversation(question, expected):
    assert needs_rewrite(question) is expected


def test_pronoun_follow_up_gets_the_previous_topic_and_names():
    query = heuristic_rewrite("Who did he speak with?", SVR_TURN)
    assert "director of the SVR" in query
    assert "Naryshkin" in query
    assert "speak with" in query
    assert " he " not in f" {query} "


def test_ellipsis_follow_up_asks_the_previous_question_about_something_else():
    query = heuristic_rewrite("And the CIA?", SVR_TURN)
    assert "director of the SVR" in query and "CIA" in query


def test_standalone_question_is_left_alone():
    result = rewrite_query("Which breach is Russia accused of?", SVR_TURN, mode="auto")
    assert result.query == "Which breach is Russia accused of?"
    assert result.method == "none"


def test_no_history_means_no_rewrite():
    assert rewrite_query("Who did he speak with?", (), mode="heuristic").method == "none"


def test_off_mode_keeps_the_question():
    result = rewrite_query("Who did he speak with?", SVR_TURN, mode="off")
    assert result.query == "Who did he speak with?"


def test_model_mode_uses_the_models_first_line():
    backend = ScriptedBackend(["Who did Sergey Naryshkin speak with?\nextra chatter"])
    result = rewrite_query("Who did he speak with?", SVR_TURN, mode="model", backend=backend)
    assert result == result.__class__("Who did Sergey Naryshkin speak with?", "model")
    prompt = backend.requests[0].messages[-1].content
    assert "Who is the director of the SVR?" in prompt and "Naryshkin" in prompt


def test_model_failure_falls_back_to_the_heuristic():
    backend = ScriptedBackend([BackendError("server down")])
    result = rewrite_query("Who did he speak with?", SVR_TURN, mode="model", backend=backend)
    assert result.method == "heuristic"
    assert "Naryshkin" in result.query


def test_empty_model_reply_falls_back_to_the_heuristic():
    backend = ScriptedBackend(["   "])
    result = rewrite_query("Who did he speak with?", SVR_TURN, mode="model", backend=backend)
    assert result.method == "heuristic"


def test_auto_uses_the_model_only_when_it_is_capable():
    weak = ScriptedBackend(["should not be used"])
    result = rewrite_query(
        "Who did he speak with?", SVR_TURN, mode="auto", backend=weak, model_capable=False
    )
    assert result.method == "heuristic" and weak.requests == []
    strong = ScriptedBackend(["Who did Naryshkin speak with?"])
    result = rewrite_query(
        "Who did he speak with?", SVR_TURN, mode="auto", backend=strong, model_capable=True
    )
    assert result.method == "model"
