"""The backend registry and `rag backends`: built-ins, third-party backends, unknown names."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import ClassVar

import pytest
from click.testing import CliRunner

from rag.backends import registry
from rag.backends.base import BackendError, BackendStatus, ChatRequest, complete
from rag.cli import cli
from rag.config import Settings
from rag.types import Message


class ShoutBackend:
    """A third-party backend, as a plugin package would write it."""

    name: ClassVar[str] = "shout"

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    @classmethod
    def from_settings(cls, settings: Settings) -> ShoutBackend:
        return cls(prefix=settings.llm.backend.upper())

    @property
    def model(self) -> str:
        return "shout-1"

    @property
    def context_window(self) -> int:
        return 2048

    def status(self) -> BackendStatus:
        return BackendStatus(self.name, "available", self.model, "always loud")

    def stream(self, request: ChatRequest) -> Iterator[str]:
        yield self.prefix + ": "
        yield request.question.upper()


class BrokenBackend(ShoutBackend):
    name: ClassVar[str] = "broken"

    @classmethod
    def from_settings(cls, settings: Settings) -> BrokenBackend:
        raise RuntimeError("plugin bug")


@pytest.fixture
def plugins() -> Iterator[None]:
    registry.register("shout", ShoutBackend)
    registry.register("broken", BrokenBackend)
    yield
    registry.unregister("shout")
    registry.unregister("broken")


def test_builtin_backends_come_from_entry_points() -> None:
    assert {"extractive", "llama-cpp", "openai"} <= set(registry.names())
    assert registry.backend_class("extractive").__name__ == "ExtractiveBackend"


def test_a_registered_third_party_backend_is_listed_and_usable(plugins: None) -> None:
    assert "shout" in registry.names()
    backend = registry.create("shout", Settings(llm={"backend": "shout"}))
    request = ChatRequest(messages=(Message("user", "hi"),), question="who leads the svr?")
    assert complete(backend, request) == "SHOUT: WHO LEADS THE SVR?"
    states = {s.name: s for s in registry.statuses(Settings())}
    assert states["shout"].available and states["shout"].model == "shout-1"


def test_a_backend_that_fails_to_build_is_reported_not_raised(plugins: None) -> None:
    states = {s.name: s for s in registry.statuses(Settings())}
    assert states["broken"].state == "misconfigured"
    assert "plugin bug" in states["broken"].detail


def test_unknown_name_lists_the_known_backends() -> None:
    with pytest.raises(BackendError) as caught:
        registry.create("gpt-17", Settings())
    message = str(caught.value)
    assert "gpt-17" in message
    assert all(name in message for name in ("extractive", "llama-cpp", "openai"))


def _closed_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> pytest.MonkeyPatch:
    monkeypatch.chdir(tmp_path)  # no ./rag.toml
    monkeypatch.delenv("RAG_CONFIG", raising=False)
    monkeypatch.setenv("RAG_LLM__OPENAI__BASE_URL", _closed_url())
    monkeypatch.setenv("RAG_LLM__OPENAI__MAX_RETRIES", "0")
    monkeypatch.setenv("COLUMNS", "200")  # rich: one line per row
    return monkeypatch


def test_rag_backends_json_lists_every_backend_with_its_state(env, tmp_path) -> None:
    env.setenv("RAG_LLM__LLAMA_CPP__MODEL_PATH", str(tmp_path / "missing.gguf"))
    result = CliRunner().invoke(cli, ["backends", "--json"], obj={})
    assert result.exit_code == 0, result.output
    # stdout only: a warning on stderr (e.g. a garbage-collected socket) must not break it
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["extractive"]["state"] == "available"
    assert rows["openai"]["state"] == "unreachable"
    assert "cannot reach" in rows["openai"]["detail"].lower()
    assert rows["llama-cpp"]["state"] == "misconfigured"
    assert rows["llama-cpp"]["default"] is True


def test_rag_backends_table(env) -> None:
    result = CliRunner().invoke(cli, ["backends"], obj={})
    assert result.exit_code == 0, result.output
    for word in ("extractive", "llama-cpp", "openai", "available", "unreachable"):
        assert word in result.output


def test_rag_backends_bad_setting_is_one_line(env) -> None:
    env.setenv("RAG_LLM__OPENAI__TIMEOUT", "-3")
    result = CliRunner().invoke(cli, ["backends"], obj={})
    assert result.exit_code == 2
    assert "Traceback" not in result.output and "timeout" in result.output


def test_override_restores_the_builtin_backend() -> None:
    """A test or plugin that stands in for a built-in backend must not remove it for good."""
    with registry.override("openai", ShoutBackend):
        assert registry.backend_class("openai") is ShoutBackend
    assert registry.backend_class("openai").__name__ == "OpenAIBackend"
    with registry.override("brand-new", ShoutBackend):
        assert "brand-new" in registry.names()
    assert "brand-new" not in registry.names()
