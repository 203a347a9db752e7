"""The backend registry and `rag backends`: built-ins, third-party backends, unknown names."""

from __future__ import annotations

import json
import socket
import tomllib
from collections.abc import Iterator
from typing import ClassVar

import pytest
from click.testing import CliRunner
from pydantic import BaseModel, ConfigDict, Field

from rag.backends import registry
from rag.backends.base import BackendError, BackendStatus, ChatRequest, NoOptions, complete
from rag.cli import cli
from rag.config import ConfigError, Settings, load_settings
from rag.types import Message


class ShoutBackend:
    """A third-party backend, as a plugin package would write it."""

    name: ClassVar[str] = "shout"
    Options: ClassVar[type[BaseModel]] = NoOptions
    context_tokens = None
    can_rewrite = False

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    @classmethod
    def from_settings(cls, settings: Settings, options: object = None) -> ShoutBackend:
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
    def from_settings(cls, settings: Settings, options: object = None) -> BrokenBackend:
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
    assert rows["extractive"]["default"] is True and rows["llama-cpp"]["default"] is False


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


class EchoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    greeting: str = Field("hello", description="What the backend says first.")
    repeat: int = Field(1, ge=1, description="How many times it says it.")


class EchoBackend(ShoutBackend):
    """A third-party backend with options of its own."""

    name: ClassVar[str] = "echo-bot"
    Options: ClassVar[type[BaseModel]] = EchoOptions

    def __init__(self, options: EchoOptions) -> None:
        super().__init__(prefix=" ".join([options.greeting] * options.repeat))

    @classmethod
    def from_settings(cls, settings: Settings, options: object = None) -> EchoBackend:
        assert isinstance(options, EchoOptions)
        return cls(options)


@pytest.fixture
def echo(monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RAG_CONFIG", raising=False)
    registry.register("echo-bot", EchoBackend)
    yield
    registry.unregister("echo-bot")


def _echo(settings: Settings) -> str:
    request = ChatRequest(messages=(Message("user", "hi"),), question="q")
    return complete(registry.create("echo-bot", settings), request)


def test_a_third_party_backend_gets_its_options_from_rag_toml_and_env(echo, tmp_path, monkeypatch):
    assert _echo(load_settings()) == "hello: Q"  # no table: the backend's defaults
    (tmp_path / "rag.toml").write_text('[llm.echo_bot]\ngreeting = "ahoy"\nrepeat = 2\n')
    assert _echo(load_settings()) == "ahoy ahoy: Q"
    monkeypatch.setenv("RAG_LLM__ECHO_BOT__REPEAT", "3")
    assert _echo(load_settings()) == "ahoy ahoy ahoy: Q"
    built = registry.create("echo-bot", load_settings(), {"greeting": "hey"})
    assert built.prefix == "hey hey hey"  # an override for one question, on top of the table


def test_rag_config_describes_a_third_party_backend_table(echo, tmp_path):
    (tmp_path / "rag.toml").write_text('[llm.echo_bot]\ngreeting = "ahoy"\n')
    result = CliRunner().invoke(cli, ["config"], obj={})
    assert result.exit_code == 0, result.output
    table = result.output.split("[llm.echo_bot]")[1]
    assert '# What the backend says first.\ngreeting = "ahoy"' in table
    assert tomllib.loads(result.output)["llm"]["echo_bot"] == {"greeting": "ahoy", "repeat": 1}


@pytest.mark.parametrize(
    ("toml", "needle"),
    [
        ("[llm.echo_bot]\nrepeat = 0\n", "repeat"),
        ("[llm.echo_bot]\ncolour = 1\n", "colour"),
        ("[llm.echo_bott]\nrepeat = 2\n", "echo_bott"),
        ("[llm]\nmax_tokenz = 2\n", "max_tokenz"),
    ],
)
def test_bad_backend_tables_are_one_clear_error(echo, tmp_path, toml, needle):
    (tmp_path / "rag.toml").write_text(toml)
    with pytest.raises(ConfigError, match=needle):
        load_settings()


def test_bad_per_question_options_name_the_option(echo):
    with pytest.raises(BackendError, match="colour"):
        registry.create("echo-bot", Settings(), {"colour": "red"})
    with pytest.raises(BackendError, match="repeat"):
        registry.create("echo-bot", Settings(), {"repeat": 0})
    with pytest.raises(BackendError, match="extractive backend: model"):
        registry.create("extractive", Settings(), {"model": "x"})


class OldStyleBackend:
    """A backend written before the protocol declared its capabilities."""

    name: ClassVar[str] = "old-style"
    Options: ClassVar[type[BaseModel]] = NoOptions
    model = "old-1"
    context_window = 2048

    @classmethod
    def from_settings(cls, settings: Settings, options: object = None) -> OldStyleBackend:
        return cls()


def test_a_backend_missing_a_protocol_member_is_named():
    with (
        registry.override("old-style", OldStyleBackend),
        pytest.raises(BackendError) as caught,
    ):
        registry.create("old-style", Settings())
    message = str(caught.value)
    assert "old-style" in message
    assert all(m in message for m in ("context_tokens", "can_rewrite", "status", "stream"))
