"""The sidebar and feedback handlers over a real store, and the example questions."""

from __future__ import annotations

import gradio as gr
import pytest

from index.config import IndexSettings
from rag.types import Answer, Citation
from ui.conversations import ConversationStore
from ui.examples import FALLBACK, ExampleQuestions, question_about
from ui.history import ChatSession, HistoryHandlers, session_from
from ui.state_db import db_path


def _answer(text: str) -> Answer:
    cite = Citation(n=1, source="a.txt", title="A", chunk_id="c", start=0, end=4, text="Text")
    return Answer(text=text, citations=(cite,), hits=(), abstained=False, backend="b", model="m")


@pytest.fixture
def filled(tmp_path) -> tuple[HistoryHandlers, str]:
    store = ConversationStore.open(db_path(tmp_path))
    conv = store.create("local")
    store.add_message("local", conv.id, "user", "first?")
    store.add_message("local", conv.id, "assistant", "One [1].", _answer("One [1]."))
    store.add_message("local", conv.id, "user", "stopped?")  # its answer was stopped
    store.add_message("local", conv.id, "user", "third?")
    store.add_message("local", conv.id, "assistant", "Three [1].", _answer("Three [1]."))
    return HistoryHandlers(store), conv.id


def test_a_reopened_conversation_shows_everything_but_feeds_only_whole_pairs(filled):
    hist, conv_id = filled
    session = session_from(conv_id, hist.store.messages("local", conv_id))
    assert len(session.display) == 5 and len(session.message_ids) == 5
    assert [m.content for m in session.messages] == ["first?", "One [1].", "third?", "Three [1]."]
    assert session.last is not None and session.last.text == "Three [1]."


def test_thumbs_down_records_the_question_and_earlier_questions(filled):
    hist, conv_id = filled
    session = session_from(conv_id, hist.store.messages("local", conv_id))
    data = gr.LikeData(None, {"index": 4, "value": ["Three [1]."], "liked": False})
    row, _note, rated = hist.like(session, data, None)
    assert row["visible"] is True and rated == session.message_ids[4]
    hist.save_note(rated, "wrong number", None)
    [record] = hist.feedback.records(rating=-1)
    assert (record.question, record.history, record.note) == (
        "third?", ("first?", "stopped?"), "wrong number",
    )  # fmt: skip
    undo = gr.LikeData(None, {"index": 4, "value": ["Three [1]."], "liked": ""})
    hist.like(session, undo, None)  # clicking the same thumb again takes it back
    assert hist.feedback.records() == []


def test_copy_text_is_the_answer_with_its_sources():
    session = ChatSession(last=_answer("One [1]."))
    assert HistoryHandlers.copy_text(session) == "One [1].\n\nSources:\n[1] A — a.txt: “Text”"
    assert HistoryHandlers.copy_text(ChatSession()) == ""


def test_examples_fall_back_without_an_index_and_are_cached_per_index_state(tmp_path):
    examples = ExampleQuestions(IndexSettings(data_dir=tmp_path / "none"))
    assert examples.get(None) == list(FALLBACK)
    assert examples.get(("empty", 0)) == list(FALLBACK)  # nothing titled: the fixed ones
    assert question_about("  A  long\ntitle: ") == "What is “A long title” about?"
    assert len(question_about("word " * 60)) < 110
