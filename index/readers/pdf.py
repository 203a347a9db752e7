"""PDF files: the text of every page that has some, with where each page lies in it.

Pages are joined with a blank line and recorded as `PageSpan`s so chunks can cite a page.
A damaged page is skipped with a warning; an encrypted, corrupt or text-less (scanned) PDF
is a `LoadError`. This module does not run OCR.
"""

from __future__ import annotations

import io
import logging
from typing import TYPE_CHECKING

from index.readers.base import Extracted, LoadError, short
from index.types import PageSpan

if TYPE_CHECKING:
    from pypdf import PdfReader

log = logging.getLogger(__name__)


def read_pdf(data: bytes) -> Extracted:
    """The reader for .pdf files."""
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
        raise LoadError(f"corrupt PDF: {short(exc)}") from exc
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
    return Extracted("\n\n".join(parts), _pdf_title(reader), tuple(spans))


def _pdf_title(reader: PdfReader) -> str | None:
    """The title in the PDF's metadata, unless it is a placeholder ("Untitled", "Microsoft...")."""
    try:
        metadata = reader.metadata
        title = " ".join(str((metadata.get("/Title") if metadata else None) or "").split())
    except Exception:  # damaged metadata is no reason to lose the text
        return None
    if (
        len(title) < 3
        or title.lower() in ("untitled", "title")
        or title.lower().startswith(("microsoft word", "untitled"))
    ):
        return None
    return title
