"""The Gradio Blocks web chat: streaming cited answers (Enter sends, Shift+Enter adds a line,
Stop ends the answer), sources panel, copy answer with its sources, example questions from the
indexed titles (ui.examples), backend and retrieval controls (ui.controls), uploads and index
status; beside the chat, the document library (ui.library: a click on a citation opens the
cited span there) and the rated answers (ui.feedback_view).

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

from rag.backends import registry
from rag.config import Settings
from rag.types import Answer, AnswerStream, Message
from ui import render
from ui.controls import SERVER_OPTIONS, Controls, server_options
from ui.conversations import ConversationStore
from ui.examples import FALLBACK, ExampleQuestions
from ui.feedback_view import FeedbackTab
from ui.history import ChatSession, FeedbackNote, HistoryHandlers, Sidebar
from ui.library import TAB_ID, LibraryHandlers, LibraryTab
from ui.state_db import db_path
from ui.uploads import ingest_uploads, supported_suffixes

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
        self.assistant = assistant
        self.store = store  # None: conversations are not saved
        self.history = HistoryHandlers(store)
        self.examples = ExampleQuestions(settings.index)

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

    def index_sources(self) -> list[str]:
        try:
            return self.assistant.sources()
        except Exception:  # the page must load even if the index misbehaves
            return []

    def index_html(self) -> str:
        try:
            status = self.assistant.index_status()
            problem = None if status is not None else self.assistant.index_problem()
        except Exception as err:
            status, problem = None, str(err)
        return render.index_status_html(status, problem)

    def show_server_options(self, backend: str) -> tuple[Any, Any, Any]:
        """Show the server fields, with the backend's settings, when it takes them."""
        shown = server_options(self.settings, backend)
        if shown is None:
            return gr.update(visible=False), gr.update(), gr.update()
        return gr.update(visible=True), shown["base_url"], shown["model"]

    def example_samples(self) -> Any:
        return gr.update(samples=[[q] for q in self.examples.for_assistant(self.assistant)])

    def on_load(self, backend: str) -> tuple[Any, str, Any, Any]:
        return (
            gr.update(choices=self.backend_choices(), value=backend),
            self.index_html(),
            gr.update(choices=self.index_sources()),
            self.example_samples(),
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
        request: gr.Request | None = None,
    ) -> Iterator[tuple[Any, ...]]:
        question = (question or "").strip()
        if not question:
            gr.Info("Type a question first.")
            yield conv.display, question, render.sources_html(conv.last), conv
            return
        problem = self.assistant.validate(question)
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
                self.assistant.stream(
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
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio's idiom for a progress bar)
    ) -> tuple[Any, ...]:
        if not files:
            return "<p>Choose one or more files first.</p>", self.index_html(), gr.update(), None
        progress(0.1, desc=f"Indexing {len(files)} file(s)…")
        try:
            results, changed = ingest_uploads(files, self.settings)
        except Exception as err:  # lock held by `rag index`, store errors...
            return (
                render.error_notice(f"Upload failed: {err}"),
                self.index_html(),
                gr.update(),
                None,
            )
        progress(0.9, desc="Reloading the index…")
        if changed:
            self.assistant.reload_index()
        return (
            render.upload_results_html(results),
            self.index_html(),
            gr.update(choices=self.index_sources()),
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
    lib = LibraryHandlers(settings.index, assistant)
    with gr.Blocks(title="ragchat") as blocks:
        conv = gr.State(ChatSession())
        bar = Sidebar.build()
        gr.Markdown("## ragchat: answers from your documents, with checked citations")
        index_status = gr.HTML(elem_id="index-status")
        with gr.Tabs(elem_id="tabs") as tabs:
            with gr.Tab("Chat", id="chat", elem_id="chat-tab"):
                with gr.Row(elem_id="chat-row"):
                    with gr.Column(scale=3, min_width=300, elem_id="chat-column"):
                        chatbot = gr.Chatbot(
                            label="Chat",
                            elem_id="chat",
                            height=520,
                            latex_delimiters=[],
                            buttons=["copy"],
                            placeholder="Ask about the documents, or pick an example below.",
                        )
                        note = FeedbackNote.build()
                        with gr.Row():
                            question = gr.Textbox(
                                show_label=False,
                                placeholder="Ask a question about the documents…",
                                elem_id="question",
                                scale=6,
                                max_lines=4,
                            )
                            ask = gr.Button("Ask", variant="primary", elem_id="ask", scale=1)
                            stop = gr.Button("Stop", variant="stop", elem_id="stop", scale=1)
                        clear = gr.Button("New conversation", elem_id="clear", size="sm")
                        copy = gr.Button(
                            "Copy answer with sources", elem_id="copy-answer", size="sm"
                        )
                        copied = gr.Textbox(visible=False)
                        examples = gr.Dataset(
                            components=[question],
                            samples=[[q] for q in FALLBACK],  # until the page loads
                            label="Examples",
                            elem_id="examples",
                        )
                    with gr.Column(scale=2, min_width=300, elem_id="sources-column"):
                        gr.Markdown("### Sources")
                        sources = gr.HTML(render.sources_html(None), elem_id="sources")
                c = Controls.build(settings)
                with gr.Accordion("Add documents", open=False, elem_id="uploads"):
                    files = gr.File(
                        file_count="multiple",
                        type="filepath",
                        label=(
                            f"Upload {', '.join(sorted(supported_suffixes()))} files "
                            f"(up to {settings.server.max_upload_mb:g} MB each)"
                        ),
                        elem_id="upload-files",
                    )
                    add = gr.Button("Add to index", elem_id="upload-button")
                    upload_result = gr.HTML(elem_id="upload-result")
            with gr.Tab("Library", id=TAB_ID, elem_id="library-tab"):
                library = LibraryTab.build()
            with gr.Tab("Feedback", id="feedback", elem_id="feedback-tab") as feedback_tab:
                feedback = FeedbackTab.build()
        bridge = LibraryTab.bridge()

        chat_inputs = [question, conv, c.backend, c.base_url, c.model, c.top_k, c.hybrid,
                       c.source_filter]  # fmt: skip
        chat_outputs = [chatbot, question, sources, conv]
        # "/chat" is the named endpoint for gradio_client (the load and fault tests use it);
        # the sidebar is refreshed by a second step so that endpoint's outputs stay the same
        asked = ask.click(h.respond, chat_inputs, chat_outputs, api_name="chat")
        submitted = question.submit(h.respond, chat_inputs, chat_outputs, api_name="chat_submit")
        for event in (asked, submitted):
            event.then(hist.refresh, conv, bar.conversations, api_visibility="private")
        # stopping keeps the question (saved before answering) and lists its conversation
        stop.click(
            hist.refresh,
            conv,
            bar.conversations,
            cancels=[asked, submitted],
            api_visibility="private",
        )
        bar.wire(blocks, hist, chatbot, question, sources, conv, clear)
        note.wire(hist, chatbot, conv)
        index_changed = library.wire(blocks, lib, tabs, bridge)
        feedback.wire(feedback_tab, hist.feedback)
        c.backend.change(h.show_server_options, c.backend, [c.server_row, c.base_url, c.model])
        uploaded = add.click(
            h.upload, files, [upload_result, index_status, c.source_filter, files]
        ).then(h.example_samples, None, examples, api_visibility="private")
        library.refresh_after_upload(uploaded, lib)
        for event in index_changed:  # the status line, search filter and examples follow
            event.then(h.on_load, c.backend, [c.backend, index_status, c.source_filter, examples])
        examples.click(lambda sample: sample[0], examples, question, api_visibility="private")
        copy.click(hist.copy_text, conv, copied, api_visibility="private").then(
            None, copied, None, js="(text) => navigator.clipboard.writeText(text)"
        )
        blocks.load(h.on_load, c.backend, [c.backend, index_status, c.source_filter, examples])
        blocks.load(None, js=CLOSE_SIDEBAR_WHEN_NARROW_JS)
    return blocks
