"""Read one file into a `RawDocument`: plain text, Markdown, HTML, PDF (with pages) or DOCX.

`load_file(path, source, max_bytes)` reads the bytes (size and file checks here), picks the
reader for the file's suffix from `FORMATS` and returns the text as extracted, before
cleaning. A bad file (empty, too large, binary, undecodable, corrupt, encrypted, unreadable,
an unsupported type) raises `LoadError`, whose message is the one-line reason shown to the
user; nothing else escapes for a bad file. Merely unusual text is read, not refused: a few
stray NUL bytes are dropped, and UTF-8 mixed with Latin-1/cp1252 bytes decodes each part
correctly.

A new format is one `FORMATS` entry and one reader function (bytes -> `Extracted`, see
`index.readers`). This module does not parse formats itself, clean, chunk or walk folders.
"""

from __future__ import annotations

import errno
import logging
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from index.readers.base import Extracted, LoadError, short
from index.readers.docx import read_docx
from index.readers.html import read_html
from index.readers.pdf import read_pdf
from index.readers.text import read_text
from index.types import RawDocument

__all__ = ["FORMATS", "SUPPORTED_SUFFIXES", "FileFormat", "LoadError", "load_file"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileFormat:
    """How files with one suffix are read: the kind recorded on the document, and its reader."""

    kind: str
    read: Callable[[bytes], Extracted]


FORMATS: dict[str, FileFormat] = {
    ".txt": FileFormat("txt", read_text),
    ".md": FileFormat("md", read_text),
    ".html": FileFormat("html", read_html),
    ".htm": FileFormat("html", read_html),
    ".pdf": FileFormat("pdf", read_pdf),
    ".docx": FileFormat("docx", read_docx),
}
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(FORMATS)


def load_file(path: Path, source: str, max_bytes: int) -> RawDocument:
    """Read `path` (shown to users as `source`) into a RawDocument, or raise LoadError."""
    path = Path(path)
    suffix = path.suffix.lower()
    fmt = FORMATS.get(suffix)
    if fmt is None:
        raise LoadError(f"unsupported file type {suffix}" if suffix else "unsupported file type")
    data = _read_bytes(path, max_bytes)
    try:
        found = fmt.read(data)
    except LoadError:
        raise
    except RecursionError as exc:
        raise LoadError(f"{fmt.kind.upper()} file is nested too deeply to read") from exc
    except Exception as exc:  # a parser library failing on a malformed file
        log.debug("cannot read %s", path, exc_info=True)
        raise LoadError(f"cannot read {fmt.kind.upper()} file: {short(exc)}") from exc
    return RawDocument(
        str(path), source, found.text, fmt.kind, pages=found.pages, title_hint=found.title
    )


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
        raise LoadError(f"cannot read file: {exc.strerror or short(exc)}") from exc
    if not data:
        raise LoadError("empty file")
    if len(data) > max_bytes:
        raise LoadError(f"file too large: over {_human(max_bytes)} (limit {_human(max_bytes)})")
    return data
