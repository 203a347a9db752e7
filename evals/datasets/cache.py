"""The benchmarks' own indexes: one cached data dir per dataset and indexing settings.

`cached_index_settings` points index settings at `<data_dir>/<kind>/<name>-<hash>` (the hash
covers the data's fingerprint and everything that changes the vectors: model, backend,
chunking), and `ensure_index` fills it once, leaving a marker file so later runs reuse it.
Never the user's own index. This module does not read datasets or search anything.
"""

from __future__ import annotations

import hashlib
import json

from index.config import IndexSettings
from index.types import Document


def cached_index_settings(
    base: IndexSettings, kind: str, name: str, fingerprint: str
) -> IndexSettings:
    """Settings for a benchmark's own index, keyed by the data and the indexing settings."""
    parts = [fingerprint, base.embedding_model, base.chunk_tokens, base.chunk_overlap]
    if base.embedding_backend != "torch":  # torch-built caches keep their old key
        parts.append(base.embedding_backend)
    key = json.dumps(parts, sort_keys=True)
    short = hashlib.sha256(key.encode()).hexdigest()[:12]
    return base.model_copy(
        update={
            "data_dir": base.data_dir / kind / f"{name}-{short}",
            "collection": f"{kind}-{short}",
        }
    )


def ensure_index(documents: list[Document], settings: IndexSettings, progress: bool) -> bool:
    """Index the documents once; a marker file makes later runs reuse it. True if built now."""
    from index.pipeline import index_documents

    marker = settings.data_dir / "complete.json"
    if marker.is_file() and json.loads(marker.read_text()).get("documents") == len(documents):
        return False
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    report = index_documents(documents, settings, progress=progress)
    marker.write_text(json.dumps({"documents": len(documents), "chunks": report.chunks}))
    return True
