"""One reader per file-format family: bytes in, `Extracted` text out, or a `LoadError`.

Each module holds the reader of one family (text/Markdown, HTML, PDF, DOCX); the suffix
table that picks a reader lives in `index.loaders`. Readers never touch the file system,
clean, chunk or walk folders.
"""
