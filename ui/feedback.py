"""Thumbs up / down (and an optional note) on web chat answers, kept in the web app database.

One feedback row per rated answer: rating again replaces the earlier rating, taking the rating
back removes it. The row copies what a maintainer needs to turn a bad answer into an eval
case (the question, the questions before it, the answer, its citations, backend and model),
so it stays useful after its conversation is deleted.
This module does not write eval suites (evals.feedback_export does).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.types import Answer, Citation
from ui.conversations import citation_from_json
from ui.state_db import StateDB, db_path


@dataclass(frozen=True)
class FeedbackRecord:
    id: int
    user: str
    message_id: int
    conversation_id: str
    rating: int  # 1 thumbs up, -1 thumbs down
    note: str
    question: str
    history: tuple[str, ...]  # the questions asked before it in the conversation
    answer: str
    citations: tuple[Citation, ...]
    backend: str
    model: str
    created: float
    updated: float


def _record(row: Any) -> FeedbackRecord:
    return FeedbackRecord(
        id=row["id"],
        user=row["user"],
        message_id=row["message_id"],
        conversation_id=row["conversation_id"],
        rating=row["rating"],
        note=row["note"],
        question=row["question"],
        history=tuple(json.loads(row["history_json"])),
        answer=row["answer"],
        citations=tuple(citation_from_json(c) for c in json.loads(row["citations_json"])),
        backend=row["backend"],
        model=row["model"],
        created=row["created"],
        updated=row["updated"],
    )


class FeedbackStore:
    def __init__(self, db: StateDB) -> None:
        self.db = db

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> FeedbackStore:
        return cls(StateDB(db_path(data_dir)))

    def rate(
        self,
        user: str,
        message_id: int,
        conversation_id: str,
        rating: int | None,
        question: str,
        answer: Answer,
        history: Sequence[str] = (),
    ) -> FeedbackRecord | None:
        """Record (or replace) a rating; None takes it back. Returns the stored row."""
        with self.db.write() as conn:
            if rating is None:
                conn.execute(
                    "DELETE FROM feedback WHERE message_id = ? AND user = ?", (message_id, user)
                )
                return None
            if rating not in (1, -1):
                raise ValueError("rating must be 1 (up) or -1 (down)")
            now = time.time()
            citations = [dataclasses.asdict(c) for c in answer.citations]
            row_values = (
                user, message_id, conversation_id, rating, question,
                json.dumps(list(history), ensure_ascii=False), answer.text,
                json.dumps(citations, ensure_ascii=False), answer.backend, answer.model, now, now,
            )  # fmt: skip
            conn.execute(
                "INSERT INTO feedback (user, message_id, conversation_id, rating, question,"
                " history_json, answer, citations_json, backend, model, created, updated)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT (message_id) DO UPDATE SET rating = excluded.rating,"
                " updated = excluded.updated",
                row_values,
            )
            row = conn.execute(
                "SELECT * FROM feedback WHERE message_id = ?", (message_id,)
            ).fetchone()
        return _record(row)

    def set_note(self, user: str, message_id: int, note: str) -> bool:
        with self.db.write() as conn:
            done = conn.execute(
                "UPDATE feedback SET note = ?, updated = ? WHERE message_id = ? AND user = ?",
                (note.strip(), time.time(), message_id, user),
            )
        return done.rowcount == 1

    def get(self, user: str, message_id: int) -> FeedbackRecord | None:
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT * FROM feedback WHERE message_id = ? AND user = ?", (message_id, user)
            ).fetchone()
        return _record(row) if row else None

    def records(self, rating: int | None = None) -> list[FeedbackRecord]:
        """Every user's feedback, oldest first; only one rating when given."""
        query = "SELECT * FROM feedback"
        params: tuple[Any, ...] = ()
        if rating is not None:
            query += " WHERE rating = ?"
            params = (rating,)
        with self.db.read() as conn:
            rows = conn.execute(query + " ORDER BY created, id", params).fetchall()
        return [_record(r) for r in rows]
