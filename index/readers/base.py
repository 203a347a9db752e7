"""What every reader shares: the `LoadError` it raises and the `Extracted` value it returns.

This module reads nothing itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from index.types import PageSpan


class LoadError(Exception):
    """A file that cannot be indexed; `str(error)` is the reason shown to the user."""


@dataclass(frozen=True)
class Extracted:
    """A reader's result: the text as extracted, with what the format says about it."""

    text: str
    title: str | None = None  # a title the format itself carries (<title>, PDF/DOCX metadata)
    pages: tuple[PageSpan, ...] = ()  # for paginated formats: offsets into `text`


def short(exc: BaseException) -> str:
    """An exception's message on one line, short enough for a table cell."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:160]
