"""The OpenAI-compatible API: unit tests with a fake assistant, then the official `openai`
client against a real `rag serve` over the default corpus."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from rag.backends import registry
from rag.backends.base import BackendStatus
from rag.config import load_settings
from rag.pipeline_steps import question_problem
from rag.types import Answer, Citation
from ui.api import build_router, install_error_handler

CORPUS = Path(__file__).resolve().parents[2] / "corpus"

# --- unit tests: the HTTP layer around a fake assistant -------------------------------------


class FakeAssistant:
    """Answers every question with one cited sentence; 'fail' makes the backend fail."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple, str | None]] = []

    def _answer(self, question: str, backend: str | None) -> Answer:
        cite = Citation(n=1, source="a.txt", title="A", chunk_id="c1", start=0, end=9,
                        text="Some text")  # fmt: skip
        if "fail" in question:
            return Answer(text="down", citations=(), hits=(), abstained=False,
                          backend=backend or "", model="m", error="Server down at :9")  # fmt: skip
        return Answer(text=f"Echo: {question} [1]", citations=(cite,), hits=(), abstained=False,
                      backend=backend or "", model="m", tokens_in=7, tokens_out=3)  # fmt: skip

    def ask(self, question, history=(), *, backend=None, **_):
        self.calls.append((question, tuple(history), backend))
        return self._answer(question, backend)

    def stream(self, question, history=(), *, backend=None, **_) -> Iterator:
        self.calls.append((question, tuple(history), backend))
        answer = self._answer(question, backend)
        if not answer.error:
            yield "Echo: "
            yield question
        yield answer

    def validate(self, question: str) -> str | None:
        return question_problem(question, 2000)

    def backend_statuses(self) -> list[BackendStatus]:
        return [BackendStatus(name=n, state="available", model="m") for n in registry.names()]


@pytest.fixture
def fake() -> FakeAssistant:
    return FakeAssistant()


@pytest.fixture
def client(fake: FakeAssistant, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.delenv("RAG_API_KEY", raising=False)
    app = FastAPI()
    install_error_handler(app)
    app.include_router(build_router(fake, load_settings()))
    return TestClient(app)


SOURCES = "\n\nSources:\n[1] A — a.txt: “Some text”"


def _post(client: TestClient, body, **kw):
    return client.post("/v1/chat/completions", json=body, **kw)


def _user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def test_completion_carries_answer_citations_and_abstained(client, fake):
    r = _post(client, {"model": "extractive", "messages": _user("hi")})
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "chat.completion" and body["model"] == "extractive"
    message = body["choices"][0]["message"]
    assert message == {"role": "assistant", "content": "Echo: hi [1]" + SOURCES}
    assert body["citations"][0]["source"] == "a.txt" and body["abstained"] is False
    assert body["usage"]["total_tokens"] == 10
    assert fake.calls == [("hi", (), "extractive")]


def test_history_and_content_parts_reach_the_assistant(client, fake):
    messages = [
        {"role": "system", "content": "be nice"},
        {"role": "user", "content": "Who is the director of the SVR?"},
        {"role": "assistant", "content": "Naryshkin [1]."},
        {"role": "user", "content": [{"type": "text", "text": "Who did he speak with?"}]},
    ]
    assert _post(client, {"model": "extractive", "messages": messages}).status_code == 200
    question, history, _ = fake.calls[0]
    assert question == "Who did he speak with?"
    assert [(m.role, m.content) for m in history] == [
        ("user", "Who is the director of the SVR?"),
        ("assistant", "Naryshkin [1]."),
    ]


def test_streaming_sends_sse_chunks_then_citations_then_done(client):
    r = _post(client, {"model": "extractive", "messages": _user("hi"), "stream": True})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = [e for e in r.text.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(e[6:]) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == "Echo: hi" + SOURCES
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["citations"][0]["n"] == 1
    assert chunks[-1]["final_content"] == "Echo: hi [1]" + SOURCES


def test_bare_text_by_request_or_by_setting(client, fake, monkeypatch):
    bare = {"model": "extractive", "messages": _user("hi"), "ragchat": {"bare": True}}
    r = _post(client, bare)
    assert r.json()["choices"][0]["message"]["content"] == "Echo: hi [1]"
    assert r.json()["citations"][0]["source"] == "a.txt"  # the field stays
    streamed = _post(client, {**bare, "stream": True}).text
    assert "Sources:" not in streamed and '"final_content": "Echo: hi [1]"' in streamed
    bad = _post(client, {**bare, "ragchat": {"bare": "maybe"}})
    assert bad.status_code == 400 and "ragchat.bare" in bad.json()["error"]["message"]
    app = FastAPI()
    install_error_handler(app)
    app.include_router(build_router(fake, load_settings({"api": {"sources_in_content": False}})))
    r = _post(TestClient(app), {"model": "extractive", "messages": _user("hi")})
    assert r.json()["choices"][0]["message"]["content"] == "Echo: hi [1]"


def test_no_sources_list_for_an_answer_without_citations(client):
    r = _post(client, {"model": "extractive", "messages": _user("please fail")})
    assert "Sources:" not in r.text


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"model": "nope", "messages": _user("hi")}, 404, "does not exist"),
        ({"model": "extractive"}, 400, "messages"),
        ({"model": "extractive", "messages": []}, 400, "messages"),
        ({"model": "extractive", "messages": _user("   ")}, 400, "empty"),
        ({"model": "extractive", "messages": _user("x" * 5000)}, 400, "limit"),
        (
            {"model": "extractive", "messages": [{"role": "assistant", "content": "x"}]},
            400,
            "role 'user'",
        ),
        ({"model": "extractive", "messages": [{"role": "wizard", "content": "x"}]}, 400, "role"),
    ],
)
def test_bad_requests_get_openai_shaped_errors(client, body, status, needle):
    r = _post(client, body)
    assert r.status_code == status
    error = r.json()["error"]
    assert needle in error["message"] and error["type"] == "invalid_request_error"


def test_invalid_json_is_a_400(client):
    r = client.post("/v1/chat/completions", content=b"{not json", headers={"content-type": "x"})
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]["message"]


def test_backend_failure_is_a_readable_502(client):
    r = _post(client, {"model": "extractive", "messages": _user("please fail")})
    assert r.status_code == 502 and "Server down at :9" in r.json()["error"]["message"]
    r = _post(client, {"model": "extractive", "messages": _user("fail"), "stream": True})
    assert '"Server down at :9"' in r.text and r.text.endswith("data: [DONE]\n\n")


def test_models_lists_one_model_per_backend(client):
    ids = [m["id"] for m in client.get("/v1/models").json()["data"]]
    assert ids == registry.names() and "extractive" in ids


def test_api_key_is_required_only_when_configured(client, monkeypatch):
    assert client.get("/v1/models").status_code == 200
    monkeypatch.setenv("RAG_API_KEY", "s3cret")
    assert client.get("/v1/models").status_code == 401
    wrong = client.get("/v1/models", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "s3cret" not in wrong.text
    ok = client.get("/v1/models", headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200


# --- end to end: the official openai client against `rag serve` -----------------------------


@pytest.fixture(scope="module")
def api(rag_server) -> openai.OpenAI:
    return openai.OpenAI(base_url=rag_server.url + "/v1", api_key=rag_server.api_key, max_retries=0)


def _mentions(source: str, word: str) -> bool:
    return word.lower() in (CORPUS / source).read_text(encoding="utf-8").lower()


@pytest.mark.e2e
@pytest.mark.server
@pytest.mark.slow
def test_openai_client_gets_a_cited_answer(api: openai.OpenAI):
    r = api.chat.completions.create(
        model="extractive",
        messages=[{"role": "user", "content": "Who is the director of the SVR?"}],
    )
    text = r.choices[0].message.content or ""
    assert "Naryshkin" in text and "[1]" in text
    extra = r.model_extra or {}
    assert extra["abstained"] is False and extra["citations"]
    assert all(_mentions(c["source"], "Naryshkin") for c in extra["citations"][:1])
    # a client that ignores `citations` still sees what [1] is: title, file, quoted span
    answer, _, listed = text.partition("\n\nSources:\n")
    first = extra["citations"][0]
    assert listed.startswith(f"[1] {first['title']} — {first['source']}: “")
    assert len(listed.splitlines()) == len(extra["citations"])
    bare = api.chat.completions.create(
        model="extractive",
        messages=[{"role": "user", "content": "Who is the director of the SVR?"}],
        extra_body={"ragchat": {"bare": True}},
    )
    assert bare.choices[0].message.content == answer


@pytest.mark.e2e
@pytest.mark.server
@pytest.mark.slow
def test_openai_client_streams_and_gets_citations_at_the_end(api: openai.OpenAI):
    stream = api.chat.completions.create(
        model="extractive",
        messages=[{"role": "user", "content": "Who is the director of the SVR?"}],
        stream=True,
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "Naryshkin" in text
    last = chunks[-1].model_extra or {}
    assert last["citations"] and "Naryshkin" in last["final_content"]
    first = last["citations"][0]
    assert f"\n\nSources:\n[1] {first['title']} — {first['source']}: “" in text
    assert last["final_content"].endswith(text.partition("\n\nSources:")[2])


@pytest.mark.e2e
@pytest.mark.server
@pytest.mark.slow
def test_openai_client_out_of_corpus_question_is_refused(api: openai.OpenAI):
    r = api.chat.completions.create(
        model="extractive", messages=[{"role": "user", "content": "Who won the 2022 World Cup?"}]
    )
    extra = r.model_extra or {}
    assert extra["abstained"] is True and extra["citations"] == []
    assert "could not find" in (r.choices[0].message.content or "")


@pytest.mark.e2e
@pytest.mark.server
def test_openai_client_lists_backends_as_models(api: openai.OpenAI):
    ids = {m.id for m in api.models.list()}
    assert {"extractive", "llama-cpp", "openai"} <= ids


@pytest.mark.e2e
@pytest.mark.server
def test_openai_client_with_wrong_key_gets_401(rag_server):
    bad = openai.OpenAI(base_url=rag_server.url + "/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as err:
        bad.models.list()
    assert err.value.status_code == 401
    assert rag_server.api_key not in rag_server.log()  # keys are never logged


@pytest.mark.e2e
@pytest.mark.server
def test_openai_client_unknown_model_is_named_in_the_error(api: openai.OpenAI):
    with pytest.raises(openai.NotFoundError) as err:
        api.chat.completions.create(model="gpt-17", messages=[{"role": "user", "content": "hi"}])
    assert "gpt-17" in str(err.value) and "extractive" in str(err.value)


# --- the whole server app: basic auth, flags ----------------------------------------------


class FakeIndexAssistant(FakeAssistant):
    def index_status(self):
        return None

    def index_problem(self) -> str:
        return "No index found — run `rag index` first."

    def sources(self) -> list[str]:
        return []


@pytest.mark.parametrize("api_key", ["", "k-123"])
def test_basic_auth_guards_the_chat_and_the_api_unless_it_has_a_key(api_key, monkeypatch, tmp_path):
    from ui.server import create_app

    monkeypatch.delenv("RAG_API_KEY", raising=False)
    if api_key:
        monkeypatch.setenv("RAG_API_KEY", api_key)
    settings = load_settings(
        {"server": {"auth": "ann:pw,bob:pw2"}, "index": {"data_dir": str(tmp_path)}}
    )
    with TestClient(create_app(settings, FakeIndexAssistant())) as web:
        assert web.get("/").status_code == 401
        assert web.get("/", auth=("ann", "wrong")).status_code == 401
        assert web.get("/", auth=("bob", "pw")).status_code == 401  # ann's password
        page = web.get("/", auth=("ann", "pw"))
        assert page.status_code == 200 and "ragchat" in page.text
        assert web.get("/", auth=("bob", "pw2")).status_code == 200
        models = web.get("/v1/models", headers={"Authorization": f"Bearer {api_key}"})
        # with a key, /v1 is guarded by the key alone; without one, by basic auth
        assert models.status_code == (200 if api_key else 401)


def test_serve_rejects_a_malformed_auth_flag_in_one_line(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "rag.cli", "serve", "--auth", "nopassword", "--port", "0"],
        capture_output=True,
        text=True,
        env={**os.environ, "RAG_DATA_DIR": str(tmp_path)},
        timeout=120,
    )
    assert done.returncode == 2
    assert "USER:PASSWORD" in done.stderr and "Traceback" not in done.stderr
