"""Crash safety of the web app's state: a process writing conversations, messages, feedback and
collections through the server's own code (ui.conversations, ui.feedback, ui.collections) is
SIGKILLed at random moments, again and again on the same data dir.

The writer prints each operation before it starts and again once it returned, so the test
knows every finished operation and the one that was running when the kill landed. After each
kill: the SQLite file passes `PRAGMA integrity_check` and `foreign_key_check`, the schema
version is intact, every finished operation is there, and the stored state is exactly the
finished operations, or those plus the interrupted one applied whole (a message, a rating, a
deleted conversation: all or nothing). A collection whose folder was being deleted may be
left half-deleted; it can then be deleted again. The next writer opens the same store and
goes on. (A kill leaves the OS's page cache intact; a power cut is not simulated here.)
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from rag.types import Answer, Citation

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = int(os.environ.get("RAG_STATE_CRASH_RUNS", "6"))
PAD = "x" * 1500  # message text long enough that a write spans several pages


def _answer(text: str) -> Answer:
    cite = Citation(
        n=1, source="svr.txt", title="SVR chief", chunk_id="c1", start=0, end=16,
        text="Sergei Naryshkin", chunk_text="Sergei Naryshkin spoke. " + PAD, chunk_start=0,
    )  # fmt: skip
    return Answer(
        text=text, citations=(cite,), hits=(), abstained=False, backend="extractive", model="m"
    )


# ---------------------------------------------------------------- the writer (a subprocess)
def write_forever(data_dir: str, round_no: int, seed: int) -> None:
    """Write through the server's stores until killed; one JSON line before and after each
    operation ({"op": ...} then {"done": ...})."""
    from index.config import DEFAULT_COLLECTION, IndexSettings
    from rag.config import Settings
    from ui.collections import Collections, bind
    from ui.conversations import ConversationStore
    from ui.feedback import FeedbackStore
    from ui.state_db import db_path
    from ui.uploads import save_upload

    rng = random.Random(seed)
    store = ConversationStore.open(db_path(Path(data_dir)))
    feedback = FeedbackStore(store.db)
    collections = Collections(Settings(index=IndexSettings(data_dir=Path(data_dir))), None)
    note = Path(data_dir) / f"note-{round_no}.txt"
    note.write_text("Zorblax Station is commanded by Ilse Varga. " + PAD, encoding="utf-8")

    def say(**line: object) -> None:
        print(json.dumps(line), flush=True)

    convs = [c.id for c in store.list("ann")]
    rated: list[int] = []
    for i in range(1_000_000):
        tag = f"r{round_no}-{i}"
        choice = rng.random()
        live = [n for n in collections.names() if n != DEFAULT_COLLECTION]
        if not convs or choice < 0.08:
            say(op="conversation")
            convs.append(store.create("ann").id)
            say(done="conversation", id=convs[-1])
            col = rng.choice([DEFAULT_COLLECTION, *live])
            say(op="bind", conv=convs[-1], collection=col)
            bind(store.db, convs[-1], col)
            say(done="bind")
        elif choice < 0.13:
            say(op="create_collection", name=f"c{tag}")
            collections.create(f"c{tag}")
            say(done="create_collection")
            say(op="upload", name=f"c{tag}")
            save_upload(note, "zorblax.txt", collections.settings_for(f"c{tag}").index.uploads_dir)
            say(done="upload")
        elif choice < 0.17 and live:
            say(op="delete_collection", name=(name := rng.choice(live)))
            collections.delete(name)
            say(done="delete_collection")
        elif choice < 0.20 and len(convs) > 2:
            say(op="delete_conversation", conv=(conv := convs.pop(rng.randrange(len(convs)))))
            store.delete("ann", conv)
            say(done="delete_conversation")
        elif choice < 0.35 and rated:
            message_id, text = rng.choice(rated), f"note {tag}"
            say(op="note", message=message_id, note=text)
            feedback.set_note("ann", message_id, text)
            say(done="note")
        else:
            conv = rng.choice(convs)
            question = f"q {tag} {PAD}"
            say(op="message", conv=conv, role="user", content=question)
            asked = store.add_message("ann", conv, "user", question)
            say(done="message", id=asked.id)
            text = f"a {tag} [1]"
            say(op="message", conv=conv, role="assistant", content=text)
            answer = store.add_message("ann", conv, "assistant", text, _answer(text))
            say(done="message", id=answer.id)
            rating = rng.choice((1, -1))
            say(op="rate", message=answer.id, conv=conv, rating=rating)
            feedback.rate("ann", answer.id, conv, rating, question, _answer(text))
            say(done="rate")
            rated.append(answer.id)


def _start_writer(data_dir: Path, round_no: int, seed: int) -> subprocess.Popen:
    code = (
        "import sys; from tests.reliability.test_webapp_state_crash import write_forever; "
        "write_forever(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code, str(data_dir), str(round_no), str(seed)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


# ---------------------------------------------------------------- the expected state
@dataclass
class State:
    """What the store holds, as the writer's operations describe it."""

    messages: dict[str, list[str]] = field(default_factory=dict)  # conversation -> contents
    ids: dict[int, tuple[str, str]] = field(default_factory=dict)  # message -> conv, content
    feedback: dict[int, tuple[int, str]] = field(default_factory=dict)  # message -> rating, note
    bindings: dict[str, str] = field(default_factory=dict)
    collections: set[str] = field(default_factory=set)

    def copy(self) -> State:
        return State(
            {k: list(v) for k, v in self.messages.items()}, dict(self.ids), dict(self.feedback),
            dict(self.bindings), set(self.collections),
        )  # fmt: skip

    def apply(self, op: dict, done: dict | None) -> None:
        """Apply one operation (`done`: its "done" line, None when it was interrupted)."""
        kind = op["op"]
        if kind == "conversation" and done is not None:  # its id comes with "done"
            self.messages[done["id"]] = []
        elif kind == "bind":
            self.bindings.setdefault(op["conv"], op["collection"])
        elif kind == "create_collection":
            self.collections.add(op["name"])
        elif kind == "delete_collection":
            self.collections.discard(op["name"])
        elif kind == "delete_conversation":  # messages and binding go too (ON DELETE CASCADE)
            self.messages.pop(op["conv"], None)
            self.bindings.pop(op["conv"], None)
            self.ids = {i: m for i, m in self.ids.items() if m[0] != op["conv"]}
        elif kind == "message":
            self.messages[op["conv"]].append(op["content"])
            if done is not None:
                self.ids[done["id"]] = (op["conv"], op["content"])
        elif kind == "rate":
            old = self.feedback.get(op["message"], (0, ""))
            self.feedback[op["message"]] = (op["rating"], old[1])
        elif kind == "note":
            self.feedback[op["message"]] = (self.feedback[op["message"]][0], op["note"])


def _observed(data_dir: Path) -> State:
    from index.config import IndexSettings
    from index.store import collection_names
    from ui.state_db import db_path

    state = State()
    with sqlite3.connect(db_path(data_dir)) as conn:
        for conv, content in conn.execute(
            "SELECT c.id, m.content FROM conversations c LEFT JOIN messages m"
            " ON m.conversation_id = c.id ORDER BY c.id, m.id"
        ):
            contents = state.messages.setdefault(conv, [])
            if content is not None:
                contents.append(content)
        state.ids = {
            i: (conv, content)
            for i, conv, content in conn.execute(
                "SELECT id, conversation_id, content FROM messages"
            )
        }
        state.feedback = {
            m: (r, n) for m, r, n in conn.execute("SELECT message_id, rating, note FROM feedback")
        }
        state.bindings = dict(
            conn.execute("SELECT conversation_id, collection FROM conversation_collections")
        )
    state.collections = set(collection_names(IndexSettings(data_dir=data_dir))[1:])
    return state


def _differences(expected: State, seen: State) -> list[str]:
    problems = []
    if seen.messages != expected.messages:
        problems.append("conversations/messages differ")
    missing = [i for i, m in expected.ids.items() if seen.ids.get(i) != m]
    if missing:
        problems.append(f"{len(missing)} finished messages missing or changed")
    if seen.feedback != expected.feedback:
        problems.append("feedback differs")
    if seen.bindings != expected.bindings:
        problems.append("collection bindings differ")
    if seen.collections != expected.collections:
        problems.append("collections differ")
    return problems


def _read_until_kill(proc: subprocess.Popen, rng: random.Random) -> list[dict]:
    """Read the writer's lines, then SIGKILL it at a random moment; every line it printed."""
    assert proc.stdout is not None
    lines: list[dict] = []
    wanted = rng.randint(30, 200)
    for raw in proc.stdout:
        lines.append(json.loads(raw))
        if len(lines) >= wanted:
            break
    time.sleep(rng.choice((0.0, rng.uniform(0.0, 0.005), rng.uniform(0.0, 0.05))))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # read the rest through the same file object: the loop above may have buffered lines it
    # did not yet hand out, which communicate() (reading the raw pipes) would skip
    out = proc.stdout.read()
    err = proc.stderr.read() if proc.stderr else ""
    assert proc.returncode == -signal.SIGKILL, f"the writer ended by itself:\n{err}"
    lines += [json.loads(raw) for raw in out.splitlines() if raw.strip()]
    return lines


def _finished_and_interrupted(lines: list[dict]) -> tuple[list[tuple[dict, dict]], dict | None]:
    """The (operation, done line) pairs, and the operation the kill interrupted (or None)."""
    ops = [line for line in lines if "op" in line]
    dones = [line for line in lines if "done" in line]
    assert len(ops) - len(dones) in (0, 1), "only the last operation can be unfinished"
    for op, done in zip(ops, dones, strict=False):
        assert done["done"] == op["op"], (op, done)
    interrupted = ops[-1] if len(ops) > len(dones) else None
    return list(zip(ops, dones, strict=False)), interrupted


def test_sigkill_during_webapp_writes_keeps_every_finished_write_and_a_sound_store(
    tmp_path: Path, figures
) -> None:
    from index.config import IndexSettings
    from index.store import collection_names, delete_collection
    from ui.conversations import ConversationStore
    from ui.feedback import FeedbackStore
    from ui.state_db import SCHEMA_VERSION, db_path, schema_version

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    rng = random.Random(20261204)
    expected = State()
    rows = []
    for round_no in range(ROUNDS):
        proc = _start_writer(data_dir, round_no, seed=rng.randrange(1 << 30))
        started = time.monotonic()
        lines = _read_until_kill(proc, rng)
        elapsed = time.monotonic() - started
        finished, interrupted = _finished_and_interrupted(lines)
        for op, done in finished:
            expected.apply(op, done)

        with sqlite3.connect(db_path(data_dir)) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
            assert schema_version(conn) == SCHEMA_VERSION
        seen = _observed(data_dir)
        problems = _differences(expected, seen)
        outcome = "-"
        if interrupted is not None:
            whole = expected.copy()
            whole.apply(interrupted, None)
            if interrupted["op"] == "conversation":  # its id was never printed
                whole.messages.update({c: [] for c in set(seen.messages) - set(expected.messages)})
            if not problems:
                outcome = "not applied"
            elif not _differences(whole, seen):
                problems, outcome, expected = [], "applied whole", whole
            name = interrupted.get("name")
            if (
                interrupted["op"] == "delete_collection"
                and not problems
                and name in seen.collections
            ):
                # the folder's deletion stopped part-way (or had not begun): delete it again
                delete_collection(IndexSettings(data_dir=data_dir), name)
                outcome, expected = "folder left, deleted again", whole
        expected.ids = dict(seen.ids)  # checked above: it holds every finished message
        kind = interrupted["op"] if interrupted else "between operations"
        rows.append([round_no + 1, f"{elapsed:.1f}s", len(finished), kind, outcome,
                     "; ".join(problems) or "0"])  # fmt: skip
        assert problems == [], rows[-1]

    # the store opens (no migration needed) and works after all those kills
    store = ConversationStore.open(db_path(data_dir))
    conv = store.create("ann")
    message = store.add_message("ann", conv.id, "assistant", "after", _answer("after"))
    assert FeedbackStore(store.db).rate("ann", message.id, conv.id, -1, "q", _answer("after"))
    assert [m.content for m in store.messages("ann", conv.id)] == ["after"]
    assert collection_names(IndexSettings(data_dir=data_dir))[1:] == sorted(expected.collections)

    figures.add(
        f"{ROUNDS} SIGKILLs of a web-state writer (conversations, messages, feedback, "
        f"collections): finished writes lost 0, half-applied writes 0; at the end "
        f"{sum(len(m) for m in expected.messages.values())} messages, "
        f"{len(expected.feedback)} ratings, {len(expected.collections)} collections"
    )
    figures.table(["kill", "after", "finished ops", "interrupted", "outcome", "problems"], rows)
    interrupted_kills = [row for row in rows if row[3] != "between operations"]
    assert interrupted_kills, "no kill landed during a write"
