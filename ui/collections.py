"""Collections in the web chat and the API: named document sets in one data dir.

`Collections` holds one assistant per collection (the server's own for 'default', others
opened on first use with `IndexSettings.for_collection`), creates empty collections (an
upload then fills them) and deletes them (index.store.delete_collection). `collections_for`
gives the UI and /v1 the same registry. A conversation is bound to the collection of its
first question (`bind` / `bound_collection`, a table of the web app database), so reopening
it switches the picker back. `CollectionBar` is the picker with its create and delete
(confirmed in the browser) buttons. Nothing here indexes or answers.
"""

from __future__ import annotations

import html
import threading
from dataclasses import dataclass
from typing import Any

import gradio as gr

from index.config import DEFAULT_COLLECTION, check_collection_name
from index.store import StoreError, collection_names, delete_collection
from rag.config import Settings
from ui.conversations import ConversationStore
from ui.history import ChatSession, HistoryHandlers
from ui.render import error_notice
from ui.state_db import StateDB

CONFIRM_DELETE_JS = """(name, _) => [name, name !== 'default' && confirm(
  `Delete the collection "${name}" and everything indexed in it? This cannot be undone.`)]"""


class UnknownCollection(ValueError):
    """A request names a collection that does not exist."""


class Collections:
    """The data dir's collections and an assistant for each (thread-safe)."""

    def __init__(self, settings: Settings, default_assistant: Any) -> None:
        self.settings = settings
        self._assistants: dict[str, Any] = {DEFAULT_COLLECTION: default_assistant}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        return collection_names(self.settings.index)

    def settings_for(self, name: str) -> Settings:
        """The server's settings with the index side of collection `name`."""
        return self.settings.model_copy(update={"index": self.settings.index.for_collection(name)})

    def assistant(self, name: str | None) -> Any:
        """The assistant answering from collection `name` (None: the default one).

        Raises UnknownCollection for an invalid or missing name.
        """
        name = name or DEFAULT_COLLECTION
        with self._lock:
            if name in self._assistants:
                return self._assistants[name]
            if name not in self.names():
                known = ", ".join(self.names())
                raise UnknownCollection(f"Unknown collection {name!r}. Collections: {known}.")
            from rag.assistant import Assistant

            made = Assistant(self.settings_for(name))
            self._assistants[name] = made
            return made

    def create(self, name: str) -> str:
        """Create the empty collection `name`; ValueError when invalid or taken."""
        name = check_collection_name((name or "").strip())
        if name in self.names():
            raise ValueError(f"The collection {name!r} exists already.")
        self.settings_for(name).index.data_dir.mkdir(parents=True)
        return name

    def delete(self, name: str) -> None:
        """Delete the named collection and forget its assistant (ValueError for 'default')."""
        with self._lock:
            delete_collection(self.settings.index, name)
            self._assistants.pop(name, None)


_REGISTRIES: dict[int, Collections] = {}


def collections_for(settings: Settings, default_assistant: Any) -> Collections:
    """The one registry per server assistant, shared by the web chat and /v1."""
    key = id(default_assistant)
    if key not in _REGISTRIES:
        _REGISTRIES[key] = Collections(settings, default_assistant)
    return _REGISTRIES[key]


def bind(db: StateDB, conversation_id: str, collection: str) -> None:
    """Bind a conversation to a collection (its first one stays)."""
    with db.write() as conn:
        conn.execute(
            "INSERT OR IGNORE INTO conversation_collections (conversation_id, collection)"
            " VALUES (?, ?)",
            (conversation_id, collection),
        )


def bound_collection(db: StateDB, conversation_id: str | None) -> str | None:
    if not conversation_id:
        return None
    with db.read() as conn:
        row = conn.execute(
            "SELECT collection FROM conversation_collections WHERE conversation_id = ?",
            (conversation_id,),
        ).fetchone()
    return row[0] if row else None


@dataclass
class CollectionBar:
    """The collection picker, and creating / deleting a collection."""

    picker: gr.Dropdown
    name: gr.Textbox
    create: gr.Button
    delete: gr.Button
    confirmed: gr.Checkbox
    result: gr.HTML

    @classmethod
    def build(cls) -> CollectionBar:
        with gr.Row(elem_id="collection-row"):
            picker = gr.Dropdown(
                [DEFAULT_COLLECTION],
                value=DEFAULT_COLLECTION,
                label="Collection",
                info="A conversation stays in its collection.",
                elem_id="collection",
                scale=3,
            )
            name = gr.Textbox(
                label="New collection", placeholder="name", elem_id="new-collection", scale=2
            )
            create = gr.Button("Create", elem_id="create-collection", size="sm", scale=1)
            delete = gr.Button(
                "Delete collection", elem_id="delete-collection", size="sm", variant="stop",
                scale=1,
            )  # fmt: skip
        confirmed = gr.Checkbox(visible=False)
        result = gr.HTML(elem_id="collection-result")
        return cls(picker, name, create, delete, confirmed, result)


class CollectionHandlers:
    """The picker's handlers; conversations are in `store` (None: nothing is saved)."""

    def __init__(
        self, collections: Collections, store: ConversationStore | None, history: HistoryHandlers
    ) -> None:
        self.collections = collections
        self.store = store
        self.history = history

    def follow(
        self, collection: str, session: ChatSession, search: str, request: gr.Request
    ) -> tuple[Any, ...]:
        """A new conversation when the open one belongs to another collection (the chat,
        question, sources, session, title and list; unchanged otherwise)."""
        if self.store is None or session.id is None:
            return (gr.update(),) * 6
        if (bound_collection(self.store.db, session.id) or DEFAULT_COLLECTION) == collection:
            return (gr.update(),) * 6
        return self.history.new(search, request)

    def collection_of(self, conversation_id: str | None) -> Any:
        """The picker for a reopened conversation: the collection it is bound to."""
        if self.store is None:
            return gr.update()
        bound = bound_collection(self.store.db, conversation_id) or DEFAULT_COLLECTION
        if bound not in self.collections.names():
            gr.Warning(f"The collection {bound!r} of this conversation was deleted.")
            return gr.update()
        return gr.update(value=bound)

    def choices(self, selected: str | None = None) -> Any:
        names = self.collections.names()
        value = selected if selected in names else DEFAULT_COLLECTION
        return gr.update(choices=names, value=value)

    def create(self, name: str) -> tuple[Any, str, str]:
        """(picker, name box, notice)."""
        try:
            made = self.collections.create(name)
        except (ValueError, OSError) as err:
            return gr.update(), name, error_notice(str(err))
        notice = _done(f"Created the collection {made}: add documents under “Add documents”.")
        return self.choices(made), "", notice

    def delete(self, name: str, confirmed: bool) -> tuple[Any, str]:
        """(picker, notice); nothing happens unless the browser's confirmation was accepted."""
        if name == DEFAULT_COLLECTION:
            return gr.update(), (
                '<div class="rag-notice rag-error">The default collection cannot be deleted.</div>'
            )
        if not confirmed:
            return gr.update(), _done(f"Cancelled: the collection {name} was not deleted.")
        try:
            self.collections.delete(name)
        except (ValueError, OSError, StoreError) as err:
            return gr.update(), error_notice(str(err))
        return self.choices(DEFAULT_COLLECTION), _done(f"Deleted the collection {name}.")


def _done(text: str) -> str:
    return f'<div class="rag-notice rag-abstain">{html.escape(text)}</div>'
