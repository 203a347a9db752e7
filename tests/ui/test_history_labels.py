"""The conversation sidebar names each conversation's collection (none named: the default),
also in search results; only the label changes, never the stored title."""

from __future__ import annotations

from ui.collections import bind
from ui.conversations import ConversationStore
from ui.history import HistoryHandlers
from ui.state_db import db_path


def test_the_list_labels_conversations_outside_the_default_collection(tmp_path):
    store = ConversationStore.open(db_path(tmp_path))
    bound = {}
    for title, collection in (("in default", "default"), ("unbound", None), ("notes q", "notes")):
        conv = store.create("ann", title)
        if collection:
            bind(store.db, conv.id, collection)
        bound[title] = conv.id
    hist = HistoryHandlers(store)
    assert sorted(hist.choices("ann")) == sorted(
        [("in default", bound["in default"]), ("unbound", bound["unbound"]),
         ("notes q · notes", bound["notes q"])]
    )  # fmt: skip
    assert hist.choices("ann", "notes q") == [("notes q · notes", bound["notes q"])]
    assert hist.choices("bob") == []
    assert store.get("ann", bound["notes q"]).title == "notes q"
