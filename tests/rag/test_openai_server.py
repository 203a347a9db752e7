"""The openai backend's failures, with the real `openai` SDK against misbehaving servers.

Each misbehaviour is a tiny HTTP server on 127.0.0.1 (http.server in a thread): a closed
port, HTTP 500, garbage bytes, a reply slower than the timeout, an unknown model (404; the
real llama.cpp server accepts any model name, see test_backend_contract.py), a refused API
key, a stream cut mid-way. Every one must end as a one-line BackendError, never a traceback,
and the API key must never show.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rag.backends.base import BackendError, ChatRequest, complete
from rag.backends.openai_backend import OpenAIBackend
from rag.config import Settings
from rag.types import Message

SECRET = "sk-test-5f1c0ffee-DO-NOT-SHOW"
REQUEST = ChatRequest(
    messages=(Message("user", "Who leads the SVR?"),), question="Who leads the SVR?"
)

Handler = Callable[[BaseHTTPRequestHandler, dict], None]


def _chunk(content: str) -> bytes:
    data = {
        "id": "x",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}],
    }
    return f"data: {json.dumps(data)}\n\n".encode()


def _send(handler: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", ctype)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def _json(handler: BaseHTTPRequestHandler, status: int, payload: dict) -> None:
    _send(handler, status, json.dumps(payload).encode(), "application/json")


class TinyServer:
    """An HTTP server whose POST /v1/chat/completions reply is given by a function."""

    def __init__(self, on_chat: Handler, on_get: Handler | None = None) -> None:
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                if on_get is not None:
                    on_get(self, {})
                elif self.path.endswith("/models"):
                    _json(self, 200, {"object": "list", "data": [{"id": "m", "object": "model"}]})
                else:
                    _json(self, 404, {"error": {"message": "no such route"}})

            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(size) or b"{}")
                outer.requests.append(body)
                outer.headers.append({k.lower(): v for k, v in self.headers.items()})
                on_chat(self, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], TinyServer]]:
    started: list[TinyServer] = []

    def start(on_chat: Handler, on_get: Handler | None = None) -> TinyServer:
        started.append(TinyServer(on_chat, on_get))
        return started[-1]

    yield start
    for server in started:
        server.close()


def backend_for(url: str, **options: object) -> OpenAIBackend:
    settings = {"base_url": url, "model": "m", "max_retries": 0, **options}
    return OpenAIBackend.from_settings(Settings(llm={"openai": settings}))


def _error_of(backend: OpenAIBackend) -> str:
    with pytest.raises(BackendError) as caught:
        complete(backend, REQUEST)
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_a_good_stream_is_passed_through(serve) -> None:
    def ok(handler: BaseHTTPRequestHandler, body: dict) -> None:
        _send(
            handler,
            200,
            _chunk("Sergey ") + _chunk("Naryshkin [1].") + b"data: [DONE]\n\n",
            "text/event-stream",
        )

    server = serve(ok)
    assert list(backend_for(server.url).stream(REQUEST)) == ["Sergey ", "Naryshkin [1]."]
    assert server.requests[0]["stream"] is True
    assert server.requests[0]["model"] == "m"


def test_closed_port_is_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    backend = backend_for(url)
    assert "cannot reach" in _error_of(backend).lower()
    status = backend.status()
    assert status.state == "unreachable"
    assert url in status.detail


def test_http_500_names_the_status_and_the_server_message(serve) -> None:
    server = serve(lambda h, b: _json(h, 500, {"error": {"message": "model crashed"}}))
    message = _error_of(backend_for(server.url))
    assert "HTTP 500" in message and "model crashed" in message


def test_retries_follow_the_setting(serve) -> None:
    server = serve(lambda h, b: _json(h, 503, {"error": {"message": "busy"}}))
    assert "HTTP 503" in _error_of(backend_for(server.url, max_retries=1))
    assert len(server.requests) == 2


def test_garbage_event_stream_is_an_error(serve) -> None:
    server = serve(lambda h, b: _send(h, 200, b"data: {not json at all\n\n", "text/event-stream"))
    assert "not an openai response" in _error_of(backend_for(server.url)).lower()


def test_garbage_bytes_are_an_error(serve) -> None:
    server = serve(lambda h, b: _send(h, 200, bytes(range(256)) * 4, "application/octet-stream"))
    assert "not an openai" in _error_of(backend_for(server.url)).lower()


def test_a_reply_without_events_is_an_error(serve) -> None:
    server = serve(lambda h, b: _send(h, 200, b"<html>Welcome to nginx</html>", "text/html"))
    assert "not an openai stream" in _error_of(backend_for(server.url)).lower()


def test_slow_server_times_out(serve) -> None:
    def slow(handler: BaseHTTPRequestHandler, body: dict) -> None:
        time.sleep(4)
        _send(handler, 200, _chunk("late"), "text/event-stream")

    server = serve(slow)
    assert "timed out after 1 s" in _error_of(backend_for(server.url, timeout=1.0))


def test_unknown_model_is_named(serve) -> None:
    def not_found(handler: BaseHTTPRequestHandler, body: dict) -> None:
        error = {"message": f"The model `{body['model']}` does not exist", "code": "404"}
        _json(handler, 404, {"error": error})

    server = serve(not_found)
    message = _error_of(backend_for(server.url, model="gpt-nope"))
    assert "Model 'gpt-nope' not found" in message


def test_refused_key_is_explained_and_never_shown(serve, monkeypatch) -> None:
    monkeypatch.setenv("RAGCHAT_TEST_KEY", SECRET)

    def refuse(handler: BaseHTTPRequestHandler, body: dict) -> None:
        auth = handler.headers.get("Authorization", "")
        _json(handler, 401, {"error": {"message": f"Incorrect API key provided: {auth}"}})

    server = serve(refuse)
    message = _error_of(backend_for(server.url, api_key_env="RAGCHAT_TEST_KEY"))
    assert server.headers[0]["authorization"] == f"Bearer {SECRET}"  # the key was sent...
    assert SECRET not in message  # ...but is not shown
    assert "RAGCHAT_TEST_KEY" in message and "401" in message


def test_stream_cut_midway_keeps_the_text_then_fails(serve) -> None:
    def cut(handler: BaseHTTPRequestHandler, body: dict) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Content-Length", "100000")
        handler.end_headers()
        handler.wfile.write(_chunk("Sergey "))
        handler.wfile.flush()
        handler.close_connection = True

    server = serve(cut)
    pieces: list[str] = []
    with pytest.raises(BackendError):
        for piece in backend_for(server.url).stream(REQUEST):
            pieces.append(piece)
    assert pieces == ["Sergey "]


def test_settings_copy_overrides_url_and_model(serve) -> None:
    server = serve(
        lambda h, b: _send(h, 200, _chunk("ok") + b"data: [DONE]\n\n", "text/event-stream")
    )
    base = Settings()
    openai = base.llm.openai.model_copy(update={"base_url": server.url, "model": "other"})
    copy = base.model_copy(update={"llm": base.llm.model_copy(update={"openai": openai})})
    backend = OpenAIBackend.from_settings(copy)
    assert complete(backend, REQUEST) == "ok"
    assert server.requests[0]["model"] == "other"
    assert backend.model == "other"
    assert base.llm.openai.base_url != server.url  # the original settings are untouched


def test_status_lists_what_the_server_serves(serve) -> None:
    server = serve(lambda h, b: None)
    status = backend_for(server.url, model="elsewhere").status()
    assert status.state == "available"
    assert "'elsewhere' is not listed" in status.detail


def test_status_with_a_refused_key_is_misconfigured(serve) -> None:
    server = serve(lambda h, b: None, on_get=lambda h, b: _json(h, 401, {"error": {}}))
    status = backend_for(server.url).status()
    assert status.state == "misconfigured"
    assert "OPENAI_API_KEY" in status.detail


def test_status_of_a_server_without_a_model_list_is_available(serve) -> None:
    server = serve(lambda h, b: None, on_get=lambda h, b: _json(h, 404, {"error": {}}))
    assert backend_for(server.url).status().state == "available"


def test_status_of_a_failing_server_is_unreachable(serve) -> None:
    server = serve(lambda h, b: None, on_get=lambda h, b: _json(h, 502, {"error": {}}))
    status = backend_for(server.url).status()
    assert status.state == "unreachable" and "HTTP 502" in status.detail


def test_stop_sequences_are_sent_only_when_given(serve) -> None:
    server = serve(lambda h, b: _send(h, 200, _chunk("ok"), "text/event-stream"))
    backend = backend_for(server.url)
    complete(backend, REQUEST)
    complete(backend, ChatRequest(messages=REQUEST.messages, question="q", stop=("\n\n",)))
    assert "stop" not in server.requests[0]
    assert server.requests[1]["stop"] == ["\n\n"]


def test_a_wrong_base_url_path_is_explained(serve) -> None:
    server = serve(lambda h, b: _json(h, 404, {"detail": "Not Found"}))
    assert "check llm.openai.base_url" in _error_of(backend_for(server.url))
