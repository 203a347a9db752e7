"""The conversation and feedback store: ownership, order, search, export, migrations, and
what survives a kill -9 or two writers at once (real SQLite files, real processes)."""

from __future__ import annotations

import dataclasses
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from rag.types import Answer, Citation, SentenceCheck, ShortAnswer
from ui.conversations import ConversationStore, answer_from_json, answer_to_json, export_markdown
from ui.feedback import FeedbackStore
from ui.state_db import MIGRATIONS, SCHEMA_VERSION, StateDB, StateDBError, db_path, migrate

ROOT = Path(__file__).resolve().parents[2]


def _answer(text: str = "Naryshkin heads the SVR [1].") -> Answer:
    cite = Citation(
        n=1, source="svr.txt", title="SVR chief", chunk_id="c1", start=10, end=30,
        text="Sergei Naryshkin", chunk_text="Director Sergei Naryshkin spoke.", chunk_start=1,
        page=3,
    )  # fmt: skip
    check = SentenceCheck(text, (1,), True, 0.9, 0.8, 0.7)
    return Answer(
        text=text, citations=(cite,), hits=(), abstained=False, backend="extractive",
        model="m1", sentences=(check,), fallback=True,
    )  # fmt: skip


@pytest.fixture
def store(tmp_path: Path) -> ConversationStore:
    return ConversationStore.open(db_path(tmp_path))


def test_answer_round_trips_through_json_with_its_citations():
    short = ShortAnswer("Sergei Naryshkin", 1, 10, 26, 0, 40, "person", 0.9)
    answer = dataclasses.replace(_answer(), short_answer=short)
    again = answer_from_json(answer_to_json(answer))
    assert again == dataclasses.replace(answer, timings_ms={})
    assert again.citations == answer.citations and again.sentences == answer.sentences
    assert (again.text, again.backend, again.model, again.fallback) == (
        answer.text, "extractive", "m1", True,
    )  # fmt: skip


def test_messages_come_back_in_order_with_the_full_answer(store):
    conv = store.create("ann")
    store.add_message("ann", conv.id, "user", "Who is the director of the SVR?")
    store.add_message("ann", conv.id, "assistant", "Naryshkin [1].", _answer())
    got = store.messages("ann", conv.id)
    assert [(m.role, m.content) for m in got] == [
        ("user", "Who is the director of the SVR?"),
        ("assistant", "Naryshkin [1]."),
    ]
    assert got[1].answer is not None and got[1].answer.citations[0].page == 3
    assert store.get("ann", conv.id).title == "Who is the director of the SVR?"


def test_list_is_newest_first_and_each_user_sees_only_their_own(store):
    first = store.create("ann")
    store.add_message("ann", first.id, "user", "first question")
    second = store.create("ann")
    store.add_message("ann", second.id, "user", "second question")
    bobs = store.create("bob")
    store.add_message("bob", bobs.id, "user", "bob's secret")
    assert [c.title for c in store.list("ann")] == ["second question", "first question"]
    store.add_message("ann", first.id, "user", "follow-up")  # activity moves it up
    assert [c.id for c in store.list("ann")] == [first.id, second.id]
    assert [c.title for c in store.list("bob")] == ["bob's secret"]
    assert store.messages("ann", bobs.id) == [] and store.get("ann", bobs.id) is None
    assert not store.rename("ann", bobs.id, "mine now") and not store.delete("ann", bobs.id)
    with pytest.raises(KeyError):
        store.add_message("ann", bobs.id, "user", "sneaky")


def test_search_matches_titles_and_message_text_literally(store):
    a = store.create("ann")
    store.add_message("ann", a.id, "user", "Who is the director of the SVR?")
    store.add_message("ann", a.id, "assistant", "Sergei Naryshkin [1].", _answer())
    b = store.create("ann")
    store.add_message("ann", b.id, "user", "What is 100% certain?")
    assert [c.id for c in store.list("ann", "naryshkin")] == [a.id]
    assert [c.id for c in store.list("ann", "100%")] == [b.id]
    assert store.list("ann", "%") == [store.get("ann", b.id)]  # % is not a wildcard
    assert store.list("bob", "naryshkin") == []


def test_rename_and_delete(store):
    conv = store.create("ann")
    store.add_message("ann", conv.id, "user", "q")
    assert store.rename("ann", conv.id, "  My   notes ")
    assert store.get("ann", conv.id).title == "My notes"
    store.add_message("ann", conv.id, "user", "another question")  # keeps the new title
    assert store.get("ann", conv.id).title == "My notes"
    with pytest.raises(ValueError):
        store.rename("ann", conv.id, "  ")
    assert store.delete("ann", conv.id)
    assert store.list("ann") == [] and store.messages("ann", conv.id) == []


def test_export_markdown_has_questions_answers_and_quoted_citations(store):
    conv = store.create("ann")
    store.add_message("ann", conv.id, "user", "Who is the director of the SVR?")
    short = ShortAnswer("Sergei Naryshkin", 1, 10, 26, 0, 40, "person", 0.9)
    answer = dataclasses.replace(_answer(), short_answer=short)
    store.add_message("ann", conv.id, "assistant", "Naryshkin heads the SVR [1].", answer)
    md = export_markdown(store.get("ann", conv.id), store.messages("ann", conv.id))
    assert md.startswith("# Who is the director of the SVR?")
    assert "## Q: Who is the director of the SVR?" in md
    assert "**Answer:** Sergei Naryshkin [1]\n\nNaryshkin heads the SVR [1]." in md
    assert "[1] SVR chief (`svr.txt`, page 3)" in md and "> Sergei Naryshkin" in md


def test_feedback_is_replaced_noted_and_taken_back(tmp_path):
    store = ConversationStore.open(db_path(tmp_path))
    feedback = FeedbackStore(store.db)
    conv = store.create("ann")
    store.add_message("ann", conv.id, "user", "q1")
    msg = store.add_message("ann", conv.id, "assistant", "a1", _answer())
    feedback.rate("ann", msg.id, conv.id, 1, "q1", _answer(), history=["q0"])
    feedback.rate("ann", msg.id, conv.id, -1, "q1", _answer(), history=["q0"])
    assert feedback.set_note("ann", msg.id, " wrong person ")
    assert not feedback.set_note("bob", msg.id, "not mine")
    [down] = feedback.records(rating=-1)
    assert (down.rating, down.note, down.history, down.backend) == (
        -1, "wrong person", ("q0",), "extractive",
    )  # fmt: skip
    assert down.citations[0].source == "svr.txt"
    store.delete("ann", conv.id)
    assert feedback.records() == [down]  # feedback outlives its conversation
    feedback.rate("ann", msg.id, conv.id, None, "q1", _answer())
    assert feedback.records() == []


def test_an_old_schema_is_migrated_and_a_newer_one_refused(tmp_path):
    path = db_path(tmp_path)
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrate(conn, target=1) == 1
    conn.execute("INSERT INTO conversations VALUES ('c1', 'ann', 'old', 1, 1)")
    conn.close()
    store = ConversationStore.open(path)  # migrates to the newest version
    assert store.get("ann", "c1").title == "old"
    with store.db.read() as conn:
        assert conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == len(
            MIGRATIONS
        )
        conn.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION + 1,))
    with pytest.raises(StateDBError, match="newer"):
        StateDB(path)


def test_a_file_that_is_not_a_database_gives_one_clear_error(tmp_path):
    path = db_path(tmp_path)
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StateDBError, match="Cannot open the web app database"):
        StateDB(path)


WRITER = textwrap.dedent(
    """
    import sys
    from ui.conversations import ConversationStore
    store = ConversationStore.open(sys.argv[1])
    conv = sys.argv[2]
    for i in range(int(sys.argv[3])):
        m = store.add_message("ann", conv, "user", f"{sys.argv[4]}-{i} " + "x" * 2000)
        print(m.id, flush=True)
    """
)


def _writer(path: Path, conv: str, n: int, tag: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), conv, str(n), tag],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_kill_9_mid_writes_keeps_every_committed_message_and_a_sound_file(tmp_path):
    path = db_path(tmp_path)
    store = ConversationStore.open(path)
    conv = store.create("ann")
    proc = _writer(path, conv.id, 100_000, "w")
    committed: list[int] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        committed.append(int(line))
        if len(committed) >= 150:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    committed += [int(line) for line in proc.stdout.read().split()]
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    stored = {m.id for m in ConversationStore.open(path).messages("ann", conv.id)}
    assert set(committed) <= stored
    assert len(stored) - len(committed) <= 1  # at most the message being written


def test_two_processes_and_two_threads_writing_at_once_lose_nothing(tmp_path):
    path = db_path(tmp_path)
    store = ConversationStore.open(path)
    conv = store.create("ann")
    procs = [_writer(path, conv.id, 60, tag) for tag in ("p1", "p2")]

    def write(tag: str) -> None:
        for i in range(60):
            store.add_message("ann", conv.id, "user", f"{tag}-{i}")

    threads = [threading.Thread(target=write, args=(t,)) for t in ("t1", "t2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for p in procs:
        p.communicate(timeout=120)
        assert p.returncode == 0
    texts = [m.content.split()[0] for m in store.messages("ann", conv.id)]
    assert len(texts) == 240
    for tag in ("p1", "p2", "t1", "t2"):
        assert [t for t in texts if t.startswith(tag + "-")] == [f"{tag}-{i}" for i in range(60)]
