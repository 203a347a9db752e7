"""HTML for the web chat: answer bubbles, the sources panel, backend labels, index status.

Everything that comes from documents, uploads or a model is escaped here, so a document that
contains `<script>` or a model that answers with HTML shows as text. Each function returns a
single-line HTML string (no blank lines), which the chat's Markdown renderer passes through as
one HTML block instead of reinterpreting the escaped text as Markdown. As a second line of
defence every fragment then goes through the `nh3` sanitizer with an allow-list of the few
tags and attributes this module writes (no links, images, scripts, styles or event handlers),
so a formatting mistake here still cannot put live markup on the page.
This module only formats: it does not retrieve, answer or check anything.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Callable, Iterable
from typing import ParamSpec

import nh3

from index.types import FileResult, IndexStatus
from rag.backends.base import BackendStatus
from rag.citations import MARKER_RE
from rag.types import Answer, Citation

UNSUPPORTED_NOTE = "⚠ not supported by the cited text"

CSS = """
.rag-answer, .rag-question { white-space: normal; }
.rag-meta { margin-top: .5em; font-size: .85em; opacity: .75; }
.rag-unsupported { text-decoration: underline wavy #c2410c; }
.rag-flag { color: #c2410c; font-size: .85em; }
.rag-notice { padding: .6em .8em; border-radius: 6px; margin: .3em 0; }
.rag-abstain { background: #eef2f7; border-left: 4px solid #64748b; }
.rag-error { background: #fdecec; border-left: 4px solid #b91c1c; }
.rag-fallback { background: #fff7e6; border-left: 4px solid #d97706; }
.rag-source { border: 1px solid #d4d4d8; border-radius: 6px; padding: .5em .7em; margin: .5em 0; }
.rag-source-head { font-weight: 600; margin-bottom: .3em; }
.rag-source-file { font-family: monospace; font-weight: 400; font-size: .85em; opacity: .8; }
.rag-passage { margin: 0; white-space: pre-wrap; font-size: .9em; }
.rag-passage mark { background: #fde68a; padding: 0 .1em; }
.rag-unsupported-list li { color: #9a3412; }
.rag-files td, .rag-files th { padding: .15em .6em; text-align: left; }
.rag-status-skipped { color: #b91c1c; }
.rag-cite { cursor: pointer; color: #2563eb; text-decoration: underline dotted; }
.rag-source-head .rag-cite { font-weight: 400; font-size: .85em; margin-left: .3em; }
.rag-doc-head { margin-bottom: .4em; }
.rag-doc-note { font-size: .9em; opacity: .85; margin-bottom: .4em; }
.rag-doc-text { white-space: pre-wrap; max-height: 65vh; overflow-y: auto; padding: .6em;
  border: 1px solid #d4d4d8; border-radius: 6px; line-height: 1.5; }
.rag-doc-text mark { background: #fde68a; color: #111827; padding: 0 .1em; }
/* phone width: the sources panel goes under the chat */
@media (max-width: 700px) {
  #chat-row { flex-direction: column; flex-wrap: wrap; }
  #chat-row > #chat-column, #chat-row > #sources-column { width: 100%; min-width: 0; }
}
/* the system's dark mode (Gradio sets .dark from prefers-color-scheme) */
.dark .rag-abstain { background: #1e293b; }
.dark .rag-error { background: #3f1d1d; }
.dark .rag-fallback { background: #3b2a10; }
.dark .rag-source, .dark .rag-doc-text { border-color: #3f3f46; }
.dark .rag-passage mark { background: #a16207; color: #fefce8; }
.dark .rag-cite { color: #93c5fd; }
.dark .rag-unsupported-list li, .dark .rag-flag { color: #fdba74; }
"""


P = ParamSpec("P")
ALLOWED_TAGS = {
    "div", "span", "p", "b", "br", "mark", "blockquote", "ul", "li",
    "table", "tbody", "thead", "tr", "td", "th",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"*": {"class", "id", "title"}}


def sanitize(markup: str) -> str:
    """`markup` reduced to the allow-listed tags and attributes (scripts dropped with content)."""
    return nh3.clean(
        markup, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes=set(), link_rel=None
    )


def _sanitized(func: Callable[P, str]) -> Callable[P, str]:
    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> str:
        return sanitize(func(*args, **kwargs))

    return wrapper


def _esc(text: str) -> str:
    """Escape text for HTML and keep its line breaks."""
    return html.escape(text, quote=True).replace("\r\n", "\n").replace("\n", "<br>")


@_sanitized
def question_html(question: str) -> str:
    """The user's message as shown in the chat (escaped, never interpreted)."""
    return f'<div class="rag-question">{_esc(question)}</div>'


@_sanitized
def streaming_html(partial: str) -> str:
    """The answer while it streams in: plain escaped text, checked markup comes at the end."""
    return f'<div class="rag-answer rag-streaming">{_esc(partial)}</div>'


@_sanitized
def error_notice(message: str) -> str:
    return f'<div class="rag-notice rag-error">⚠ {_esc(message)}</div>'


def meta_line(answer: Answer) -> str:
    """'backend · model', shown under every answer."""
    model = answer.model or "?"
    return f'<div class="rag-meta">{html.escape(answer.backend)} · {html.escape(model)}</div>'


CITE_TITLE = "Open {source} at the cited passage (characters {start}-{end}{page})"
# The chat's own sanitizer drops data-* attributes, so a citation link carries what it opens
# in its title, which is also the tooltip; ui.library reads it back with this pattern.
CITE_TITLE_RE = re.compile(
    r"^Open (?P<source>.+) at the cited passage \(characters (?P<start>\d+)-(?P<end>\d+)"
    r"(?:, page (?P<page>\d+))?\)$"
)


def cite_title(citation: Citation) -> str:
    """What a click on [n] opens in the document library: the cited document and span."""
    page = f", page {citation.page}" if citation.page is not None else ""
    return CITE_TITLE.format(
        source=citation.source, start=citation.start, end=citation.end, page=page
    )


def cite_link(citation: Citation, label: str) -> str:
    """`label` (escaped) as a clickable citation that opens the cited span in its document."""
    title = html.escape(cite_title(citation), quote=True)
    return f'<span class="rag-cite" title="{title}">{_esc(label)}</span>'


_NUMBER_RE = re.compile(r"\d+")


def _linked(escaped: str, citations: dict[int, Citation]) -> str:
    """Escaped answer text with each cited number in its markers made a citation link."""
    if not citations:
        return escaped

    def marker(match: re.Match[str]) -> str:
        def number(m: re.Match[str]) -> str:
            cited = citations.get(int(m.group()))
            return cite_link(cited, m.group()) if cited else m.group()

        return _NUMBER_RE.sub(number, match.group())

    return MARKER_RE.sub(marker, escaped)


def _mark_unsupported(answer: Answer) -> str:
    """The answer text with every unsupported sentence wrapped and flagged, markers linked."""
    text = answer.text
    cited = {c.n: c for c in answer.citations}
    out: list[str] = []
    cursor = 0
    for check in answer.sentences:
        if check.supported or not check.sentence.strip():
            continue
        at = text.find(check.sentence, cursor)
        if at < 0:
            continue
        out.append(_linked(_esc(text[cursor:at]), cited))
        out.append(
            f'<span class="rag-unsupported" title="{UNSUPPORTED_NOTE}">'
            f"{_linked(_esc(check.sentence), cited)}</span>"
            f' <span class="rag-flag">{UNSUPPORTED_NOTE}</span>'
        )
        cursor = at + len(check.sentence)
    out.append(_linked(_esc(text[cursor:]), cited))
    return "".join(out)


@_sanitized
def answer_html(answer: Answer) -> str:
    """The final answer bubble: abstention and errors as notices, flags, backend · model."""
    if answer.error:
        body = (
            '<div class="rag-notice rag-error">⚠ The backend could not answer: '
            f"{_esc(answer.error)}</div>"
        )
    elif answer.abstained:
        body = f'<div class="rag-notice rag-abstain">ℹ {_esc(answer.text)}</div>'
    else:
        body = f'<div class="rag-answer">{_mark_unsupported(answer)}</div>'
        if answer.short_answer is not None:
            short = answer.short_answer
            body = (
                f'<div class="rag-short-answer">Answer: <strong>{_esc(short.text)}</strong> '
                f"{_linked(f'[{short.n}]', {c.n: c for c in answer.citations})}</div>" + body
            )
        if answer.fallback:
            body += (
                '<div class="rag-notice rag-fallback">The model\'s answer was not supported '
                "by the documents, so the passages that answer the question are quoted "
                "instead.</div>"
            )
    return body + meta_line(answer)


def _passage_html(citation: Citation) -> str:
    """The cited chunk with the supporting span in <mark> (or the span alone)."""
    chunk = citation.chunk_text
    if not chunk:
        return f"<mark>{_esc(citation.text)}</mark>"
    start = citation.start - citation.chunk_start
    end = citation.end - citation.chunk_start
    if not (0 <= start < end <= len(chunk)) or chunk[start:end] != citation.text:
        found = chunk.find(citation.text) if citation.text else -1
        if found < 0:
            return f"{_esc(chunk)}<br><mark>{_esc(citation.text)}</mark>"
        start, end = found, found + len(citation.text)
    return f"{_esc(chunk[:start])}<mark>{_esc(chunk[start:end])}</mark>{_esc(chunk[end:])}"


@_sanitized
def citation_html(citation: Citation) -> str:
    page = f", page {citation.page}" if citation.page is not None else ""
    title = citation.title or citation.source
    return (
        f'<div class="rag-source" id="rag-source-{citation.n}">'
        f'<div class="rag-source-head">[{citation.n}] {html.escape(title)} '
        f'<span class="rag-source-file">{html.escape(citation.source)}{page}</span> '
        f"{cite_link(citation, 'open in document')}</div>"
        f'<blockquote class="rag-passage">{_passage_html(citation)}</blockquote></div>'
    )


@_sanitized
def sources_html(answer: Answer | None) -> str:
    """The sources panel for the last answer."""
    if answer is None:
        return (
            '<div class="rag-sources"><p>Ask a question: the passages that support the '
            "answer appear here, with the cited words highlighted.</p></div>"
        )
    parts = ['<div class="rag-sources">']
    if answer.error:
        parts.append(
            f'<div class="rag-notice rag-error">⚠ The backend could not answer: '
            f"{_esc(answer.error)}</div>"
        )
    elif answer.abstained:
        reason = f" ({_esc(answer.abstain_reason)})" if answer.abstain_reason else ""
        parts.append(
            '<div class="rag-notice rag-abstain">ℹ The documents do not hold the answer to '
            f"this question, so nothing is cited{reason}.</div>"
        )
    elif not answer.citations:
        parts.append("<p>No sources were cited for this answer.</p>")
    parts.extend(citation_html(c) for c in answer.citations)
    unsupported = [s for s in answer.sentences if not s.supported and s.sentence.strip()]
    if unsupported and not answer.abstained:
        items = "".join(
            f'<li class="rag-unsupported">{UNSUPPORTED_NOTE}: {_esc(s.sentence)}'
            + (f" <i>({_esc(s.reason)})</i>" if s.reason else "")
            + "</li>"
            for s in unsupported
        )
        parts.append(
            f'<div class="rag-unsupported-list"><b>Sentences not supported by the cited '
            f"text</b><ul>{items}</ul></div>"
        )
    parts.append("</div>")
    return "".join(parts)


def backend_label(status: BackendStatus) -> str:
    """A dropdown label: 'extractive — available' or 'openai — unavailable: reason'."""
    if status.available:
        model = f" ({status.model})" if status.model and status.model != status.name else ""
        return f"{status.name}{model}"
    detail = status.detail or status.state
    if len(detail) > 90:
        detail = detail[:87] + "..."
    return f"{status.name} — unavailable: {detail}"


@_sanitized
def index_status_html(status: IndexStatus | None, error: str | None = None) -> str:
    if status is None:
        return f'<div class="rag-notice rag-error">Index: {_esc(error or "not available")}</div>'
    last = status.last_indexed or "never"
    return (
        f'<div class="rag-index-status">Index: <b>{status.documents}</b> documents, '
        f"<b>{status.chunks}</b> chunks · embedding model {html.escape(status.embedding_model)}"
        f" · last indexed {html.escape(last)}</div>"
    )


@_sanitized
def upload_results_html(results: Iterable[FileResult]) -> str:
    """One row per uploaded file: added / updated / unchanged / skipped with the reason."""
    rows = []
    for r in results:
        plural = "" if r.chunks == 1 else "s"
        detail = r.reason or (f"{r.chunks} chunk{plural}" if r.chunks else "")
        rows.append(
            f'<tr class="rag-status-{html.escape(r.status)}"><td>{html.escape(r.source)}</td>'
            f"<td>{html.escape(r.status)}</td><td>{_esc(detail)}</td></tr>"
        )
    if not rows:
        return "<p>No files were uploaded.</p>"
    return (
        '<table class="rag-files"><tr><th>file</th><th>result</th><th>detail</th></tr>'
        + "".join(rows)
        + "</table>"
    )
