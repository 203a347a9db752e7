"""Several writers on one web app database at once lose nothing: two processes and two threads
rate answers (thumbs up or down, a note on some) while the threads also bind conversations to
collections and create and delete collections through the server's own `Collections`.
Real SQLite files and real processes; tests/ui/test_conversations.py does the same for plain
messages, tests/reliability/test_webapp_state_crash.py kills a writer mid-write."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from rag.types import Answer, Citation
from ui.conversations import ConversationStore
from ui.feedback import FeedbackStore
from ui.state_db import db_path

ROOT = Path(__file__).resolve().parents[2]
ANSWERS = 20  # per writer


def _answer(text: str) -> Answer:
    cite = Citation(
        n=1, source="svr.txt", title="SVR chief", chunk_id="c1", start=0, end=16,
        text="Sergei Naryshkin", chunk_text="Sergei Naryshkin spoke.", chunk_start=0,
    )  # fmt: skip
    return Answer(
        text=text, citations=(cite,), hits=(), abstained=False, backend="extractive", model="m"
    )


def rate_answers(path: Path, tag: str) -> str:
    """One writer: a conversation of ANSWERS rated answers (every third with a note), as a
    user would leave them; returns its conversation id."""
    store = ConversationStore.open(path)
    feedback = FeedbackStore(store.db)
    conv = store.create(tag).id
    for i in range(ANSWERS):
        store.add_message(tag, conv, "user", f"{tag} q{i}")
        answer = _answer(f"{tag} a{i}")
        stored = store.add_message(tag, conv, "assistant", answer.text, answer)
        feedback.rate(tag, stored.id, conv, -1 if i % 2 else 1, f"{tag} q{i}", answer)
        if i % 3 == 0:
            feedback.set_note(tag, stored.id, f"{tag} note {i}")
    return conv


PROCESS = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from tests.ui.test_state_concurrency import rate_answers
    rate_answers(Path(sys.argv[1]), sys.argv[2])
    """
)


def test_processes_and_threads_rating_and_making_collections_at_once_lose_nothing(tmp_path):
    # imported here: the writer processes import this module and need none of these
    from index.config import IndexSettings
    from index.store import collection_names
    from rag.config import Settings
    from ui.collections import Collections, bind, bound_collection

    data_dir = tmp_path / "data"
    path = db_path(data_dir)
    ConversationStore.open(path)  # the schema exists before the writers race
    procs = [
        subprocess.Popen([sys.executable, "-c", PROCESS, str(path), tag], cwd=ROOT)
        for tag in ("p1", "p2")
    ]
    collections = Collections(Settings(index=IndexSettings(data_dir=data_dir)), None)
    errors: list[BaseException] = []

    def thread_writer(tag: str) -> None:
        try:
            db = ConversationStore.open(path).db
            for i in range(10):  # a collection per conversation; every other one deleted
                name = collections.create(f"{tag}-{i}")
                conv = ConversationStore(db).create(tag).id
                bind(db, conv, name)
                if i % 2:
                    collections.delete(name)
            rate_answers(path, tag)
        except BaseException as err:  # reported by the main thread
            errors.append(err)

    threads = [threading.Thread(target=thread_writer, args=(t,)) for t in ("t1", "t2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for p in procs:
        assert p.wait(timeout=300) == 0
    assert errors == []

    store = ConversationStore.open(path)
    records = FeedbackStore(store.db).records()
    for tag in ("p1", "p2", "t1", "t2"):
        mine = [r for r in records if r.user == tag]
        assert [r.question for r in mine] == [f"{tag} q{i}" for i in range(ANSWERS)]
        assert [r.rating for r in mine] == [-1 if i % 2 else 1 for i in range(ANSWERS)]
        assert [r.note for r in mine] == [
            f"{tag} note {i}" if i % 3 == 0 else "" for i in range(ANSWERS)
        ]
        rated = [c for c in store.list(tag) if store.messages(tag, c.id)]
        assert len(rated) == 1 and len(store.messages(tag, rated[0].id)) == 2 * ANSWERS
    for tag in ("t1", "t2"):
        bound = {
            bound_collection(store.db, c.id)
            for c in store.list(tag)
            if not store.messages(tag, c.id)
        }
        assert bound == {f"{tag}-{i}" for i in range(10)}
    kept = {f"{t}-{i}" for t in ("t1", "t2") for i in range(0, 10, 2)}
    assert set(collection_names(IndexSettings(data_dir=data_dir))[1:]) == kept
