"""The chat's settings widgets: backend (with a server's base URL and model when the backend
takes them) and retrieval (top-k, hybrid search, which documents to search).

`server_options` says which of those server fields a backend has; `Controls.build` lays the
widgets out under the chat. The handlers that use them are in ui.app; nothing here answers.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from rag.backends import registry
from rag.backends.base import BackendError
from rag.config import Settings

# Options the chat lets a user change per question, for a backend that has them all.
SERVER_OPTIONS = ("base_url", "model")


def server_options(settings: Settings, backend: str) -> dict[str, str] | None:
    """The backend's current SERVER_OPTIONS (None when it does not take them all)."""
    try:
        options = registry.options(backend, settings)
    except BackendError:
        return None
    if not all(name in type(options).model_fields for name in SERVER_OPTIONS):
        return None
    return {name: str(getattr(options, name)) for name in SERVER_OPTIONS}


@dataclass
class Controls:
    backend: gr.Dropdown
    server_row: gr.Row
    base_url: gr.Textbox
    model: gr.Textbox
    top_k: gr.Slider
    hybrid: gr.Checkbox
    source_filter: gr.Dropdown

    @classmethod
    def build(cls, settings: Settings) -> Controls:
        default_backend = settings.llm.backend
        with gr.Accordion("Backend", open=True):
            backend = gr.Dropdown(
                choices=[(n, n) for n in registry.names()],
                value=default_backend,
                label="Backend (takes effect on the next question)",
                elem_id="backend",
            )
            shown = server_options(settings, default_backend)
            with gr.Row(visible=shown is not None) as server_row:
                base_url = gr.Textbox(
                    value=(shown or {}).get("base_url", ""),
                    label="Server base URL",
                    elem_id="base-url",
                )
                model = gr.Textbox(
                    value=(shown or {}).get("model", ""), label="Model", elem_id="server-model"
                )
        with gr.Accordion("Retrieval settings", open=False, elem_id="retrieval"):
            top_k = gr.Slider(
                1, 20, value=settings.retrieval.top_k, step=1, label="Passages (top-k)"
            )
            hybrid = gr.Checkbox(
                value=settings.retrieval.bm25 and settings.retrieval.dense,
                label="Hybrid search (embeddings + BM25 keywords); off: embeddings only",
            )
            source_filter = gr.Dropdown(
                choices=[],
                multiselect=True,
                label="Only search these documents (empty: all)",
                elem_id="source-filter",
            )
        return cls(backend, server_row, base_url, model, top_k, hybrid, source_filter)
