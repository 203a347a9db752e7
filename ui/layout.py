"""The chat tab's widgets: the chat with its question box and buttons, the sources panel
beside it (under it at phone width, see ui.render.CSS), and the upload box.

Layout only: the handlers are in ui.app, the markup in ui.render.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from rag.config import Settings
from ui import render
from ui.examples import FALLBACK
from ui.history import FeedbackNote
from ui.uploads import supported_suffixes


@dataclass
class ChatPanel:
    chatbot: gr.Chatbot
    note: FeedbackNote
    question: gr.Textbox
    ask: gr.Button
    stop: gr.Button
    clear: gr.Button
    copy: gr.Button
    copied: gr.Textbox
    examples: gr.Dataset
    sources: gr.HTML

    @classmethod
    def build(cls) -> ChatPanel:
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
                copy = gr.Button("Copy answer with sources", elem_id="copy-answer", size="sm")
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
        return cls(chatbot, note, question, ask, stop, clear, copy, copied, examples, sources)


@dataclass
class UploadPanel:
    files: gr.File
    add: gr.Button
    result: gr.HTML

    @classmethod
    def build(cls, settings: Settings) -> UploadPanel:
        with gr.Accordion("Add documents", open=False, elem_id="uploads"):
            files = gr.File(
                file_count="multiple",
                type="filepath",
                label=(
                    f"Upload {', '.join(sorted(supported_suffixes()))} files to the picked "
                    f"collection (up to {settings.server.max_upload_mb:g} MB each)"
                ),
                elem_id="upload-files",
            )
            add = gr.Button("Add to index", elem_id="upload-button")
            result = gr.HTML(elem_id="upload-result")
        return cls(files, add, result)
