"""The web chat's conversation sidebar and answer feedback: the handlers behind them.

`ChatSession` is one browser tab's open conversation (what the assistant sees as history,
what the chat shows, the stored id of each shown message). `HistoryHandlers` lists, opens,
renames, deletes, searches and exports the user's saved conversations, and records thumbs up
/ down with a note. The list holds every collection's conversations (reopening one switches
the picker to its collection), so each is labelled with its collection unless that is the
default one. The user is the basic-auth name Gradio passes in `gr.Request.username`
(set by the server's auth), else `LOCAL_USER`. Storage is `ui.conversations` and
`ui.feedback`; markup is `ui.render`; the chat handler itself is in `ui.app`.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr

from index.config import DEFAULT_COLLECTION
from rag.types import Answer, Message
from ui import render
from ui.api_sources import sources_text
from ui.conversations import LOCAL_USER, ConversationStore, StoredMessage, export_markdown
from ui.feedback import FeedbackStore

log = logging.getLogger(__name__)


@dataclass
class ChatSession:
    """One browser tab's conversation: what the assistant sees and what the page shows."""

    messages: list[Message] = field(default_factory=list)
    display: list[dict[str, str]] = field(default_factory=list)
    last: Answer | None = None
    id: str | None = None  # the saved conversation, once the first question is asked
    message_ids: list[int | None] = field(default_factory=list)  # parallel to `display`


def user_of(request: gr.Request | None) -> str:
    name = getattr(request, "username", None) if request is not None else None
    return name or LOCAL_USER


def session_from(conversation_id: str, stored: list[StoredMessage]) -> ChatSession:
    """The chat as it was: every message shown, complete question/answer pairs as history."""
    session = ChatSession(id=conversation_id)
    pending: Message | None = None
    for m in stored:
        if m.role == "user":
            session.display.append({"role": "user", "content": render.question_html(m.content)})
            pending = Message(role="user", content=m.content)
        else:
            shown = render.answer_html(m.answer) if m.answer else render.streaming_html(m.content)
            session.display.append({"role": "assistant", "content": shown})
            if pending is not None:  # a question whose answer was stopped is not history
                session.messages += [pending, Message(role="assistant", content=m.content)]
            pending = None
            session.last = m.answer or session.last
        session.message_ids.append(m.id)
    return session


def _label(title: str, collection: str | None) -> str:
    title = title or "Untitled"
    return title if collection in (None, DEFAULT_COLLECTION) else f"{title} · {collection}"


class HistoryHandlers:
    """Sidebar and feedback handlers over one store (None: nothing is saved)."""

    def __init__(self, store: ConversationStore | None) -> None:
        self.store = store
        self.feedback = FeedbackStore(store.db) if store is not None else None

    def save(
        self,
        request: gr.Request | None,
        conversation_id: str | None,
        role: str,
        text: str,
        answer: Answer | None = None,
    ) -> tuple[str | None, int | None]:
        """Save one message (creating the conversation first); (conversation id, message id).

        A database problem is shown as a warning and the chat goes on unsaved.
        """  # fmt: skip
        if self.store is None:
            return conversation_id, None
        user = user_of(request)
        try:
            conversation_id = conversation_id or self.store.create(user).id
            stored = self.store.add_message(user, conversation_id, role, text, answer)  # type: ignore[arg-type]
        except Exception as err:  # disk full, locked past the timeout, deleted meanwhile...
            log.warning("could not save the message: %s", err)
            gr.Warning(f"This message could not be saved: {err}")
            return conversation_id, None
        return conversation_id, stored.id

    # --- sidebar ------------------------------------------------------------------------
    def refresh(self, session: ChatSession, request: gr.Request) -> Any:
        """The list after a question, with the session's conversation selected."""
        return gr.update() if self.store is None else self.listing(user_of(request), "", session.id)

    def choices(self, user: str, search: str = "") -> list[tuple[str, str]]:
        """(label, id) of the user's conversations: the title, then the collection if it is
        not the default one."""
        if self.store is None:
            return []
        found = self.store.list(user, search or "")
        with self.store.db.read() as conn:  # the bindings ui.collections writes
            bound = dict(conn.execute(
                "SELECT conversation_id, collection FROM conversation_collections"
                f" WHERE conversation_id IN ({','.join('?' * len(found))})",
                [c.id for c in found],
            ).fetchall())  # fmt: skip
        return [(_label(c.title, bound.get(c.id)), c.id) for c in found]

    def listing(self, user: str, search: str = "", selected: str | None = None) -> Any:
        return gr.update(choices=self.choices(user, search), value=selected)

    def on_load(self, request: gr.Request) -> Any:
        return self.listing(user_of(request))

    def search(self, text: str, session: ChatSession, request: gr.Request) -> Any:
        return self.listing(user_of(request), text, session.id)

    def empty(self) -> tuple[Any, ...]:
        """What a new conversation shows: chat, question box, sources, session, title."""
        return [], "", render.sources_html(None), ChatSession(), ""

    def new(self, search: str, request: gr.Request) -> tuple[Any, ...]:
        return (*self.empty(), self.listing(user_of(request), search, None))

    def open(self, conversation_id: str | None, request: gr.Request) -> tuple[Any, ...]:
        user = user_of(request)
        info = self.store.get(user, conversation_id) if self.store and conversation_id else None
        if info is None:
            gr.Warning("That conversation no longer exists.")
            return self.empty()
        assert self.store is not None
        session = session_from(info.id, self.store.messages(user, info.id))
        return session.display, "", render.sources_html(session.last), session, info.title

    def rename(self, session: ChatSession, title: str, search: str, request: gr.Request) -> Any:
        user = user_of(request)
        if self.store is None or session.id is None:
            gr.Info("Ask a question first: a conversation is saved with its first question.")
            return gr.update()
        try:
            self.store.rename(user, session.id, title or "")
        except ValueError as err:
            gr.Warning(str(err))
        return self.listing(user, search, session.id)

    def delete(self, session: ChatSession, search: str, request: gr.Request) -> tuple[Any, ...]:
        user = user_of(request)
        if self.store is not None and session.id is not None:
            self.store.delete(user, session.id)
        return (*self.empty(), self.listing(user, search, None))

    def export(self, session: ChatSession, request: gr.Request) -> Any:
        user = user_of(request)
        info = self.store.get(user, session.id) if self.store and session.id else None
        if info is None:
            gr.Info("Nothing to export yet: ask a question first.")
            return gr.update(value=None, visible=False)
        assert self.store is not None
        text = export_markdown(info, self.store.messages(user, info.id))
        folder = Path(tempfile.mkdtemp(prefix="ragchat-export-"))
        stem = "".join(ch if ch.isalnum() else "-" for ch in info.title)[:60].strip("-")
        path = folder / f"{stem or 'conversation'}.md"
        path.write_text(text, encoding="utf-8")
        return gr.update(value=str(path), visible=True)

    @staticmethod
    def copy_text(session: ChatSession) -> str:
        """The last answer as plain text with its sources, for the clipboard."""
        if session.last is None:
            return ""
        return session.last.text + sources_text(session.last)

    # --- feedback -----------------------------------------------------------------------
    def like(self, session: ChatSession, data: gr.LikeData, request: gr.Request) -> tuple:
        """Record a rating; a thumbs down opens the note box. Returns (note row, note, id)."""
        index = data.index[0] if isinstance(data.index, list | tuple) else data.index
        ids = session.message_ids
        message_id = ids[index] if 0 <= index < len(ids) else None
        if self.store is None or self.feedback is None or message_id is None:
            gr.Info("This answer is not saved, so it cannot be rated.")
            return gr.update(visible=False), "", None
        user = user_of(request)
        stored = self.store.messages(user, session.id or "")
        at = next((i for i, m in enumerate(stored) if m.id == message_id), None)
        if at is None or stored[at].answer is None:
            return gr.update(visible=False), "", None
        questions = [m.content for m in stored[:at] if m.role == "user"]
        rating = 1 if data.liked is True else -1 if data.liked is False else None
        answer = stored[at].answer
        assert answer is not None
        record = self.feedback.rate(
            user, message_id, session.id or "", rating,
            question=questions[-1] if questions else "", answer=answer, history=questions[:-1],
        )  # fmt: skip
        if record is None or record.rating > 0:
            return gr.update(visible=False), "", None
        return gr.update(visible=True), record.note, message_id

    def save_note(self, message_id: int | None, note: str, request: gr.Request) -> tuple:
        if self.feedback is None or message_id is None:
            return gr.update(visible=False), ""
        self.feedback.set_note(user_of(request), message_id, note or "")
        gr.Info("Thanks: your note is saved with the answer.")
        return gr.update(visible=False), ""


@dataclass
class Sidebar:
    """The conversation sidebar's widgets."""

    new: gr.Button
    search: gr.Textbox
    conversations: gr.Radio
    title: gr.Textbox
    rename: gr.Button
    delete: gr.Button
    export: gr.Button
    export_file: gr.File

    @classmethod
    def build(cls) -> Sidebar:
        with gr.Sidebar(label="Conversations", elem_id="conversations", open=True):
            new = gr.Button("New conversation", elem_id="new-conversation", size="sm")
            search = gr.Textbox(
                show_label=False, placeholder="Search conversations…", elem_id="conversation-search"
            )
            conversations = gr.Radio(
                choices=[], label="Conversations", elem_id="conversation-list", type="value"
            )
            title = gr.Textbox(label="Title", elem_id="conversation-title", max_lines=1)
            with gr.Row():
                rename = gr.Button("Rename", elem_id="rename-conversation", size="sm")
                delete = gr.Button(
                    "Delete", elem_id="delete-conversation", size="sm", variant="stop"
                )
            export = gr.Button("Export as Markdown", elem_id="export-conversation", size="sm")
            export_file = gr.File(label="Export", visible=False, elem_id="export-file")
        return cls(new, search, conversations, title, rename, delete, export, export_file)

    def wire(
        self, blocks: gr.Blocks, hist: HistoryHandlers, chatbot: gr.Chatbot,
        question: gr.Textbox, sources: gr.HTML, session: gr.State, clear: gr.Button,
    ) -> None:  # fmt: skip
        """Connect the sidebar to the chat widgets it fills and clears."""
        shown = [chatbot, question, sources, session, self.title]
        listing = [*shown, self.conversations]
        blocks.load(hist.on_load, None, self.conversations)
        for button in (self.new, clear):
            button.click(hist.new, self.search, listing, queue=False)
        chatbot.clear(hist.new, self.search, listing, queue=False)  # the chat's trash icon
        self.conversations.input(hist.open, self.conversations, shown)
        self.search.change(hist.search, [self.search, session], self.conversations, queue=False)
        renaming = [session, self.title, self.search]
        self.rename.click(hist.rename, renaming, self.conversations)
        self.title.submit(hist.rename, renaming, self.conversations)
        self.delete.click(hist.delete, [session, self.search], listing)
        self.export.click(hist.export, session, self.export_file)


@dataclass
class FeedbackNote:
    """The note box that opens under the chat after a thumbs down."""

    row: gr.Row
    text: gr.Textbox
    save: gr.Button
    rated: gr.State  # the stored id of the answer the note is about

    @classmethod
    def build(cls) -> FeedbackNote:
        rated = gr.State(None)
        with gr.Row(visible=False, elem_id="feedback-note-row") as row:
            text = gr.Textbox(
                label="What was wrong with this answer? (optional)",
                elem_id="feedback-note",
                scale=6,
            )
            save = gr.Button("Save note", elem_id="save-note", scale=1)
        return cls(row, text, save, rated)

    def wire(self, hist: HistoryHandlers, chatbot: gr.Chatbot, session: gr.State) -> None:
        chatbot.like(hist.like, session, [self.row, self.text, self.rated])
        for event in (self.save.click, self.text.submit):
            event(hist.save_note, [self.rated, self.text], [self.row, self.text])
