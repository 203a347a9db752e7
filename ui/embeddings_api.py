"""`POST /v1/embeddings` in OpenAI's shape, answered by the index's own embedder.

One ragchat on a machine with spare compute can embed for others: they set
`index.embedding_backend = "openai"` and point `index.embedding_base_url` at this server's /v1.
The model name must be `default` or the embedder's own name (what the index records, e.g.
"all-MiniLM-L6-v2 (onnx-int8)"); anything else is OpenAI's 404 `model_not_found`. Vectors are
L2-normalised float32, sent as JSON floats or, with `encoding_format = "base64"`, as base64 of
the little-endian float32 bytes (what the openai SDK asks for by default). The API key check
comes from the /v1 router this one is included in (ui.api). `usage` counts cl100k tokens, the
project's one tokenizer, not the embedding model's own.

This module does not open or search the index and holds no embedding code of its own.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from index.embedding import Embedder, EmbeddingError, get_embedder
from index.tokens import count_tokens
from rag.config import Settings
from ui.api import APIError

MAX_INPUTS = 2048  # OpenAI's own limit per request
MAX_INPUT_CHARS = 100_000  # far past any model's window: a guard against runaway bodies
DEFAULT_MODEL = "default"


class EmbeddingRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # `user` and vendor fields are accepted, ignored
    input: str | list[str]
    model: str
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(None, ge=1)

    def texts(self) -> list[str]:
        return [self.input] if isinstance(self.input, str) else list(self.input)


def _invalid(message: str) -> APIError:
    return APIError(400, message, "invalid_request_error")


def _parse(body: Any) -> EmbeddingRequest:
    items = body.get("input") if isinstance(body, dict) else None
    if isinstance(items, list) and any(not isinstance(item, str) for item in items):
        raise _invalid(
            "Invalid request: input must be a string or a list of strings "
            "(token arrays are not accepted: send the text)."
        )
    try:
        req = EmbeddingRequest.model_validate(body)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise _invalid(f"Invalid request: {where}: {first['msg']}") from None
    texts = req.texts()
    if not texts:
        raise _invalid("Invalid request: input is empty.")
    if len(texts) > MAX_INPUTS:
        raise _invalid(f"Invalid request: at most {MAX_INPUTS} inputs per request.")
    for i, text in enumerate(texts):
        if not text.strip():
            raise _invalid(f"Invalid request: input[{i}] is empty.")
        if len(text) > MAX_INPUT_CHARS:
            raise _invalid(f"Invalid request: input[{i}] is longer than {MAX_INPUT_CHARS} chars.")
    return req


def _encode(vector: np.ndarray, encoding_format: str) -> list[float] | str:
    if encoding_format == "base64":
        return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
    return [float(x) for x in vector]


def build_embeddings_router(
    settings: Settings, embedder: Callable[[], Embedder] | None = None
) -> APIRouter:
    """The `/embeddings` route (include it in the /v1 router, which checks the key).

    `embedder` returns the embedder to use (default: the index's own, loaded on first use).
    """
    load = embedder or (lambda: get_embedder(settings.index))
    router = APIRouter()

    @router.post("/embeddings")
    async def embeddings(request: Request) -> JSONResponse:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise _invalid("The request body is not valid JSON.") from None
        req = _parse(body)
        try:
            model = await run_in_threadpool(load)
            if req.model not in (DEFAULT_MODEL, model.name):
                raise APIError(
                    404,
                    f"The model {req.model!r} does not exist here: this server embeds with "
                    f"{model.name!r} (or ask for {DEFAULT_MODEL!r}).",
                    "invalid_request_error",
                    "model_not_found",
                )
            texts = req.texts()
            vectors = await run_in_threadpool(model.embed_documents, texts)
        except EmbeddingError as err:
            raise APIError(503, f"The embedder is unavailable: {err}", "server_error") from None
        if req.dimensions is not None and req.dimensions != vectors.shape[1]:
            raise _invalid(
                f"Invalid request: dimensions={req.dimensions}, but {model.name!r} only "
                f"gives {vectors.shape[1]}-dimensional vectors."
            )
        tokens = sum(count_tokens(t) for t in texts)
        data = [
            {"object": "embedding", "index": i, "embedding": _encode(v, req.encoding_format)}
            for i, v in enumerate(vectors)
        ]
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "model": model.name,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    return router
