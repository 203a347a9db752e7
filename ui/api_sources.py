"""The sources list appended to /v1 answers' text, for chat clients that ignore `citations`.

An OpenAI client that knows nothing of ragchat shows only the message content, so [1], [2]
would point at nothing. This adds one line per citation: the number, the document title,
the file (and page), and the quoted span that supports the answer, shortened when long.
It is plain text that reads well raw and as Markdown. Nothing here decides whether to add
it (ui.api does, from the `api.sources_in_content` setting and the request).
"""

from __future__ import annotations

from rag.types import Answer

SPAN_CHARS = 220
HEADING = "Sources:"


def _short(text: str) -> str:
    flat = " ".join(text.split())
    if len(flat) <= SPAN_CHARS:
        return flat
    return flat[: SPAN_CHARS - 1].rsplit(" ", 1)[0] + "…"


def sources_text(answer: Answer) -> str:
    """'\\n\\nSources:\\n[1] Title — file, page 2: “span”' (empty when nothing is cited)."""
    if answer.error or answer.abstained or not answer.citations:
        return ""
    lines = ["", "", HEADING]
    for c in answer.citations:
        page = f", page {c.page}" if c.page is not None else ""
        title = c.title or c.source
        lines.append(f"[{c.n}] {title} — {c.source}{page}: “{_short(c.text)}”")
    return "\n".join(lines)
