"""Word (.docx) files: paragraphs and tables in document order, and the document's title.

Table rows become "cell | cell" lines (a merged cell's repeated text kept once). The title
is the core-properties title, else the first Title/Heading paragraph. This module does not
read the older binary .doc format.
"""

from __future__ import annotations

import io

from index.readers.base import Extracted, LoadError


def read_docx(data: bytes) -> Extracted:
    """The reader for .docx files."""
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
    return Extracted("\n\n".join(blocks), title)
