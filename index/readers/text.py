"""Plain text and Markdown: decode the bytes, whatever the encoding, or say why not.

A BOM names the codec; otherwise UTF-8, then UTF-8 mixed with stray Latin-1/cp1252 bytes
(files pasted together, each part decoded right), then charset detection. A few stray NUL
bytes are dropped; many NULs or control characters mean a binary file. This module does not
interpret Markdown: its text is indexed as written.
"""

from __future__ import annotations

import codecs
import re

from index.readers.base import Extracted, LoadError

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
_MAX_NUL_SHARE = 0.01  # a few stray NUL bytes in an exported text are dropped; more: binary
_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)


def read_text(data: bytes) -> Extracted:
    """The reader for .txt and .md files."""
    return Extracted(decode_text(data))


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
        if looks_binary(data):
            raise LoadError("binary file with a text extension")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = _decode_mixed(data) or _detect_charset(data)
    text = text.replace("\x00", "")  # a few stray NULs (more make `looks_binary` refuse)
    if _control_ratio(text[:65536]) > 0.1:
        raise LoadError("binary file with a text extension")
    if not text.strip():
        raise LoadError("empty file (only whitespace)")
    return text


def looks_binary(data: bytes) -> bool:
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
