"""HTML pages: the visible article text, one line per block element, and the page's title.

Page furniture (navigation, footers, scripts, forms) is dropped; an article's own <header>
is kept for its headline. This module does not fetch pages or clean the text further.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from index.readers.base import Extracted, LoadError
from index.readers.text import looks_binary

if TYPE_CHECKING:
    from bs4 import BeautifulSoup

# Tags whose text is page furniture or code, never article content.
_DROP_TAGS = frozenset(
    [
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
    ]
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


def read_html(data: bytes) -> Extracted:
    """The reader for .html and .htm files."""
    if looks_binary(data):
        raise LoadError("binary file with a text extension")
    text, title = html_to_text(data.replace(b"\x00", b""))
    return Extracted(text, title)


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
