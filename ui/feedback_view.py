"""The web chat's Feedback tab: the answers the signed-in user rated, newest first.

One row per rated answer (rating, question, answer, note, backend and model, date), from the
feedback kept by ui.feedback; a filter shows only thumbs down or only thumbs up. With basic
auth each user sees only their own ratings. `rag eval --export-feedback FILE` turns the
thumbs-down answers into an eval suite; this tab only shows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import gradio as gr

from ui.feedback import FeedbackRecord, FeedbackStore
from ui.history import user_of

COLUMNS = ("Rating", "Question", "Answer", "Note", "Backend", "Date")
RATINGS = {"All": None, "Thumbs down": -1, "Thumbs up": 1}
ANSWER_CHARS = 300


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= ANSWER_CHARS else flat[: ANSWER_CHARS - 1] + "…"


def feedback_rows(records: list[FeedbackRecord], user: str, rating: str) -> list[list[str]]:
    """`user`'s rated answers with the chosen rating, newest first."""
    wanted = RATINGS.get(rating)
    mine = [r for r in records if r.user == user and (wanted is None or r.rating == wanted)]
    mine.sort(key=lambda r: r.updated, reverse=True)
    return [
        [
            "👎" if r.rating < 0 else "👍",
            r.question,
            _short(r.answer),
            r.note,
            f"{r.backend} · {r.model}" if r.model else r.backend,
            datetime.fromtimestamp(r.updated).strftime("%Y-%m-%d %H:%M"),
        ]
        for r in mine
    ]


@dataclass
class FeedbackTab:
    """The Feedback tab's widgets."""

    rating: gr.Radio
    refresh: gr.Button
    table: gr.Dataframe

    @classmethod
    def build(cls) -> FeedbackTab:
        """Call inside the `gr.Tab`."""
        gr.Markdown(
            "Answers you rated. `rag eval --export-feedback FILE` writes the thumbs-down ones "
            "as an eval suite to complete with the expected answers."
        )
        with gr.Row():
            rating = gr.Radio(
                list(RATINGS), value="All", label="Show", elem_id="feedback-filter", scale=3
            )
            refresh = gr.Button("Refresh", elem_id="feedback-refresh", size="sm", scale=1)
        table = gr.Dataframe(
            headers=list(COLUMNS),
            interactive=False,
            wrap=True,
            elem_id="feedback-table",
            max_height=600,
        )
        return cls(rating, refresh, table)

    def wire(self, tab: gr.Tab, store: FeedbackStore | None) -> None:
        def rows(rating: str, request: gr.Request) -> Any:
            if store is None:
                return []
            return feedback_rows(store.records(), user_of(request), rating)

        for event in (tab.select, self.rating.change, self.refresh.click):
            event(rows, self.rating, self.table, api_visibility="private")
