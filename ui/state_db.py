"""The web app's SQLite database: opening it (WAL), its schema version and migrations.

Conversations, their messages and answer feedback live in one file in the data dir
(`webapp.sqlite3` next to the index). Every connection uses write-ahead logging, so readers
never block the writer and a process killed mid-write leaves the last committed state; writes
take the lock up front (`BEGIN IMMEDIATE`) and wait for it, so two writers queue instead of
failing. The schema is versioned in `schema_version`; `migrate` applies the steps a file is
missing, each in its own transaction, and refuses a file written by a newer ragchat.
This module knows no conversation or feedback logic (ui.conversations and ui.feedback do).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

DB_NAME = "webapp.sqlite3"
BUSY_TIMEOUT_S = 30.0

# Each step takes the schema from version i to i + 1. Never edit a released step: add one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE conversations (
        id TEXT PRIMARY KEY,
        user TEXT NOT NULL,
        title TEXT NOT NULL DEFAULT '',
        created REAL NOT NULL,
        updated REAL NOT NULL
    );
    CREATE INDEX conversations_by_user ON conversations (user, updated DESC);
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
        role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
        content TEXT NOT NULL,
        answer_json TEXT,
        created REAL NOT NULL
    );
    CREATE INDEX messages_by_conversation ON messages (conversation_id, id);
    """,
    """
    CREATE TABLE feedback (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user TEXT NOT NULL,
        message_id INTEGER NOT NULL UNIQUE,
        conversation_id TEXT NOT NULL,
        rating INTEGER NOT NULL CHECK (rating IN (-1, 1)),
        note TEXT NOT NULL DEFAULT '',
        question TEXT NOT NULL,
        history_json TEXT NOT NULL DEFAULT '[]',
        answer TEXT NOT NULL,
        citations_json TEXT NOT NULL DEFAULT '[]',
        backend TEXT NOT NULL DEFAULT '',
        model TEXT NOT NULL DEFAULT '',
        created REAL NOT NULL,
        updated REAL NOT NULL
    );
    CREATE INDEX feedback_by_rating ON feedback (rating, updated);
    """,
    """
    CREATE TABLE conversation_collections (
        conversation_id TEXT PRIMARY KEY REFERENCES conversations (id) ON DELETE CASCADE,
        collection TEXT NOT NULL
    );
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


class StateDBError(RuntimeError):
    """The database cannot be used (newer schema, not a database, unreadable)."""


def db_path(data_dir: Path) -> Path:
    return Path(data_dir) / DB_NAME


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    # autocommit mode: transactions are explicit (BEGIN IMMEDIATE ... COMMIT)
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    # FULL: a committed message is on disk before the handler returns, not just in the WAL
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def schema_version(conn: sqlite3.Connection) -> int:
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Bring the schema to `target` (default: the newest); returns the version it now has."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = schema_version(conn)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    if current > SCHEMA_VERSION:
        raise StateDBError(
            f"The web app database has schema version {current}, newer than this ragchat "
            f"knows ({SCHEMA_VERSION}). Upgrade ragchat or use another data dir."
        )
    for version in range(current, target):
        conn.execute("BEGIN IMMEDIATE")
        try:
            if schema_version(conn) > version:  # another process migrated meanwhile
                conn.execute("COMMIT")
                continue
            for statement in MIGRATIONS[version].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version + 1,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return max(current, target)


class StateDB:
    """Opens connections to one database file; migrates it on first use."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            with closing(_connect(self.path)) as conn:
                migrate(conn)
        except sqlite3.DatabaseError as err:
            raise StateDBError(f"Cannot open the web app database {self.path}: {err}") from None

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        with closing(_connect(self.path)) as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with closing(_connect(self.path)) as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
