"""The `openai` backend: any OpenAI-compatible chat server through the official `openai` SDK.

OpenAI itself, vLLM, Ollama's /v1, LM Studio, llama.cpp's server: base URL, model, timeout
and retries are its options (`OpenAIOptions`, the `[llm.openai]` settings); the API key comes
only from the environment variable named there (`api_key_env`), and it never appears in a
message, a status or a log.
Every failure (unreachable, timeout, 4xx/5xx, unknown model, a stream that breaks or is not
an OpenAI stream) becomes a `BackendError` whose text tells the user what went wrong.

This module does not build prompts or check answers (the assistant does).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar, cast

from pydantic import BaseModel, ConfigDict, Field

from rag.backends.base import BackendError, BackendStatus, ChatRequest, backend_options

if TYPE_CHECKING:
    from rag.config import Settings

INSTALL_HINT = "pip install openai"
STATUS_TIMEOUT = 3.0  # seconds: `rag backends` must not hang on a dead server


class OpenAIOptions(BaseModel):
    """The `[llm.openai]` settings."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(
        "http://127.0.0.1:8080/v1", description="Base URL of an OpenAI-compatible server."
    )
    model: str = Field("default", description="Model name to request from the server.")
    api_key_env: str = Field(
        "OPENAI_API_KEY", description="Name of the environment variable holding the API key."
    )
    timeout: float = Field(60.0, gt=0, description="Seconds before a request is abandoned.")
    max_retries: int = Field(1, ge=0, description="Retries on connection errors and 5xx.")
    context_window: int = Field(8192, ge=512, description="Context window of the served model.")


class OpenAIBackend:
    """A chat model served behind an OpenAI-compatible `/v1` API."""

    name: ClassVar[str] = "openai"
    Options: ClassVar[type[BaseModel]] = OpenAIOptions
    context_tokens: int | None = None  # a served model reads whole passages fast enough
    can_rewrite: bool = True

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 60.0,
        max_retries: int = 1,
        context_window: int = 8192,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._model = model
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.max_retries = max_retries
        self._context_window = context_window
        self._client: Any = None

    @classmethod
    def from_settings(
        cls, settings: Settings, options: OpenAIOptions | None = None
    ) -> OpenAIBackend:
        if options is None:
            options = cast(OpenAIOptions, backend_options(cls, settings))
        return cls(
            base_url=options.base_url,
            model=options.model,
            api_key_env=options.api_key_env,
            timeout=options.timeout,
            max_retries=options.max_retries,
            context_window=options.context_window,
        )

    @property
    def model(self) -> str:
        return self._model

    @property
    def context_window(self) -> int:
        return self._context_window

    def _api_key(self) -> str:
        return os.environ.get(self.api_key_env) or "not-needed"

    def _redact(self, text: str) -> str:
        key = os.environ.get(self.api_key_env)
        return text.replace(key, "***") if key else text

    def client(self) -> Any:
        """The SDK client (built once). Raises BackendError if `openai` is not installed."""
        if self._client is None:
            try:
                from openai import OpenAI
            except ImportError:
                raise BackendError(
                    f"The openai backend needs the openai SDK: {INSTALL_HINT}"
                ) from None
            self._client = OpenAI(
                base_url=self.base_url,
                api_key=self._api_key(),
                timeout=self.timeout,
                max_retries=self.max_retries,
            )
        return self._client

    def status(self) -> BackendStatus:
        try:
            client = self.client().with_options(timeout=STATUS_TIMEOUT, max_retries=0)
            served = [m.id for m in client.models.list()]
        except BackendError as err:
            return BackendStatus(self.name, "missing package", self.model, str(err))
        except Exception as err:
            return self._status_of_failure(err)
        detail = f"{self.base_url}: serves {len(served)} model(s)"
        if served and self.model not in served:
            shown = ", ".join(served[:5])
            detail += f"; '{self.model}' is not listed (listed: {shown})"
        return BackendStatus(self.name, "available", self.model, detail)

    def _status_of_failure(self, err: Exception) -> BackendStatus:
        import openai

        if isinstance(err, openai.AuthenticationError | openai.PermissionDeniedError):
            return BackendStatus(self.name, "misconfigured", self.model, self._explain(err))
        if isinstance(err, openai.NotFoundError):  # a server without GET /models
            detail = f"{self.base_url}: reachable (it does not list its models)"
            return BackendStatus(self.name, "available", self.model, detail)
        detail = self._explain(err, timeout=STATUS_TIMEOUT)
        return BackendStatus(self.name, "unreachable", self.model, detail)

    def stream(self, request: ChatRequest) -> Iterator[str]:
        client = self.client()
        messages = [{"role": m.role, "content": m.content} for m in request.messages]
        received = 0
        try:
            options: dict[str, Any] = {"stop": list(request.stop)} if request.stop else {}
            chunks = client.chat.completions.create(
                model=self.model,
                messages=messages,
                stream=True,
                max_tokens=request.max_tokens,
                temperature=request.temperature,
                **options,
            )
            for chunk in chunks:
                received += 1
                if not getattr(chunk, "choices", None):
                    continue
                piece = chunk.choices[0].delta.content
                if piece:
                    yield piece
        except BackendError:
            raise
        except Exception as err:
            raise BackendError(self._explain(err, midway=received > 0)) from None
        if received == 0:
            raise BackendError(
                f"The server at {self.base_url} sent a reply that is not an OpenAI stream "
                "(no events)."
            )

    def _explain(self, err: Exception, timeout: float | None = None, midway: bool = False) -> str:
        """A one-line message a user can act on (the API key redacted).

        `midway`: the reply had started streaming (a lost connection is then a server that
        died or was cut off while answering, not one that cannot be reached).
        """
        import openai

        where = self.base_url
        if midway and isinstance(err, openai.APITimeoutError):
            msg = (
                f"The OpenAI-compatible server at {where} stalled in the middle of the answer "
                f"(nothing for {timeout or self.timeout:g} s); the answer is incomplete."
            )
        elif midway and isinstance(err, openai.APIConnectionError):
            msg = (
                f"The OpenAI-compatible server at {where} stopped in the middle of the answer "
                "(the connection was lost); the answer is incomplete."
            )
        elif isinstance(err, openai.APITimeoutError):
            seconds = timeout or self.timeout
            msg = f"The OpenAI-compatible server at {where} timed out after {seconds:g} s."
        elif isinstance(err, openai.APIConnectionError):
            msg = f"Cannot reach the OpenAI-compatible server at {where}."
        elif isinstance(err, openai.NotFoundError) and "model" in str(err.message).lower():
            msg = f"Model '{self.model}' not found on the server at {where} (HTTP 404)."
        elif isinstance(err, openai.NotFoundError):
            msg = (
                f"No OpenAI-compatible API at {where} (HTTP 404): check llm.openai.base_url "
                "(it usually ends in /v1)."
            )
        elif isinstance(err, openai.AuthenticationError | openai.PermissionDeniedError):
            msg = (
                f"The server at {where} refused the API key (HTTP {err.status_code}): "
                f"check the {self.api_key_env} environment variable."
            )
        elif isinstance(err, openai.APIStatusError):
            body = _short(re.sub(r"^Error code: \d+ - ", "", str(err.message)))
            if err.status_code in (400, 422) and "model" in body.lower():
                msg = f"Model '{self.model}' not found on the server at {where}: {body}"
            else:
                msg = f"The server at {where} returned HTTP {err.status_code}: {body}"
        elif isinstance(err, openai.APIError | json.JSONDecodeError | ValueError | TypeError):
            msg = f"The server at {where} sent a reply that is not an OpenAI response: {err}"
        else:
            msg = f"The OpenAI-compatible server at {where} failed: {type(err).__name__}: {err}"
        return self._redact(_short(msg, 300))


def _short(text: str, limit: int = 200) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
