"""The OpenAI-compatible HTTP API: `POST /v1/chat/completions` and `GET /v1/models`.

The model name selects the backend (any registered one: `GET /v1/models` lists them);
`"ragchat": {"collection": NAME}` the collection to answer from (default: 'default').
Unless the request asks for bare text (`"ragchat": {"bare": true}`) or the setting
`api.sources_in_content` is off, the message content ends with a short sources list (title,
file, quoted span per [n], see ui.api_sources), so any chat client shows checkable sources.
Replies follow OpenAI's shapes, plus extra fields: `citations` (a list of
`Citation.to_json()`), `short_answer` (`ShortAnswer.to_json()` or null), `abstained` and
`abstain_reason`. A streamed reply sends
`chat.completion.chunk` events (the sources list as the last content piece) and, in the last
one, the same extra fields and `final_content` (the checked answer text with the sources list,
which differs from the streamed text when invalid markers were removed or an extractive
fallback replaced the model's answer).
When the variable named by `server.api_key_env` is set, every request needs
`Authorization: Bearer <key>`. Errors use OpenAI's `{"error": {...}}` shape.
This module holds no retrieval or validation logic: it checks the request with
`Assistant.validate` and `registry.check_name`, and answers with `Assistant.ask` /
`Assistant.stream`.
"""

from __future__ import annotations

import json
import os
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from rag.backends import registry
from rag.backends.registry import UnknownBackend
from rag.config import Settings
from rag.types import Answer, AnswerStream, Message
from ui.api_sources import sources_text
from ui.collections import UnknownCollection, collections_for


class APIError(Exception):
    """An error answered in OpenAI's shape."""

    def __init__(self, status: int, message: str, type_: str, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.code = code

    def response(self) -> JSONResponse:
        body = {"error": {"message": self.message, "type": self.type, "param": None}}
        body["error"]["code"] = self.code
        headers = {"WWW-Authenticate": "Bearer"} if self.status == 401 else None
        return JSONResponse(body, status_code=self.status, headers=headers)


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "user", "assistant", "developer", "tool"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text or "" for p in self.content if p.type == "text")


class RagchatOptions(BaseModel):
    """ragchat's own request options (the `ragchat` field)."""

    model_config = ConfigDict(extra="forbid")
    bare: bool = Field(False, description="Answer text only, without the sources list.")
    collection: str = Field("default", description="The collection to answer from.")


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, top_p... are accepted and ignored
    model: str
    messages: list[ChatMessageIn] = Field(min_length=1)
    stream: bool = False
    max_tokens: int | None = Field(None, ge=1)
    ragchat: RagchatOptions = Field(default_factory=RagchatOptions)


def _error_message(err: ValidationError) -> str:
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    return f"Invalid request: {where}: {first['msg']}"


def _split_conversation(req: ChatCompletionRequest) -> tuple[str, tuple[Message, ...]]:
    """The question (last user message) and the history before it."""
    last = req.messages[-1]
    if last.role != "user":
        raise APIError(400, "The last message must have role 'user'.", "invalid_request_error")
    history = tuple(
        Message(role=m.role, content=m.text())
        for m in req.messages[:-1]
        if m.role in ("user", "assistant") and m.text().strip()
    )
    return last.text().strip(), history


def _extra_fields(answer: Answer) -> dict[str, Any]:
    return {
        "citations": [c.to_json() for c in answer.citations],
        "short_answer": answer.short_answer.to_json() if answer.short_answer else None,
        "abstained": answer.abstained,
        "abstain_reason": answer.abstain_reason,
        "backend_model": answer.model,
    }


def _completion(
    answer: Answer, model: str, cid: str, created: int, sources: str = ""
) -> dict[str, Any]:
    return {
        "id": cid,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer.text + sources},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": answer.tokens_in,
            "completion_tokens": answer.tokens_out,
            "total_tokens": answer.tokens_in + answer.tokens_out,
        },
        **_extra_fields(answer),
    }


def _chunk(cid: str, created: int, model: str, delta: dict, finish: str | None) -> dict:
    return {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _sse(data: dict | str) -> str:
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"data: {payload}\n\n"


def build_router(assistant: Any, settings: Settings) -> APIRouter:
    """The /v1 routes, answering with `assistant` (an `rag.assistant.Assistant`)."""

    def require_key(request: Request) -> None:
        expected = os.environ.get(settings.server.api_key_env)
        if not expected:
            return
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(
            given.strip().encode(), expected.encode()
        ):
            raise APIError(
                401,
                "Invalid or missing API key: send 'Authorization: Bearer <key>'.",
                "invalid_request_error",
                "invalid_api_key",
            )

    router = APIRouter(prefix="/v1", dependencies=[Depends(require_key)])

    @router.get("/models")
    def list_models() -> dict[str, Any]:
        created = int(time.time())
        statuses = {s.name: s for s in assistant.backend_statuses()}
        data = []
        for name in registry.names():
            status = statuses.get(name)
            data.append(
                {
                    "id": name,
                    "object": "model",
                    "created": created,
                    "owned_by": "ragchat",
                    "available": bool(status and status.available),
                    "backend_model": status.model if status else "",
                    "detail": status.detail if status else "",
                }
            )
        return {"object": "list", "data": data}

    @router.post("/chat/completions", response_model=None)
    async def chat_completions(request: Request) -> JSONResponse | StreamingResponse:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise APIError(
                400, "The request body is not valid JSON.", "invalid_request_error"
            ) from None
        try:
            req = ChatCompletionRequest.model_validate(body)
        except ValidationError as err:
            raise APIError(400, _error_message(err), "invalid_request_error") from None
        try:
            registry.check_name(req.model)
        except UnknownBackend as err:
            raise APIError(404, str(err), "invalid_request_error", "model_not_found") from None
        question, history = _split_conversation(req)
        try:
            target = collections_for(settings, assistant).assistant(req.ragchat.collection)
        except UnknownCollection as err:
            raise APIError(404, str(err), "invalid_request_error", "collection_not_found") from None
        problem = target.validate(question)
        if problem:
            raise APIError(400, problem, "invalid_request_error")
        cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        with_sources = settings.api.sources_in_content and not req.ragchat.bare
        if not req.stream:
            try:
                answer = await run_in_threadpool(target.ask, question, history, backend=req.model)
            except ValueError as err:
                raise APIError(400, str(err), "invalid_request_error") from None
            except Exception as err:  # the assistant should not raise; answer in shape if it does
                raise APIError(500, f"Internal error: {err}", "server_error") from None
            if answer.error:
                raise APIError(502, answer.error, "backend_error", "backend_failed")
            sources = sources_text(answer) if with_sources else ""
            return JSONResponse(_completion(answer, req.model, cid, created, sources))

        def events() -> Iterator[str]:
            yield _sse(_chunk(cid, created, req.model, {"role": "assistant"}, None))
            try:
                stream = AnswerStream(target.stream(question, history, backend=req.model))
                for piece in stream:
                    yield _sse(_chunk(cid, created, req.model, {"content": piece}, None))
                answer = stream.answer
                if answer.error:
                    yield _sse({"error": {"message": answer.error, "type": "backend_error"}})
                else:
                    sources = sources_text(answer) if with_sources else ""
                    if sources:
                        yield _sse(_chunk(cid, created, req.model, {"content": sources}, None))
                    last = _chunk(cid, created, req.model, {}, "stop")
                    last.update(_extra_fields(answer), final_content=answer.text + sources)
                    yield _sse(last)
            except ValueError as err:
                yield _sse({"error": {"message": str(err), "type": "invalid_request_error"}})
            except Exception as err:  # headers are sent: report it in the stream
                yield _sse({"error": {"message": f"Internal error: {err}", "type": "server_error"}})
            yield _sse("[DONE]")

        async def body_iter() -> AsyncIterator[str]:
            async for event in iterate_in_threadpool(events()):
                yield event

        return StreamingResponse(
            body_iter(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    from ui.embeddings_api import build_embeddings_router  # it imports APIError from here

    router.include_router(build_embeddings_router(settings))
    return router


def install_error_handler(app: Any) -> None:
    """Answer APIError in OpenAI's shape (FastAPI handlers are app-wide, routers have none)."""

    async def handle(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, APIError)
        return exc.response()

    app.add_exception_handler(APIError, handle)
