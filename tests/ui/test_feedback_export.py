"""`rag eval --export-feedback`: thumbs-down answers become a suite that `rag eval` loads."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from evals.suite import load_suite
from rag.cli import cli
from rag.types import Answer, Citation
from ui.conversations import ConversationStore
from ui.feedback import FeedbackStore
from ui.state_db import db_path


def _answer(text: str, source: str) -> Answer:
    cite = Citation(n=1, source=source, title="T", chunk_id="c", start=0, end=4, text="Text")
    return Answer(
        text=text, citations=(cite,), hits=(), abstained=False, backend="extractive", model="m"
    )


def _rated(data_dir: Path) -> None:
    store = ConversationStore.open(db_path(data_dir))
    feedback = FeedbackStore(store.db)
    conv = store.create("ann")
    for question, text, rating in [
        ("Who is the director of the SVR?", "Ratcliffe [1].", -1),
        ("Who did he speak with?", "Naryshkin [1].", -1),
        ("When did they speak?", "In March [1].", 1),
    ]:
        store.add_message("ann", conv.id, "user", question)
        answer = _answer(text, "svr.txt")
        msg = store.add_message("ann", conv.id, "assistant", text, answer)
        earlier = [m.content for m in store.messages("ann", conv.id) if m.role == "user"]
        feedback.rate("ann", msg.id, conv.id, rating, question, answer, earlier[:-1])
        if rating < 0:
            feedback.set_note("ann", msg.id, f"wrong: {question}")


def test_thumbs_down_answers_export_as_a_loadable_suite_with_marked_todos(tmp_path):
    data_dir = tmp_path / "data"
    _rated(data_dir)
    out = tmp_path / "feedback.yaml"
    done = CliRunner().invoke(
        cli, ["--data-dir", str(data_dir), "eval", "--export-feedback", str(out)]
    )
    assert done.exit_code == 0, done.output
    assert "Wrote 2 case(s)" in done.output
    text = out.read_text(encoding="utf-8")
    assert text.count("# TODO: the expected answer(s)") == 2 and "todo:" in text
    suite = load_suite(out)
    first, second = suite.cases
    assert first.question == "Who is the director of the SVR?" and first.answers == []
    assert first.model_extra["note"] == "wrong: Who is the director of the SVR?"
    assert first.model_extra["given_answer"] == "Ratcliffe [1]."
    assert first.model_extra["cited_sources"] == ["svr.txt"]
    # the follow-up keeps its context: asked after the question before it
    assert second.turns is not None
    assert [t.question for t in second.turns] == [
        "Who is the director of the SVR?",
        "Who did he speak with?",
    ]


def test_export_without_feedback_is_one_clear_line(tmp_path):
    done = CliRunner().invoke(
        cli, ["--data-dir", str(tmp_path), "eval", "--export-feedback", str(tmp_path / "f.yaml")]
    )
    assert done.exit_code != 0 and "No web chat feedback yet" in done.output
    assert "Traceback" not in done.output
