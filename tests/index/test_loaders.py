"""Loaders: each file type gives its text; each bad file gives its reason as a LoadError."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from index.loaders import SUPPORTED_SUFFIXES, LoadError, load_file

MB = 1024 * 1024
SENTENCE = "The committee approved the budget on Tuesday after a long debate."


def make_pdf(
    path: Path, pages: list[list[str]], password: str | None = None, title: str | None = None
) -> Path:
    """A real PDF with one text line per string, written with pypdf (no binary fixture)."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    font_ref = writer._add_object(font)
    for lines in pages:
        page = writer.add_blank_page(612, 792)
        if lines:
            shown = " ".join(
                "(" + line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") '"
                for line in lines
            )
            stream = DecodedStreamObject()
            stream.set_data(f"BT /F1 11 Tf 72 740 Td 14 TL {shown} ET".encode("latin-1"))
            page[NameObject("/Contents")] = writer._add_object(stream)
            page[NameObject("/Resources")] = DictionaryObject(
                {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font_ref})}
            )
    if title:
        writer.add_metadata({"/Title": title})
    if password:
        writer.encrypt(user_password=password, owner_password="owner", algorithm="RC4-128")
    with path.open("wb") as fh:
        writer.write(fh)
    return path


def make_docx(path: Path, title: str | None = None) -> Path:
    import docx

    document = docx.Document()
    if title:
        document.core_properties.title = title
    document.add_heading("Quarterly results", level=1)
    document.add_paragraph(SENTENCE)
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Region"
    table.cell(0, 1).text = "Revenue"
    table.cell(1, 0).text = "North"
    table.cell(1, 1).text = "42 million"
    document.add_paragraph("Closing remarks follow the table.")
    document.save(path)
    return path


def load(path: Path, max_bytes: int = 20 * MB):
    return load_file(path, path.name, max_bytes)


def reason(path: Path, max_bytes: int = 20 * MB) -> str:
    with pytest.raises(LoadError) as info:
        load(path, max_bytes)
    return str(info.value)


# ------------------------------------------------------------------------------ text files


def test_supported_suffixes_are_the_documented_ones():
    assert {".txt", ".md", ".html", ".htm", ".pdf", ".docx"} <= set(SUPPORTED_SUFFIXES)


def test_txt_and_md_are_read_as_is(tmp_path: Path):
    (tmp_path / "a.txt").write_text("Hello world.\n\nSecond paragraph.", encoding="utf-8")
    (tmp_path / "b.md").write_text("# Title\n\nSome *markdown* text.", encoding="utf-8")
    a, b = load(tmp_path / "a.txt"), load(tmp_path / "b.md")
    assert a.text == "Hello world.\n\nSecond paragraph." and a.kind == "txt"
    assert a.source == "a.txt" and a.path == str(tmp_path / "a.txt")
    assert b.text.startswith("# Title") and b.kind == "md"


@pytest.mark.parametrize(
    ("encoding", "prefix"),
    [("utf-8-sig", b""), ("utf-16", b""), ("utf-8", b"")],
)
def test_unicode_text_with_and_without_bom(tmp_path: Path, encoding: str, prefix: bytes):
    text = "Café – naïve résumé, Zürich and Kraków; “quotes” too."
    path = tmp_path / "u.txt"
    path.write_bytes(prefix + text.encode(encoding))
    assert load(path).text == text  # no BOM character left at the start


def test_legacy_encoding_is_detected(tmp_path: Path):
    text = (
        "Le café de la gare était fermé. Les élèves ont déjeuné à côté, près de la rivière, "
        "où l'été dernier la fête a réuni des centaines de curieux venus de très loin. "
    ) * 5
    path = tmp_path / "latin.txt"
    path.write_bytes(text.encode("cp1252"))
    assert "café de la gare était fermé" in load(path).text


def test_non_latin_utf8_text_is_not_mistaken_for_binary(tmp_path: Path):
    text = "Привет, мир. Это длинный текст на русском языке. 東京は日本の首都です。" * 30
    (tmp_path / "ru.txt").write_text(text, encoding="utf-8")
    (tmp_path / "ru.html").write_text(f"<p>{text}</p>", encoding="utf-8")
    assert load(tmp_path / "ru.txt").text == text
    assert load(tmp_path / "ru.html").text == text


def test_binary_file_with_text_extension_is_refused(tmp_path: Path):
    path = tmp_path / "image.txt"
    path.write_bytes(bytes(range(256)) * 40)
    assert reason(path) == "binary file with a text extension"
    ctrl = tmp_path / "ctrl.md"
    ctrl.write_bytes(b"\x01\x02\x03\x04\x05\x06abc\x07\x08\x0e\x0f" * 50)
    assert reason(ctrl) == "binary file with a text extension"
    page = tmp_path / "page.html"
    page.write_bytes(bytes(range(256)) * 40)
    assert reason(page) == "binary file with a text extension"


def test_empty_and_whitespace_only_files(tmp_path: Path):
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.md").write_text("  \n\n\t \n")
    assert reason(tmp_path / "empty.txt") == "empty file"
    assert "empty" in reason(tmp_path / "blank.md")


def test_too_large_file_names_size_and_limit(tmp_path: Path):
    path = tmp_path / "big.txt"
    path.write_text("word " * 300_000)  # 1.5 MB
    message = reason(path, max_bytes=1 * MB)
    assert message.startswith("file too large")
    assert "1.4 MB" in message and "limit 1.0 MB" in message


def test_unsupported_suffix(tmp_path: Path):
    path = tmp_path / "data.xyz"
    path.write_text("hello")
    assert reason(path) == "unsupported file type .xyz"
    noext = tmp_path / "README"
    noext.write_text("hello")
    assert reason(noext).startswith("unsupported file type")


@pytest.mark.parametrize("suffix", [".doc", ".odt", ".rtf", ".xlsx"])
def test_other_office_files_are_unsupported_not_read_as_docx(tmp_path: Path, suffix: str):
    path = make_docx(tmp_path / f"report{suffix}")  # real Word content under another name
    assert reason(path) == f"unsupported file type {suffix}"


def test_missing_file_directory_and_symlink_loop(tmp_path: Path):
    assert "not found" in reason(tmp_path / "gone.txt")
    folder = tmp_path / "folder.txt"
    folder.mkdir()
    assert reason(folder) == "not a regular file"
    loop_a, loop_b = tmp_path / "a.txt", tmp_path / "b.txt"
    os.symlink(loop_b, loop_a)
    os.symlink(loop_a, loop_b)
    assert reason(loop_a) == "symbolic link loop"


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "secret.txt"
    path.write_text("top secret")

    def denied(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    # Tests run as root here, where chmod 000 does not stop reads: simulate the denial.
    monkeypatch.setattr(Path, "open", denied)
    assert reason(path).startswith("permission denied")


# ------------------------------------------------------------------------------------ HTML


def test_html_gives_text_not_markup(tmp_path: Path):
    html = """<!doctype html><html><head><title>Budget passes | City News</title>
    <style>p { color: red }</style><script>track("visit")</script></head>
    <body><nav>Home | World | Sports</nav><header>City News header</header>
    <article><h1>Budget passes</h1><p>The committee   approved
    the budget. It took &amp; hours.</p><!-- hidden note -->
    <h2>Reactions</h2><p>Members cheered.<br>Some left early.</p>
    <ul><li>first point</li><li>second point</li></ul></article>
    <aside>Related stories</aside><footer>Copyright City News</footer>
    <form>Sign up for our newsletter</form><noscript>Enable JS</noscript></body></html>"""
    path = tmp_path / "page.html"
    path.write_text(html, encoding="utf-8")
    raw = load(path)
    assert raw.kind == "html"
    assert raw.title_hint == "Budget passes"
    lines = raw.text.split("\n")
    assert "Budget passes" in lines and "Reactions" in lines
    assert "The committee approved the budget. It took & hours." in lines
    assert "Members cheered." in lines and "Some left early." in lines
    assert "- first point" in lines and "- second point" in lines
    for chrome in (
        "track(",
        "color: red",
        "Home | World",
        "Related stories",
        "Copyright",
        "newsletter",
        "Enable JS",
        "hidden note",
        "City News header",
        "<",
    ):
        assert chrome not in raw.text


def test_html_title_from_title_tag_or_first_h1(tmp_path: Path):
    (tmp_path / "t.htm").write_text("<title>Only a title</title><p>Body text.</p>")
    (tmp_path / "h.html").write_text("<body><h1>Headline here</h1><p>Body text.</p></body>")
    assert load(tmp_path / "t.htm").title_hint == "Only a title"
    assert load(tmp_path / "t.htm").kind == "html"
    assert load(tmp_path / "h.html").title_hint == "Headline here"


def test_deeply_nested_html_does_not_crash(tmp_path: Path):
    depth = 50_000
    html = "<html><body>" + "<div>" * depth + "<p>Deep text.</p>" + "</div>" * depth
    path = tmp_path / "deep.html"
    path.write_text(html + "<p>After the nest.</p></body></html>")
    raw = load(path)
    assert "Deep text." in raw.text and "After the nest." in raw.text


def test_html_without_text(tmp_path: Path):
    path = tmp_path / "empty.html"
    path.write_text("<html><head><script>x=1</script></head><body><nav>Menu</nav></body></html>")
    assert "no text" in reason(path)


# ------------------------------------------------------------------------------------- PDF


def test_pdf_pages_are_kept_as_offsets(tmp_path: Path):
    path = make_pdf(
        tmp_path / "report.pdf",
        [["Page one talks about apples.", "Apples are red."], [], ["Page three is on pears."]],
    )
    raw = load(path)
    assert raw.kind == "pdf"
    assert [p.page for p in raw.pages] == [1, 3]  # the blank page 2 holds no text
    first, third = (raw.text[p.start : p.end] for p in raw.pages)
    assert "apples" in first and "Apples are red." in first and "pears" not in first
    assert "Page three is on pears." in third
    assert raw.title_hint is None


def test_pdf_title_from_metadata(tmp_path: Path):
    raw = load(make_pdf(tmp_path / "t.pdf", [["Body text."]], title="Water Quality 2024"))
    assert raw.title_hint == "Water Quality 2024"
    raw = load(make_pdf(tmp_path / "u.pdf", [["Body text."]], title="Microsoft Word - draft.docx"))
    assert raw.title_hint is None


def test_encrypted_pdf_is_refused_with_that_reason(tmp_path: Path):
    path = make_pdf(tmp_path / "locked.pdf", [["Secret numbers."]], password="hunter2")
    assert "encrypted" in reason(path)


def test_scanned_pdf_without_text(tmp_path: Path):
    path = make_pdf(tmp_path / "scan.pdf", [[], []])
    assert reason(path) == "PDF has no extractable text (scanned?)"


@pytest.mark.parametrize(
    "content",
    [b"%PDF-1.7\n this is not really a pdf", b"\x00\xff garbage" * 100, b"hello"],
)
def test_corrupt_pdf(tmp_path: Path, content: bytes):
    path = tmp_path / "broken.pdf"
    path.write_bytes(content)
    message = reason(path)
    assert "PDF" in message


def test_truncated_pdf(tmp_path: Path):
    good = make_pdf(tmp_path / "good.pdf", [["Some text on a page."]]).read_bytes()
    path = tmp_path / "cut.pdf"
    path.write_bytes(good[: len(good) // 3])
    try:
        raw = load(path)
    except LoadError as err:
        assert "PDF" in str(err)
    else:  # pypdf may still recover the page: then its text must be right
        assert "Some text on a page." in raw.text


# ------------------------------------------------------------------------------------ DOCX


def test_docx_paragraphs_tables_and_title(tmp_path: Path):
    raw = load(make_docx(tmp_path / "report.docx", title="Q3 Report"))
    assert raw.kind == "docx" and raw.title_hint == "Q3 Report"
    text = raw.text
    assert "Quarterly results" in text and SENTENCE in text
    assert "Region | Revenue" in text and "North | 42 million" in text
    assert text.index(SENTENCE) < text.index("North") < text.index("Closing remarks")


def test_docx_title_falls_back_to_first_heading(tmp_path: Path):
    raw = load(make_docx(tmp_path / "untitled.docx"))
    assert raw.title_hint == "Quarterly results"


def test_corrupt_docx(tmp_path: Path):
    path = tmp_path / "broken.docx"
    path.write_bytes(b"PK\x03\x04 not a real zip archive" * 10)
    assert "DOCX" in reason(path)
    zipped = tmp_path / "notword.docx"
    import zipfile

    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("hello.txt", "not a word document")
    assert "DOCX" in reason(zipped)


# ------------------------------------------------------------------------- only LoadError


@pytest.mark.parametrize("suffix", [".txt", ".md", ".html", ".htm", ".pdf", ".docx"])
@pytest.mark.parametrize("seed", range(4))
def test_garbage_gives_a_document_or_a_load_error(tmp_path: Path, suffix: str, seed: int):
    import random

    rng = random.Random(seed)
    data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 5000)))
    if seed % 2:
        data = b"%PDF-1.4\n" + data if suffix == ".pdf" else b"PK\x03\x04" + data
    path = tmp_path / f"junk{suffix}"
    path.write_bytes(data)
    try:
        raw = load(path)
    except LoadError as err:
        assert str(err) and "\n" not in str(err)
    else:
        assert isinstance(raw.text, str) and raw.text.strip()


def test_load_error_is_raised_not_other_exceptions_for_a_pdf_bytes_stream(tmp_path: Path):
    # A PDF whose page tree is missing: pypdf raises deep inside; the loader names the file type.
    path = tmp_path / "nopages.pdf"
    path.write_bytes(b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF")
    assert "PDF" in reason(path)
