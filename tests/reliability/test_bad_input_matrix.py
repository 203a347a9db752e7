"""Bad input matrix: every kind of hostile or broken input gets a clear one-line message (or is
indexed, when it is only unusual text), nothing crashes, and nothing indexed before is lost.

Steps, each followed by a check that every chunk indexed at the start is still there:
1. the real `rag index` CLI over a folder of bad files (exit 0, no traceback, one reason each);
2. in-process `ingest` for what a subprocess cannot stage: a file removed mid-run and a
   permission error (we run as root, which reads through chmod 000, so the refusal is
   simulated by making the read raise PermissionError, as the OS would);
3. uploads (`ui.uploads`): hostile file names, too large, unsupported type;
4. the real CLI with a malformed suite file, a bad rag.toml and a bad RAG_* value (exit 2).
The matrix is printed with the `figures` fixture. The index uses 2048-token chunks so the
1 MB single line costs ~60 embeddings instead of ~1000 (the chunker path is the same).
"""

from __future__ import annotations

import io
import os
import pathlib
from pathlib import Path

import pytest

import index.pipeline as pipeline
from index.config import IndexSettings
from index.pipeline import ingest
from index.store import open_index
from tests.reliability.indexing_helpers import run_rag

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

GOOD = "The harbour authority approved the new lighthouse on Tuesday. Work starts in May."
CHUNK_TOKENS = "2048"
RTL = "المكتبة الوطنية افتتحت قاعة جديدة للمخطوطات. הספרייה הלאומית פתחה אולם חדש לכתבי יד."
EMOJI = "The launch party 🎉🚀 celebrated the quasarwind rocket 🌍 with cake 🍰."


def _pdf(*, encrypt: bool) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    if encrypt:
        writer.encrypt("secret")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _ids(settings: IndexSettings) -> dict[str, set[str]]:
    index = open_index(settings)
    chroma = {s: set(ids) for s, ids in index.chroma.ids_by_source().items()}
    bm25: dict[str, set[str]] = {}
    for chunk in index.bm25.chunks():
        bm25.setdefault(chunk.source, set()).add(chunk.id)
    assert chroma == bm25, "Chroma and BM25 disagree"
    return chroma


def _intact(before: dict[str, set[str]], settings: IndexSettings) -> str:
    after = _ids(settings)
    lost = [s for s, ids in before.items() if not ids <= after.get(s, set())]
    return "yes" if not lost else f"NO: lost {lost}"


def _bad_files(docs: Path) -> dict[str, str]:
    """Write the bad files; kind -> file name (relative to docs)."""
    (docs / "was_good.txt").write_bytes(b"\x00\x01\x02binary\x00" * 50)
    (docs / "empty.txt").write_bytes(b"")
    (docs / "binary.txt").write_bytes(bytes(range(256)) * 20)
    (docs / "nul.txt").write_bytes(f"Stray NUL\x00 bytes in a report. {GOOD * 3}".encode())
    (docs / "invalid_utf8.txt").write_bytes(b"\xef\xbb\xbfhello \xff\xfe\xfd world")
    mixed = (
        f"Caf\u00e9 r\u00e9sum\u00e9 in UTF-8, marmalade. {GOOD} ".encode()
        + "Na\u00efve in Latin-1.".encode("latin-1")
    )
    (docs / "mixed_encodings.txt").write_bytes(mixed)
    with (docs / "huge.txt").open("w", encoding="utf-8") as fh:  # 21 MB of one sentence
        fh.write("All work and no play makes Jack a dull boy. " * 500_000)
    (docs / "corrupt.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\ngarbage")
    (docs / "encrypted.pdf").write_bytes(_pdf(encrypt=True))
    (docs / "blank.pdf").write_bytes(_pdf(encrypt=False))
    nested = (
        "<html><body>" + "<div>" * 100_000 + "abyssal text" + "</div>" * 100_000 + "</body></html>"
    )
    (docs / "nested.html").write_text(nested, encoding="utf-8")
    (docs / "loop").symlink_to(docs, target_is_directory=True)
    (docs / "self.txt").symlink_to(docs / "self.txt")
    (docs / "data.xyz").write_text("not a supported type", encoding="utf-8")
    words = " ".join(["harbour", "lighthouse", "council", "budget"] * 50_000)
    (docs / "one_line.txt").write_text(words + " zanzibarquartz", encoding="utf-8")
    (docs / "rtl.txt").write_text(RTL, encoding="utf-8")
    (docs / "emoji.md").write_text(f"# Launch\n\n{EMOJI}\n", encoding="utf-8")
    bad_name = os.fsdecode(b"latin1-\xe9t\xe9.txt")
    (docs / bad_name).write_text(GOOD, encoding="utf-8")
    return {
        "good file turned binary": "was_good.txt",
        "empty": "empty.txt",
        "binary": "binary.txt",
        "NUL bytes in text": "nul.txt",
        "invalid UTF-8": "invalid_utf8.txt",
        "mixed encodings (UTF-8 + Latin-1)": "mixed_encodings.txt",
        "huge text (21 MB, zip-bomb-like)": "huge.txt",
        "corrupt PDF": "corrupt.pdf",
        "encrypted PDF": "encrypted.pdf",
        "PDF without text (blank page)": "blank.pdf",
        "deeply nested HTML (100k divs)": "nested.html",
        "symlink loop (folder)": "loop",
        "symlink loop (file)": "self.txt",
        "unsupported type": "data.xyz",
        "1 MB single line": "one_line.txt",
        "right-to-left text": "rtl.txt",
        "emoji text": "emoji.md",
        "file name not UTF-8": "latin1-\\xe9t\\xe9.txt",
    }


# kind -> what the user must see: ("skipped", words in the reason) or ("indexed", query)
EXPECTED = {
    "good file turned binary": ("skipped", "binary"),
    "empty": ("skipped", "empty"),
    "binary": ("skipped", "binary"),
    "NUL bytes in text": ("indexed", "stray"),
    "invalid UTF-8": ("skipped", "undecodable"),
    "mixed encodings (UTF-8 + Latin-1)": ("indexed", "marmalade"),
    "huge text (21 MB, zip-bomb-like)": ("skipped", "too large"),
    "corrupt PDF": ("skipped", "pdf"),
    "encrypted PDF": ("skipped", "encrypted"),
    "PDF without text (blank page)": ("skipped", "no extractable text"),
    "deeply nested HTML (100k divs)": ("indexed", "abyssal"),
    "symlink loop (folder)": ("skipped", "symlink loop"),
    "symlink loop (file)": ("skipped", "symlink loop"),
    "unsupported type": ("skipped", "unsupported file type"),
    "1 MB single line": ("indexed", "zanzibarquartz"),
    "right-to-left text": ("indexed", "הספרייה المكتبة"),
    "emoji text": ("indexed", "quasarwind"),
    "file name not UTF-8": ("skipped", "not valid UTF-8"),
}


def test_bad_input_matrix(
    corpus_copy: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    figures,
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray rag.toml
    monkeypatch.setenv("RAG_INDEX__CHUNK_TOKENS", CHUNK_TOKENS)
    docs, data = corpus_copy, tmp_path / "data"
    settings = IndexSettings(data_dir=data, chunk_tokens=int(CHUNK_TOKENS))
    for name in ("was_good.txt", "vanishing.txt", "locked.txt"):
        (docs / name).write_text(f"{name}: {GOOD}", encoding="utf-8")
    first = ingest([docs], settings)
    assert first.added == 8 and not first.skipped
    before = _ids(settings)
    rows: list[list[str]] = []

    # 1. the real CLI over the bad files
    kinds = _bad_files(docs)
    code, out, err = run_rag(data, "index", str(docs), "--json")
    assert code == 0 and "Traceback" not in err, err
    import json

    report = json.loads(out)
    reasons = {item["path"]: item["reason"] for item in report["skipped"]}
    by_name = {Path(p).name: r for p, r in reasons.items()}
    statuses = {f["source"]: f["status"] for f in report["files"]}
    intact = _intact(before, settings)
    index = open_index(settings)
    for kind, name in kinds.items():
        want, words = EXPECTED[kind]
        if want == "skipped":
            reason = by_name.get(name, "")
            assert words.lower() in reason.lower(), (kind, reason, statuses.get(name))
            assert "\n" not in reason and "Traceback" not in reason
            rows.append([kind, "skipped (rag index)", reason, intact])
        else:
            assert statuses.get(name) == "added", (kind, statuses.get(name), by_name.get(name))
            hits = [i for i, _ in index.bm25_search(words, 3)]
            found = {c.source for c in index.get(hits)}
            assert name in found, (kind, found)
            rows.append([kind, f"indexed, found by '{words}'", "-", intact])
    stored = " ".join(c.text for c in index.chunks_of("emoji.md") + index.chunks_of("rtl.txt"))
    assert "🚀" in stored and "הספרייה" in stored  # kept as written, not mangled
    mixed_text = " ".join(c.text for c in index.chunks_of("mixed_encodings.txt"))
    assert "Café" in mixed_text and "Naïve" in mixed_text  # each part decoded right

    # 2. in-process: a file removed mid-run, a permission error
    (docs / "vanishing.txt").write_text(f"changed, then gone. {GOOD}", encoding="utf-8")
    (docs / "locked.txt").write_text(f"changed, unreadable. {GOOD}", encoding="utf-8")
    real_load = pipeline.load_file

    def vanish_then_load(path: Path, source: str, max_bytes: int):
        if path.name == "vanishing.txt":
            path.unlink()  # the file disappears between hashing and loading
        return real_load(path, source, max_bytes)

    real_read = pathlib.Path.read_bytes

    def refuse(self: Path) -> bytes:
        if self.name == "locked.txt":
            raise PermissionError(13, "Permission denied", str(self))
        return real_read(self)

    with monkeypatch.context() as patch:
        patch.setattr(pipeline, "load_file", vanish_then_load)
        patch.setattr(pathlib.Path, "read_bytes", refuse)
        second = ingest([docs, tmp_path / "no-such-folder"], settings)
    reasons2 = {Path(s.path).name: s.reason for s in second.skipped}
    intact = _intact(before, settings)
    for kind, name, words in (
        ("file removed mid-run", "vanishing.txt", "not found"),
        ("permission denied (simulated: root)", "locked.txt", "permission denied"),
        ("path that does not exist", "no-such-folder", "does not exist"),
    ):
        assert words in reasons2.get(name, "").lower(), (kind, reasons2)
        rows.append([kind, "skipped, old chunks kept", reasons2[name], intact])
    assert second.added == second.updated == second.removed == 0
    assert _ids(settings)["vanishing.txt"] == before["vanishing.txt"]
    caught_up = ingest([docs], settings)  # the problems gone, the next run catches up
    changed = {f.source: f.status for f in caught_up.files if f.status != "unchanged"}
    assert changed["locked.txt"] == "updated" and changed["vanishing.txt"] == "removed"
    before.pop("vanishing.txt")  # removed and edited on purpose by the user
    before["locked.txt"] = _ids(settings)["locked.txt"]

    # 3. uploads
    _uploads(tmp_path, data, rows, before, settings)

    # 4. the real CLI with bad settings and a malformed suite
    for kind, args, env, words in _cli_cases(tmp_path, docs):
        code, out, err = run_rag(data, *args, env=env, timeout=120)
        errors = [line for line in err.splitlines() if line.startswith("Error:")]
        assert code == 2 and "Traceback" not in err, (kind, code, err)
        assert len(errors) == 1, (kind, err)  # click adds a usage hint above it
        message = errors[0].replace(f"{tmp_path}/", "")
        assert words.lower() in message.lower(), (kind, message)
        rows.append([kind, "exit 2", message[:110], _intact(before, settings)])

    figures.add(f"{len(rows)} kinds of bad input; every one gave a clear message, none crashed")
    figures.table(["kind", "what happened", "message shown", "earlier index intact"], rows)
    assert len(rows) >= 20
    assert all(row[3] == "yes" for row in rows), rows


def _uploads(tmp_path: Path, data: Path, rows: list[list[str]], before, settings) -> None:
    from rag.config import load_settings
    from ui.uploads import ingest_uploads, safe_name, save_upload

    full = load_settings(
        {
            "index": {"data_dir": str(data), "chunk_tokens": int(CHUNK_TOKENS)},
            "server": {"max_upload_mb": 0.05},
        }
    )
    uploads = full.index.uploads_dir
    hostile = ["../../outside.txt", "..\\..\\outside.txt", "/etc/cron.d/evil.txt", "a/../../.x.txt"]
    src = tmp_path / "payload.bin"
    src.write_text(GOOD, encoding="utf-8")
    names = []
    for name in hostile:
        saved = save_upload(src, safe_name(name), uploads)
        assert saved.resolve().parent == uploads.resolve(), (name, saved)
        names.append(saved.name)
    assert not (tmp_path / "outside.txt").exists() and not (data / "outside.txt").exists()
    for path in uploads.iterdir():
        path.unlink()
    rows.append(
        [
            "path traversal in an upload name",
            "saved inside uploads/",
            f"{hostile[0]} -> {names[0]}; {hostile[2]} -> {names[2]}",
            _intact(before, settings),
        ]
    )

    staged = tmp_path / "staged"
    staged.mkdir()
    big = staged / "big.txt"
    big.write_text(GOOD * 1000, encoding="utf-8")  # ~80 KB, over the 0.05 MB limit
    exe = staged / "tool.exe"
    exe.write_bytes(b"MZ\x90\x00")
    results = {r.source: r for r in ingest_uploads([big, exe], full)[0]}
    for kind, name, words in (
        ("upload over the size limit", "big.txt", "upload limit"),
        ("upload of an unsupported type", "tool.exe", "unsupported file type"),
    ):
        result = results[name]
        assert result.status == "skipped" and words in (result.reason or ""), result
        assert not (uploads / name).exists()
        rows.append([kind, "refused", result.reason, _intact(before, settings)])


def _cli_cases(tmp_path: Path, docs: Path) -> list[tuple[str, list[str], dict[str, str], str]]:
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("name: broken\ncases: [\n  {id: q1, question: 'Who?'\n", encoding="utf-8")
    no_question = tmp_path / "noquestion.yaml"
    no_question.write_text("name: s\ncases:\n  - id: q1\n    answers: [x]\n", encoding="utf-8")
    bad_toml = tmp_path / "bad.toml"
    bad_toml.write_text("[index\nchunk_tokens = 100\n", encoding="utf-8")
    wrong_type = tmp_path / "wrong.toml"
    wrong_type.write_text('[index]\nchunk_overlap = "lots"\n', encoding="utf-8")
    return [
        ("malformed suite file (invalid YAML)", ["eval", str(bad_yaml)], {}, "not valid YAML"),
        (
            "malformed suite file (case without question)",
            ["eval", str(no_question)],
            {},
            "question",
        ),
        (
            "malformed settings (rag.toml syntax)",
            ["--config", str(bad_toml), "index", str(docs)],
            {},
            "bad.toml",
        ),
        (
            "malformed settings (rag.toml wrong type)",
            ["--config", str(wrong_type), "index", str(docs)],
            {},
            "chunk_overlap",
        ),
        (
            "malformed settings (RAG_* env value)",
            ["index", str(docs)],
            {"RAG_INDEX__CHUNK_TOKENS": "many"},
            "chunk_tokens",
        ),
    ]
