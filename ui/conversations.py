"""Saved conversations of the web chat: typed records, the SQLite store, Markdown export.

A conversation belongs to one user (the basic-auth user name, or `LOCAL_USER` when the
server has no auth) and is only ever read, listed, renamed or deleted by that user. Each
message is written in its own transaction; an assistant message keeps the whole checked
answer (text, citations with their passages, sentence checks, backend, model) as JSON of the
typed values, so reopening a conversation shows the same answer bubble and sources panel.
Lists are newest first (by last activity); the title is the first question until renamed.
This module does not render HTML or call the assistant (ui.app and ui.render do).
"""

from __future__ import annotations

import builtins
import dataclasses
import json
import time
import typing
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rag.types import Answer, Citation, SentenceCheck
from ui.state_db import StateDB

LOCAL_USER = "local"
TITLE_CHARS = 80
# Answer fields not kept: retrieval details that the chat does not show again
_NOT_STORED = {"hits", "context", "timings_ms"}


@dataclass(frozen=True)
class ConversationInfo:
    id: str
    user: str
    title: str
    created: float
    updated: float


@dataclass(frozen=True)
class StoredMessage:
    id: int
    conversation_id: str
    role: Literal["user", "assistant"]
    content: str  # the question, or the answer text the assistant sees as history
    answer: Answer | None  # the full checked answer (assistant messages)
    created: float


def citation_from_json(data: dict[str, Any]) -> Citation:
    known = {f.name for f in dataclasses.fields(Citation)}
    return Citation(**{k: v for k, v in data.items() if k in known})


def answer_to_json(answer: Answer) -> str:
    """The answer's shown fields as JSON (new scalar fields of `Answer` are kept too)."""
    data: dict[str, Any] = {}
    for f in dataclasses.fields(Answer):
        if f.name in _NOT_STORED:
            continue
        value = getattr(answer, f.name)
        if f.name in ("citations", "sentences"):
            value = [dataclasses.asdict(item) for item in value]
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            value = dataclasses.asdict(value)  # e.g. the short answer
        elif not isinstance(value, str | int | float | bool | type(None)):
            continue  # not JSON-safe: not shown by the chat
        data[f.name] = value
    return json.dumps(data, ensure_ascii=False)


def _tuples(key: str, value: Any) -> Any:
    return tuple(value) if key == "citations" else value


def _rebuild(hint: Any, value: Any) -> Any:
    """A stored dict back as the dataclass its field holds (`X | None` fields too)."""
    if isinstance(value, dict):
        for kind in typing.get_args(hint) or (hint,):
            if dataclasses.is_dataclass(kind) and isinstance(kind, type):
                known = {f.name for f in dataclasses.fields(kind)}
                return kind(**{k: v for k, v in value.items() if k in known})
    return value


def answer_from_json(raw: str) -> Answer:
    data = json.loads(raw)
    hints = typing.get_type_hints(Answer)
    values = {k: _rebuild(hints[k], v) for k, v in data.items() if k in hints}
    values["citations"] = tuple(citation_from_json(c) for c in data.get("citations", []))
    sentence_fields = {f.name for f in dataclasses.fields(SentenceCheck)}
    values["sentences"] = tuple(
        SentenceCheck(**{k: _tuples(k, v) for k, v in s.items() if k in sentence_fields})
        for s in data.get("sentences", [])
    )
    values.setdefault("text", "")
    values.setdefault("abstained", False)
    values.setdefault("backend", "")
    values.setdefault("model", "")
    return Answer(hits=(), **values)


def _title(question: str) -> str:
    line = " ".join(question.split())
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1].rstrip() + "…"


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _info(row: Any) -> ConversationInfo:
    return ConversationInfo(row["id"], row["user"], row["title"], row["created"], row["updated"])


class ConversationStore:
    """Conversations and messages in the web app database, scoped to their user."""

    def __init__(self, db: StateDB) -> None:
        self.db = db

    @classmethod
    def open(cls, path: Path) -> ConversationStore:
        return cls(StateDB(path))

    def create(self, user: str, title: str = "") -> ConversationInfo:
        now = time.time()
        info = ConversationInfo(uuid.uuid4().hex, user, _title(title), now, now)
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO conversations (id, user, title, created, updated) VALUES (?,?,?,?,?)",
                (info.id, info.user, info.title, info.created, info.updated),
            )
        return info

    def get(self, user: str, conversation_id: str) -> ConversationInfo | None:
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT * FROM conversations WHERE id = ? AND user = ?", (conversation_id, user)
            ).fetchone()
        return _info(row) if row else None

    def list(self, user: str, search: str = "", limit: int = 200) -> list[ConversationInfo]:
        """The user's conversations, newest activity first; `search` matches titles and text."""
        query = "SELECT * FROM conversations c WHERE user = ?"
        params: list[Any] = [user]
        if search.strip():
            pattern = _like_pattern(search.strip())
            query += (
                " AND (title LIKE ? ESCAPE '\\' OR EXISTS (SELECT 1 FROM messages m"
                " WHERE m.conversation_id = c.id AND m.content LIKE ? ESCAPE '\\'))"
            )
            params += [pattern, pattern]
        query += " ORDER BY updated DESC, created DESC LIMIT ?"
        with self.db.read() as conn:
            rows = conn.execute(query, (*params, limit)).fetchall()
        return [_info(r) for r in rows]

    def add_message(
        self,
        user: str,
        conversation_id: str,
        role: Literal["user", "assistant"],
        content: str,
        answer: Answer | None = None,
    ) -> StoredMessage:
        """Append one message in one transaction; the first question becomes the title."""
        now = time.time()
        raw = answer_to_json(answer) if answer is not None else None
        with self.db.write() as conn:
            found = conn.execute(
                "SELECT title FROM conversations WHERE id = ? AND user = ?",
                (conversation_id, user),
            ).fetchone()
            if found is None:
                raise KeyError(f"no conversation {conversation_id} for this user")
            cursor = conn.execute(
                "INSERT INTO messages (conversation_id, role, content, answer_json, created)"
                " VALUES (?,?,?,?,?)",
                (conversation_id, role, content, raw, now),
            )
            title = found["title"] or (_title(content) if role == "user" else "")
            conn.execute(
                "UPDATE conversations SET updated = ?, title = ? WHERE id = ?",
                (now, title, conversation_id),
            )
        assert cursor.lastrowid is not None
        return StoredMessage(cursor.lastrowid, conversation_id, role, content, answer, now)

    # `builtins.list`: inside this class, `list` names the method above.
    def messages(self, user: str, conversation_id: str) -> builtins.list[StoredMessage]:
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT m.* FROM messages m JOIN conversations c ON c.id = m.conversation_id"
                " WHERE c.id = ? AND c.user = ? ORDER BY m.id",
                (conversation_id, user),
            ).fetchall()
        return [
            StoredMessage(
                r["id"],
                r["conversation_id"],
                r["role"],
                r["content"],
                answer_from_json(r["answer_json"]) if r["answer_json"] else None,
                r["created"],
            )
            for r in rows
        ]

    def message(self, user: str, message_id: int) -> StoredMessage | None:
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT m.conversation_id FROM messages m JOIN conversations c"
                " ON c.id = m.conversation_id WHERE m.id = ? AND c.user = ?",
                (message_id, user),
            ).fetchone()
        if row is None:
            return None
        found = [m for m in self.messages(user, row[0]) if m.id == message_id]
        return found[0] if found else None

    def rename(self, user: str, conversation_id: str, title: str) -> bool:
        title = _title(title)
        if not title:
            raise ValueError("A conversation title cannot be empty.")
        with self.db.write() as conn:
            done = conn.execute(
                "UPDATE conversations SET title = ? WHERE id = ? AND user = ?",
                (title, conversation_id, user),
            )
        return done.rowcount == 1

    def delete(self, user: str, conversation_id: str) -> bool:
        """Delete a conversation and its messages (feedback on them is kept)."""
        with self.db.write() as conn:
            done = conn.execute(
                "DELETE FROM conversations WHERE id = ? AND user = ?", (conversation_id, user)
            )
        return done.rowcount == 1


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.splitlines() or [""])


def export_markdown(info: ConversationInfo, messages: list[StoredMessage]) -> str:
    """The conversation as Markdown: questions, answers, and each answer's cited passages."""
    out = [f"# {info.title or 'Conversation'}", ""]
    out.append(f"_Exported from ragchat on {time.strftime('%Y-%m-%d %H:%M', time.localtime())}_")
    for m in messages:
        out.append("")
        if m.role == "user":
            out += [f"## Q: {' '.join(m.content.split())}", ""]
            continue
        answer = m.answer
        short = getattr(answer, "short_answer", None)
        if short is not None:
            out += [f"**Answer:** {short.text} [{short.n}]", ""]
        out.append(m.content)
        if answer is None:
            continue
        if answer.model or answer.backend:
            out += ["", f"_{answer.backend} · {answer.model or '?'}_"]
        if answer.citations:
            out += ["", "**Sources**", ""]
            for c in answer.citations:
                page = f", page {c.page}" if c.page is not None else ""
                out.append(f"[{c.n}] {c.title or c.source} (`{c.source}`{page})")
                out += ["", _quote(c.text), ""]
    return "\n".join(out).rstrip() + "\n"
