"""Read one file into a `RawDocument`: plain text, Markdown, HTML, PDF (with pages) or DOCX.

`load_file(path, source, max_bytes)` returns the text as extracted, before cleaning. A bad
file (empty, too large, binary, undecodable, corrupt, encrypted, unreadable, an unsupported
type) raises `LoadError`, whose message is the one-line reason shown to the user; nothing
else escapes for a bad file. Merely unusual text is read, not refused: a few stray NUL bytes
are dropped, and UTF-8 mixed with Latin-1/cp1252 bytes decodes each part correctly.
This module does not clean, chunk or walk folders.
"""

from __future__ import annotations

import codecs
import errno
import io
import logging
import re
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from index.types import PageSpan, RawDocument

if TYPE_CHECKING:
    from bs4 import BeautifulSoup
    from pypdf import PdfReader

log = logging.getLogger(__name__)

_KINDS = {
    ".txt": "txt",
    ".md": "md",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
}
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(_KINDS)

# Tags whose text is page furniture or code, never article content.
_DROP_TAGS = (
    "script",
    "style",
    "nav",
    "footer",
    "aside",
    "header",
    "form",
    "noscript",
    "template",
    "svg",
    "iframe",
    "button",
    "head",
    "title",
)
_BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "blockquote",
        "body",
        "dd",
        "details",
        "dialog",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "main",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "ul",
        "caption",
        "center",
    ]
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")


class LoadError(Exception):
    """A file that cannot be indexed; `str(error)` is the reason shown to the user."""


def load_file(path: Path, source: str, max_bytes: int) -> RawDocument:
    """Read `path` (shown to users as `source`) into a RawDocument, or raise LoadError."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise LoadError(f"unsupported file type {suffix}" if suffix else "unsupported file type")
    data = _read_bytes(path, max_bytes)
    kind = _KINDS[suffix]
    try:
        if kind in ("txt", "md"):
            return RawDocument(str(path), source, decode_text(data), kind)
        if kind == "html":
            if _looks_binary(data):
                raise LoadError("binary file with a text extension")
            text, title = html_to_text(data.replace(b"\x00", b""))
            return RawDocument(str(path), source, text, kind, title_hint=title)
        if kind == "pdf":
            text, pages, title = _pdf_text(data)
            return RawDocument(str(path), source, text, kind, pages=pages, title_hint=title)
        text, title = _docx_text(data)
        return RawDocument(str(path), source, text, kind, title_hint=title)
    except LoadError:
        raise
    except RecursionError as exc:
        raise LoadError(f"{kind.upper()} file is nested too deeply to read") from exc
    except Exception as exc:  # a parser library failing on a malformed file
        log.debug("cannot read %s", path, exc_info=True)
        raise LoadError(f"cannot read {kind.upper()} file: {_short(exc)}") from exc


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:160]


def _human(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"  # pragma: no cover


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise LoadError("not a regular file")
        if info.st_size == 0:
            raise LoadError("empty file")
        if info.st_size > max_bytes:
            raise LoadError(f"file too large: {_human(info.st_size)} (limit {_human(max_bytes)})")
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except PermissionError as exc:
        raise LoadError("permission denied: the file cannot be read") from exc
    except FileNotFoundError as exc:
        raise LoadError("file not found (it may have been moved or deleted)") from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise LoadError("symbolic link loop") from exc
        raise LoadError(f"cannot read file: {exc.strerror or _short(exc)}") from exc
    if not data:
        raise LoadError("empty file")
    if len(data) > max_bytes:
        raise LoadError(f"file too large: over {_human(max_bytes)} (limit {_human(max_bytes)})")
    return data


# --- plain text ---------------------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def decode_text(data: bytes) -> str:
    """Decode the bytes of a text file, or raise LoadError (binary, undecodable, empty)."""
    text: str | None = None
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(codec)
            except UnicodeDecodeError as exc:
                raise LoadError(f"undecodable text: invalid {codec} after its BOM") from exc
            break
    if text is None:
        if _looks_binary(data):
            raise LoadError("binary file with a text extension")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = _decode_mixed(data) or _detect_charset(data)
    text = text.replace("\x00", "")  # a few stray NULs (more make `_looks_binary` refuse)
    if _control_ratio(text[:65536]) > 0.1:
        raise LoadError("binary file with a text extension")
    if not text.strip():
        raise LoadError("empty file (only whitespace)")
    return text


_MAX_NUL_SHARE = 0.01  # a few stray NUL bytes in an exported text are dropped; more: binary


def _looks_binary(data: bytes) -> bool:
    """Many NUL bytes or control characters: not text, whatever the file name says."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    if data.count(0) > _MAX_NUL_SHARE * len(data):
        return True
    head = data[:65536].replace(b"\x00", b"")
    controls = sum(1 for byte in head if (byte < 32 and byte not in b"\t\n\r\f\v") or byte == 127)
    return controls / max(len(head), 1) > 0.1


def _control_ratio(text: str) -> float:
    if not text:
        return 0.0
    return len(_CONTROL.findall(text)) / len(text)


_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)


def _cp1252_for_bad_bytes(err: UnicodeError) -> tuple[str, int]:
    if not isinstance(err, UnicodeDecodeError):
        raise err
    return err.object[err.start : err.end].decode("cp1252", errors="replace"), err.end


codecs.register_error("ragchat-cp1252", _cp1252_for_bad_bytes)


def _decode_mixed(data: bytes) -> str | None:
    """UTF-8 with stray Latin-1/cp1252 bytes (files pasted together), each part decoded right.

    None when the bytes show no UTF-8 (a file in one legacy encoding: detection does better).
    """
    valid = len(_UTF8_MULTIBYTE.findall(data))
    invalid = data.decode("utf-8", errors="replace").count("\ufffd")
    if valid == 0 or valid < invalid:
        return None
    return data.decode("utf-8", errors="ragchat-cp1252")


def _detect_charset(data: bytes) -> str:
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise LoadError("undecodable text: not UTF-8 and no known encoding fits")
    return str(best)


# --- HTML ---------------------------------------------------------------------------------


def _parser() -> str:
    try:
        import lxml  # noqa: F401
    except ImportError:
        return "html.parser"
    return "lxml"


def html_to_text(data: bytes | str) -> tuple[str, str | None]:
    """Visible text of an HTML page (one line per block element) and its title, if any.

    The tree is walked with an explicit stack, not recursion and without editing it, so
    pathologically deep nesting costs linear time and cannot overflow the stack.
    """
    from bs4 import BeautifulSoup, NavigableString, Tag
    from bs4.element import CData

    soup = BeautifulSoup(data, _parser())
    title = _html_title(soup)
    out: list[str] = []
    in_article = in_pre = 0
    stack: list[tuple[object, bool]] = [(soup, True)]
    while stack:
        node, entering = stack.pop()
        if isinstance(node, Tag):
            name = node.name
            if not entering:  # leaving the element
                in_article -= name in ("article", "main")
                in_pre -= name == "pre"
                if name in _BLOCK_TAGS:
                    out.append("\n\n")
                elif name in ("td", "th"):
                    out.append(" | ")
                continue
            # An article's own <header> holds its headline: keep that one.
            if name in _DROP_TAGS and not (name == "header" and in_article):
                continue
            if name == "br":
                out.append("\n")
                continue
            in_article += name in ("article", "main")
            in_pre += name == "pre"
            if name in _BLOCK_TAGS:
                out.append("\n\n")
            if name in ("li", "tr"):
                out.append("\n- " if name == "li" else "\n")
            stack.append((node, False))
            stack.extend((child, True) for child in reversed(node.contents))
        elif isinstance(node, NavigableString) and (
            type(node) is NavigableString or isinstance(node, CData)
        ):
            out.append(str(node) if in_pre else re.sub(r"\s+", " ", str(node)))
    lines = [line.strip().removesuffix("|").strip() for line in "".join(out).split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    if not text:
        raise LoadError("no text in the HTML page")
    return text, title


def _html_title(soup: BeautifulSoup) -> str | None:
    head = soup.title.get_text(" ", strip=True) if soup.title else ""
    h1_tag = soup.find("h1")
    h1 = h1_tag.get_text(" ", strip=True) if h1_tag else ""
    head, h1 = " ".join(head.split()), " ".join(h1.split())
    if h1 and (not head or h1.lower() in head.lower()):
        return h1  # "<title>Headline | Site</title>" with "<h1>Headline</h1>": the headline
    return head or h1 or None


# --- PDF ----------------------------------------------------------------------------------


def _pdf_text(data: bytes) -> tuple[str, tuple[PageSpan, ...], str | None]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")
            except Exception as exc:  # AES without the crypto extra, broken keys
                raise LoadError("PDF is encrypted (password required)") from exc
            if not opened:
                raise LoadError("PDF is encrypted (password required)")
        pages = list(reader.pages)
    except LoadError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise LoadError(f"corrupt PDF: {_short(exc)}") from exc
    parts: list[str] = []
    spans: list[PageSpan] = []
    offset = 0
    for number, page in enumerate(pages, start=1):
        try:
            text = page.extract_text() or ""
        except Exception:  # one damaged page should not lose the others
            log.warning("PDF page %d could not be read", number, exc_info=True)
            text = ""
        text = text.replace("\x00", "").strip()
        if not text:
            continue
        if parts:
            offset += 2  # the "\n\n" between pages
        spans.append(PageSpan(number, offset, offset + len(text)))
        parts.append(text)
        offset += len(text)
    if not parts:
        raise LoadError("PDF has no extractable text (scanned?)")
    return "\n\n".join(parts), tuple(spans), _pdf_title(reader)


def _pdf_title(reader: PdfReader) -> str | None:
    """The title in the PDF's metadata, unless it is a placeholder ("Untitled", "Microsoft...")."""
    try:
        title = " ".join(str((reader.metadata or {}).get("/Title") or "").split())
    except Exception:  # damaged metadata is no reason to lose the text
        return None
    if (
        len(title) < 3
        or title.lower() in ("untitled", "title")
        or title.lower().startswith(("microsoft word", "untitled"))
    ):
        return None
    return title


# --- DOCX ---------------------------------------------------------------------------------


def _docx_text(data: bytes) -> tuple[str, str | None]:
    import zipfile

    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise LoadError("corrupt DOCX file (not a valid Word document)") from exc
    blocks: list[str] = []
    first_heading: str | None = None
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            rows = []
            for row in item.rows:
                cells = [" ".join(cell.text.split()) for cell in row.cells]
                # Merged cells repeat their text in every grid cell: keep one copy.
                unique = [c for i, c in enumerate(cells) if c and (i == 0 or c != cells[i - 1])]
                if unique:
                    rows.append(" | ".join(unique))
            if rows:
                blocks.append("\n".join(rows))
            continue
        text = item.text.strip()
        if not text:
            continue
        style = (item.style.name if item.style is not None else "") or ""
        if first_heading is None and (style == "Title" or style.startswith("Heading")):
            first_heading = text
        blocks.append(text)
    if not blocks:
        raise LoadError("no text in the DOCX file")
    title = (document.core_properties.title or "").strip() or first_heading
    return "\n\n".join(blocks), title
