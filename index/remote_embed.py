"""Embeddings from any OpenAI-compatible `/v1/embeddings` server, as an `Embedder`.

`RemoteEmbedder` sends texts through the official `openai` SDK (OpenAI, vLLM, Ollama, LM
Studio, Text Embeddings Inference, llama.cpp's server, another `rag serve`), in requests of
`batch_size` texts of similar lengths (sorted, then put back in order) with up to
`concurrency` requests in flight, and L2-normalises what comes back (servers differ on whether
they do). The key is read from the environment variable named
by `api_key_env` and never appears in a message. The dimension is learnt from the first
response (`dim` asks the server once when nothing was embedded yet) and every later response
must match it, since a server whose model changed mid-run would mix vector spaces.

Every failure (server down, timeout, HTTP error, a refused key, an unknown model, a reply that
is not one pooled vector per text) is an `EmbeddingError` whose message says what to change;
the writer then stops before storing the batch, so the index keeps what it had.

This module does not choose the backend (index.embedding does) or store vectors.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from index.embedding import EmbeddingError, embedder_name

_TOKEN_LEVEL_HINT = (
    "the server returned one vector per token, not one per text (its model has no pooling); "
    "give the server a pooled embedding model (llama.cpp: --kv_overrides "
    "<arch>.pooling_type=int:1 for mean pooling)"
)


class RemoteEmbedder:
    """Texts embedded by a remote OpenAI-compatible server; implements `Embedder`."""

    def __init__(
        self,
        base_url: str,
        model: str = "default",
        api_key_env: str = "OPENAI_API_KEY",
        batch_size: int = 64,
        concurrency: int = 2,
        timeout: float = 120.0,
        retries: int = 2,
    ) -> None:
        try:
            from openai import OpenAI
        except ImportError:
            raise EmbeddingError(
                "The 'openai' embedding backend needs the openai SDK: pip install openai."
            ) from None
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = embedder_name(model, "openai")
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.timeout = timeout
        self._key_env = api_key_env
        self._client = OpenAI(
            base_url=self.base_url,
            api_key=os.environ.get(api_key_env) or "not-needed",
            timeout=timeout,
            max_retries=retries,
        )
        self._dim = 0
        self._dim_lock = threading.Lock()

    @property
    def dim(self) -> int:
        """The vectors' dimension (one small request when nothing was embedded yet)."""
        if not self._dim:
            self.embed_documents(["dimension probe"])
        return self._dim

    @dim.setter
    def dim(self, value: int) -> None:
        self._dim = value

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Requests of similar lengths: a server that pads its batches wastes less work.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        ordered = [texts[i] for i in order]
        size = self.batch_size
        batches = [ordered[i : i + size] for i in range(0, len(ordered), size)]
        if len(batches) == 1 or self.concurrency == 1:
            parts = [self._request(b) for b in batches]
        else:
            pool = ThreadPoolExecutor(max_workers=min(self.concurrency, len(batches)))
            try:
                parts = list(pool.map(self._request, batches))
            finally:  # after a failure, requests not yet sent are not sent
                pool.shutdown(wait=False, cancel_futures=True)
        vectors = np.empty_like(np.concatenate(parts, axis=0))
        vectors[order] = np.concatenate(parts, axis=0)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.where(norms > 0, norms, 1.0)).astype(np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]

    # ---------------------------------------------------------------- one request

    def _request(self, batch: list[str]) -> np.ndarray:
        try:
            reply = self._client.embeddings.create(
                input=batch, model=self.model, encoding_format="float"
            )
        except Exception as err:
            raise EmbeddingError(self._explain(err)) from None
        try:
            rows = sorted(reply.data, key=lambda item: item.index)
            vectors = [np.asarray(item.embedding, dtype=np.float32) for item in rows]
        except (AttributeError, TypeError, ValueError):
            raise EmbeddingError(
                f"{self._where()} did not answer with an OpenAI embeddings response."
            ) from None
        if len(vectors) != len(batch):
            raise EmbeddingError(
                f"{self._where()} returned {len(vectors)} vectors for {len(batch)} texts."
            )
        if any(v.ndim != 1 for v in vectors):
            raise EmbeddingError(f"{self._where()}: {_TOKEN_LEVEL_HINT}.")
        dims = {int(v.shape[0]) for v in vectors}
        if len(dims) != 1 or 0 in dims:
            raise EmbeddingError(f"{self._where()} returned vectors of differing sizes {dims}.")
        self._check_dim(dims.pop())
        return np.stack(vectors)

    def _check_dim(self, dim: int) -> None:
        with self._dim_lock:
            if not self._dim:
                self._dim = dim
            elif dim != self._dim:
                raise EmbeddingError(
                    f"{self._where()} returned {dim}-dimensional vectors after "
                    f"{self._dim}-dimensional ones: its model changed. Nothing of this batch "
                    "was stored; point index.embedding_base_url at one model and run again."
                )

    def _where(self) -> str:
        return f"The embeddings server at {self.base_url} (model {self.model!r})"

    def _explain(self, err: Exception) -> str:
        """One readable line for an SDK error, without the key."""
        import openai

        where = self._where()
        if isinstance(err, openai.APITimeoutError):
            text = (
                f"{where} did not answer within {self.timeout:g} s; raise "
                "index.embedding_timeout or lower index.embedding_batch_size."
            )
        elif isinstance(err, openai.APIConnectionError):
            text = (
                f"Cannot reach the embeddings server at {self.base_url} ({_cause(err)}). "
                "Is it running? Check index.embedding_base_url."
            )
        elif isinstance(err, openai.AuthenticationError | openai.PermissionDeniedError):
            text = (
                f"{where} refused the API key (HTTP {err.status_code}); set the right key in "
                f"the environment variable {self._key_env} (index.embedding_api_key_env)."
            )
        elif isinstance(err, openai.NotFoundError):
            text = (
                f"{where} answered HTTP 404 ({_status_message(err)}): check "
                "index.embedding_remote_model and that the base URL ends in /v1."
            )
        elif isinstance(err, openai.APIStatusError):
            text = f"{where} answered HTTP {err.status_code}: {_status_message(err)}"
        else:
            text = f"{where} failed: {type(err).__name__}: {err}"
        key = os.environ.get(self._key_env)
        return text.replace(key, "***") if key else text


def _cause(err: BaseException) -> str:
    inner: BaseException | None = err.__cause__ or err.__context__
    while inner is not None and (inner.__cause__ or inner.__context__) is not None:
        inner = inner.__cause__ or inner.__context__
    return str(inner or err) or type(inner or err).__name__


def _status_message(err: Any) -> str:
    body = getattr(err, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])[:300]
        if isinstance(inner, str):
            return inner[:300]
    return str(getattr(err, "message", err))[:300]
