"""The Gradio Blocks web chat: streaming cited answers (Enter sends, Shift+Enter adds a line,
Stop ends the answer), sources panel, copy answer with its sources, example questions from the
indexed titles (ui.examples), backend and retrieval controls (ui.controls), uploads and index
status (layout in ui.layout); beside the chat, the document library (ui.library: a click on a
citation opens the cited span there) and the rated answers (ui.feedback_view). A collection
picker (ui.collections) chooses the document set; a conversation stays in its collection.

Each browser tab keeps its own `ChatSession` (gr.State, see ui.history); every question and
answer is saved in the user's conversation as it happens, and the sidebar (ui.history) lists,
reopens, renames, deletes, searches and exports them. The handlers here only translate
between widgets and the assistant's public API (`validate`, `stream`, `backend_statuses`,
`index_status`, `sources`, `reload_index`) and the backend registry; all checking, retrieval,
answering and grounding happens in `rag`, all markup in `ui.render`, all upload checks in
`ui.uploads`. The chat names no backend: the server fields (base URL, model) are offered for
any backend whose options have them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr

from index.config import DEFAULT_COLLECTION
from rag.backends import registry
from rag.config import Settings
from rag.types import Answer, AnswerStream, Message
from ui import render
from ui.collections import (
    CONFIRM_DELETE_JS,
    CollectionBar,
    CollectionHandlers,
    UnknownCollection,
    bind,
    collections_for,
)
from ui.controls import SERVER_OPTIONS, Controls, server_options
from ui.conversations import ConversationStore
from ui.examples import FALLBACK, ExampleQuestions
from ui.feedback_view import FeedbackTab
from ui.history import ChatSession, HistoryHandlers, Sidebar
from ui.layout import ChatPanel, UploadPanel
from ui.library import TAB_ID, LibraryHandlers, LibraryTab
from ui.state_db import db_path
from ui.uploads import ingest_uploads

__all__ = ["ChatHandlers", "build_blocks", "server_options"]

# On a phone the open conversation sidebar would cover the whole chat: start it closed there.
CLOSE_SIDEBAR_WHEN_NARROW_JS = """() => {
  if (!window.matchMedia('(max-width: 700px)').matches) return;
  const bar = document.querySelector('#conversations.sidebar.open');
  bar?.querySelector('button.toggle-button')?.click();
}"""


def _failed_answer(message: str, backend: str) -> Answer:
    return Answer(
        text=message, citations=(), hits=(), abstained=False, backend=backend, model="",
        error=message,
    )  # fmt: skip


class ChatHandlers:
    """The event handlers, bound to one assistant and the server's settings."""

    def __init__(
        self, settings: Settings, assistant: Any, store: ConversationStore | None = None
    ) -> None:
        self.settings = settings
        self.assistant = assistant  # the default collection's
        self.store = store  # None: conversations are not saved
        self.history = HistoryHandlers(store)
        self.collections = collections_for(settings, assistant)
        self._examples: dict[str, ExampleQuestions] = {}

    def answering(self, collection: str | None) -> Any:
        """The assistant of `collection` (an error for the page when it is gone)."""
        try:
            return self.collections.assistant(collection)
        except UnknownCollection as err:
            raise gr.Error(str(err), print_exception=False) from None

    # --- status -------------------------------------------------------------------------
    def backend_choices(self) -> list[tuple[str, str]]:
        try:
            statuses = {s.name: s for s in self.assistant.backend_statuses()}
        except Exception:  # the page must load even if a status check misbehaves
            statuses = {}
        choices = []
        for name in registry.names():
            status = statuses.get(name)
            choices.append((render.backend_label(status) if status else name, name))
        return choices

    def index_sources(self, collection: str = DEFAULT_COLLECTION) -> list[str]:
        try:
            return self.collections.assistant(collection).sources()
        except Exception:  # the page must load even if the index misbehaves
            return []

    def index_html(self, collection: str = DEFAULT_COLLECTION) -> str:
        try:
            assistant = self.collections.assistant(collection)
            status = assistant.index_status()
            problem = None if status is not None else assistant.index_problem()
        except Exception as err:
            status, problem = None, str(err)
        return render.index_status_html(status, problem)

    def show_server_options(self, backend: str) -> tuple[Any, Any, Any]:
        """Show the server fields, with the backend's settings, when it takes them."""
        shown = server_options(self.settings, backend)
        if shown is None:
            return gr.update(visible=False), gr.update(), gr.update()
        return gr.update(visible=True), shown["base_url"], shown["model"]

    def example_samples(self, collection: str = DEFAULT_COLLECTION) -> Any:
        try:
            assistant = self.collections.assistant(collection)
        except UnknownCollection:
            return gr.update(samples=[[q] for q in FALLBACK])
        if collection not in self._examples:
            self._examples[collection] = ExampleQuestions(assistant.settings.index)
        questions = self._examples[collection].for_assistant(assistant)
        return gr.update(samples=[[q] for q in questions])

    def on_load(
        self, backend: str, collection: str = DEFAULT_COLLECTION
    ) -> tuple[Any, str, Any, Any]:
        return (
            gr.update(choices=self.backend_choices(), value=backend),
            self.index_html(collection),
            gr.update(choices=self.index_sources(collection), value=[]),
            self.example_samples(collection),
        )

    # --- chat ---------------------------------------------------------------------------
    def retrieval_settings(self, top_k: float, hybrid: bool, sources: list[str] | None):
        return self.settings.retrieval.model_copy(
            update={
                "top_k": int(top_k),
                "dense": True,
                "bm25": bool(hybrid),
                "sources": list(sources or []),
            }
        )

    def respond(
        self,
        question: str,
        conv: ChatSession,
        backend: str,
        base_url: str,
        model: str,
        top_k: float,
        hybrid: bool,
        sources: list[str] | None,
        collection: str | None = DEFAULT_COLLECTION,
        request: gr.Request | None = None,
    ) -> Iterator[tuple[Any, ...]]:
        collection = collection or DEFAULT_COLLECTION
        assistant = self.answering(collection)
        question = (question or "").strip()
        if not question:
            gr.Info("Type a question first.")
            yield conv.display, question, render.sources_html(conv.last), conv
            return
        problem = assistant.validate(question)
        if problem:
            # An error (not a warning) so API clients of the web app (gradio_client) get the
            # reason too; nothing is lost, the question stays in the text box.
            raise gr.Error(problem, print_exception=False)
        options = None
        if server_options(self.settings, backend) is not None:
            given = dict(zip(SERVER_OPTIONS, (base_url, model), strict=True))
            options = {k: v.strip() for k, v in given.items() if v}
        # the question is saved before answering, so a stopped answer still leaves it
        conversation_id, question_id = self.history.save(request, conv.id, "user", question)
        if self.store is not None and conversation_id is not None:
            bind(self.store.db, conversation_id, collection)
        display = [
            *conv.display,
            {"role": "user", "content": render.question_html(question)},
            {"role": "assistant", "content": render.streaming_html("…")},
        ]
        asking = ChatSession(
            messages=list(conv.messages), display=display, last=conv.last, id=conversation_id,
            message_ids=[*conv.message_ids, question_id, None],
        )  # fmt: skip
        searching = '<div class="rag-sources"><p>Searching the documents…</p></div>'
        yield display, "", searching, asking
        partial = ""
        try:
            stream = AnswerStream(
                assistant.stream(
                    question,
                    tuple(conv.messages),
                    backend=backend,
                    retrieval=self.retrieval_settings(top_k, hybrid, sources),
                    backend_options=options,
                )
            )
            for piece in stream:
                partial += piece
                display[-1] = {"role": "assistant", "content": render.streaming_html(partial)}
                yield display, "", searching, asking
            final = stream.answer
        except Exception as err:  # the chat must survive anything the stack raises
            final = _failed_answer(str(err) or type(err).__name__, backend)
        display[-1] = {"role": "assistant", "content": render.answer_html(final)}
        _, answer_id = self.history.save(request, conversation_id, "assistant", final.text, final)
        new = ChatSession(
            messages=[
                *conv.messages,
                Message(role="user", content=question),
                Message(role="assistant", content=final.text),
            ],
            display=display,
            last=final,
            id=conversation_id,
            message_ids=[*conv.message_ids, question_id, answer_id],
        )
        yield display, "", render.sources_html(final), new

    # --- uploads ------------------------------------------------------------------------
    def upload(
        self,
        files: list[str] | None,
        collection: str = DEFAULT_COLLECTION,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio's idiom for a progress bar)
    ) -> tuple[Any, ...]:
        if not files:
            return "<p>Choose one or more files first.</p>", gr.update(), gr.update(), None
        progress(0.1, desc=f"Indexing {len(files)} file(s)…")
        try:
            assistant = self.answering(collection)
            results, changed = ingest_uploads(files, self.collections.settings_for(collection))
        except Exception as err:  # lock held by `rag index`, store errors...
            return (
                render.error_notice(f"Upload failed: {err}"),
                self.index_html(collection),
                gr.update(),
                None,
            )
        progress(0.9, desc="Reloading the index…")
        if changed:
            assistant.reload_index()
        return (
            render.upload_results_html(results),
            self.index_html(collection),
            gr.update(choices=self.index_sources(collection)),
            None,
        )


def build_blocks(
    settings: Settings, assistant: Any, store: ConversationStore | None = None
) -> gr.Blocks:
    """The web chat's Blocks (not launched: `ui.server` mounts it).

    Conversations are saved in `store`, by default the web app database in the data dir.
    """
    if store is None:
        store = ConversationStore.open(db_path(settings.index.data_dir))
    h = ChatHandlers(settings, assistant, store)
    hist = h.history
    lib = LibraryHandlers(h.collections)
    col = CollectionHandlers(h.collections, store, hist)
    private: dict[str, Any] = {"api_visibility": "private"}
    with gr.Blocks(title="ragchat") as blocks:
        conv = gr.State(ChatSession())
        bar = Sidebar.build()
        gr.Markdown("## ragchat: answers from your documents, with checked citations")
        index_status = gr.HTML(elem_id="index-status")
        cbar = CollectionBar.build()
        picker = cbar.picker
        with gr.Tabs(elem_id="tabs") as tabs:
            with gr.Tab("Chat", id="chat", elem_id="chat-tab"):
                p = ChatPanel.build()
                c = Controls.build(settings)
                up = UploadPanel.build(settings)
            with gr.Tab("Library", id=TAB_ID, elem_id="library-tab"):
                library = LibraryTab.build()
            with gr.Tab("Feedback", id="feedback", elem_id="feedback-tab") as feedback_tab:
                feedback = FeedbackTab.build()
        bridge = LibraryTab.bridge()

        chat_inputs = [p.question, conv, c.backend, c.base_url, c.model, c.top_k, c.hybrid,
                       c.source_filter, picker]  # fmt: skip
        chat_outputs = [p.chatbot, p.question, p.sources, conv]
        # "/chat" is the named endpoint for gradio_client (the load and fault tests use it);
        # the sidebar is refreshed by a second step so that endpoint's outputs stay the same
        asked = p.ask.click(h.respond, chat_inputs, chat_outputs, api_name="chat")
        submitted = p.question.submit(h.respond, chat_inputs, chat_outputs, api_name="chat_submit")
        for event in (asked, submitted):
            event.then(hist.refresh, conv, bar.conversations, **private)
        # stopping keeps the question (saved before answering) and lists its conversation
        p.stop.click(hist.refresh, conv, bar.conversations, cancels=[asked, submitted], **private)
        bar.wire(blocks, hist, p.chatbot, p.question, p.sources, conv, p.clear)
        p.note.wire(hist, p.chatbot, conv)
        index_changed = library.wire(blocks, lib, tabs, bridge, picker)
        status = [c.backend, index_status, c.source_filter, p.examples]
        # a conversation stays in its collection: another collection starts a new one
        fresh = [p.chatbot, p.question, p.sources, conv, bar.title, bar.conversations]
        following: dict[str, Any] = {"fn": col.follow, "inputs": [picker, conv, bar.search]}
        following["outputs"] = fresh
        picker.input(**following, **private)
        picker.change(h.on_load, [c.backend, picker], status, **private)
        bar.conversations.input(col.collection_of, bar.conversations, picker, **private)
        cbar.create.click(col.create, cbar.name, [picker, cbar.name, cbar.result]).then(
            **following, **private
        )
        cbar.delete.click(
            col.delete, [picker, cbar.confirmed], [picker, cbar.result], js=CONFIRM_DELETE_JS
        ).then(**following, **private)
        blocks.load(col.choices, None, picker, **private)
        feedback.wire(feedback_tab, hist.feedback)
        c.backend.change(h.show_server_options, c.backend, [c.server_row, c.base_url, c.model])
        uploaded = up.add.click(
            h.upload, [up.files, picker], [up.result, index_status, c.source_filter, up.files]
        ).then(h.example_samples, picker, p.examples, **private)
        library.refresh_after_upload(uploaded, lib, picker)
        for event in index_changed:  # the status line, search filter and examples follow
            event.then(h.on_load, [c.backend, picker], status, **private)
        p.examples.click(lambda sample: sample[0], p.examples, p.question, **private)
        p.copy.click(hist.copy_text, conv, p.copied, **private).then(
            None, p.copied, None, js="(text) => navigator.clipboard.writeText(text)"
        )
        blocks.load(h.on_load, c.backend, status)
        blocks.load(None, js=CLOSE_SIDEBAR_WHEN_NARROW_JS)
    return blocks
