"""Security defaults of a real `rag serve`, checked as a user or an attacker meets them.

One server is started the way a user would (no --host), with basic auth, an API key for /v1
($RAG_API_KEY), an OpenAI key in the environment and a small upload limit; its `openai` backend
points at a local server that refuses the key and echoes it back (an error path that mentions
the backend). Checked: it listens on 127.0.0.1 only (its real listening socket), 0.0.0.0 needs
an explicit setting, basic auth guards the web chat, the key guards /v1, uploads land inside
uploads/ whatever their name, the two keys appear nowhere (server output, `rag config`,
`rag backends`, the page and its config, /v1/models, error bodies), and over-long questions
and over-size uploads get a clear message. The checks are printed as a table.
"""

from __future__ import annotations

import base64
import json
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import openai
import psutil
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from rag.config import load_settings
from tests.conftest import copy_index
from tests.ui.conftest import ServerProcess, offline_env, rag, start_server
from ui.uploads import safe_name

pytestmark = [pytest.mark.reliability, pytest.mark.server, pytest.mark.slow, pytest.mark.e2e]

RAG_KEY = "rk-MARKER-7f3a9c1e-rag-api-key"
OPENAI_KEY = "sk-MARKER-b41d22e0-openai-key"
USER, PASSWORD = "ann", "pw-4e1b"
UPLOAD_LIMIT_MB = 0.05  # 51 KB


class RefusingServer:
    """An OpenAI-compatible server that refuses every key, quoting it back (as OpenAI does)."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _refuse(self) -> None:
                given = self.headers.get("Authorization", "")
                body = json.dumps({"error": {"message": f"Incorrect API key provided: {given}"}})
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

            def do_GET(self) -> None:
                self._refuse()

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self._refuse()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def refusing() -> Iterator[RefusingServer]:
    server = RefusingServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def secured_env(
    tmp_path_factory: pytest.TempPathFactory, refusing: RefusingServer, corpus_index_template: Path
) -> dict:
    data_dir = copy_index(corpus_index_template, tmp_path_factory.mktemp("security") / "data")
    return {
        "RAG_DATA_DIR": str(data_dir),
        "RAG_API_KEY": RAG_KEY,
        "OPENAI_API_KEY": OPENAI_KEY,
        "RAG_LLM__OPENAI__BASE_URL": refusing.url,
        "RAG_LLM__OPENAI__MAX_RETRIES": "0",
        "RAG_SERVER__MAX_UPLOAD_MB": str(UPLOAD_LIMIT_MB),
    }


@pytest.fixture(scope="module")
def secured(secured_env: dict) -> Iterator[ServerProcess]:
    env = {k: v for k, v in secured_env.items() if k != "RAG_DATA_DIR"}
    server = start_server(
        Path(secured_env["RAG_DATA_DIR"]),
        "--backend",
        "openai",
        "--auth",
        f"{USER}:{PASSWORD}",
        host=None,  # the default address, as a user starts it
        **env,
    )
    yield server
    server.stop()


def _basic() -> dict[str, str]:
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _web(server: ServerProcess) -> Client:
    return Client(server.url, verbose=False, headers=_basic())


def _api(server: ServerProcess, key: str = RAG_KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0, timeout=120)


def _bubble(chat: list[dict]) -> str:
    content = chat[-1]["content"] if chat else ""
    if isinstance(content, list):
        return "".join(p.get("text") or "" for p in content if isinstance(p, dict))
    return str(content)


@pytest.fixture(scope="module")
def checks() -> list[list[object]]:
    return []


@pytest.fixture(scope="module", autouse=True)
def print_checks(checks: list[list[object]]) -> Iterator[None]:
    yield
    from tests.conftest import Figures

    if checks:
        Figures("tests/reliability/test_security.py (security defaults)").table(
            ["check", "result", "detail"], checks
        )


def test_binds_loopback_by_default(secured: ServerProcess, checks) -> None:
    listening = [
        c.laddr
        for c in psutil.Process(secured.proc.pid).net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
    ]
    port = int(secured.url.rsplit(":", 1)[1])
    mine = [a for a in listening if a.port == port]
    checks.append(["default bind address", "ok" if mine else "?", f"{mine}"])
    assert mine and all(a.ip == "127.0.0.1" for a in mine), listening
    assert secured.url.startswith("http://127.0.0.1:")


def test_public_address_needs_an_explicit_setting(secured_env: dict, checks) -> None:
    assert load_settings().server.host == "127.0.0.1"
    assert load_settings({"server": {"host": "0.0.0.0"}}).server.host == "0.0.0.0"
    shown = rag("config", env=offline_env(RAG_DATA_DIR=secured_env["RAG_DATA_DIR"]))
    host = tomllib.loads(shown.stdout)["server"]["host"]
    checks.append(["0.0.0.0 only with --host / server.host", "ok", f"rag config: host = {host}"])
    assert host == "127.0.0.1"


def test_basic_auth_guards_the_web_chat(secured: ServerProcess, checks) -> None:
    assert httpx.get(secured.url + "/").status_code == 401
    assert httpx.get(secured.url + "/", auth=(USER, "wrong")).status_code == 401
    page = httpx.get(secured.url + "/", auth=(USER, PASSWORD))
    assert page.status_code == 200 and "ragchat" in page.text
    with pytest.raises(Exception):  # noqa: B017 (gradio_client raises its own errors)
        Client(secured.url, verbose=False)
    chat, _box, sources = _web(secured).predict(
        "Who is the director of the SVR?", "extractive", "", "", 5, True, [], api_name="/chat"
    )
    assert "Naryshkin" in _bubble(chat) and 'class="rag-source"' in sources
    checks.append(["basic auth on the web chat", "ok", "401 without/wrong, answers with it"])


def test_api_key_guards_v1(secured: ServerProcess, checks) -> None:
    for key in ("", "wrong-key"):
        with pytest.raises(openai.AuthenticationError) as err:
            _api(secured, key or "none").models.list()
        assert "API key" in err.value.message
    assert httpx.get(secured.url + "/v1/models", auth=(USER, PASSWORD)).status_code == 401
    reply = _api(secured).chat.completions.create(
        model="extractive", messages=[{"role": "user", "content": "Who heads the SVR?"}]
    )
    assert (reply.model_extra or {}).get("citations")
    checks.append(["API key on /v1", "ok", "401 without/wrong key (even with basic auth)"])


@pytest.mark.parametrize(
    "name",
    ["../../escape.txt", "..\\..\\escape.txt", "/etc/passwd.txt", ".hidden.txt", "a\x00b.txt"],
)
def test_upload_names_stay_in_the_uploads_folder(name: str) -> None:
    safe = safe_name(name)
    assert "/" not in safe and "\\" not in safe and ".." not in safe and "\x00" not in safe
    assert safe and not safe.startswith(".")


def test_a_traversal_upload_lands_inside_uploads(
    secured: ServerProcess, secured_env: dict, tmp_path: Path, checks
) -> None:
    data_dir = Path(secured_env["RAG_DATA_DIR"])
    hostile = tmp_path / "..\\..\\..\\escape-marker.txt"  # a legal Linux file name
    hostile.write_text("The escape marker document says the vault code is 4711.\n")
    result, *_ = _web(secured).predict([handle_file(str(hostile))], api_name="/upload")
    found = sorted(p for p in data_dir.parent.rglob("*escape-marker*") if p.is_file())
    uploads = load_settings({"index": {"data_dir": data_dir}}).index.uploads_dir
    checks.append(["upload with a traversal name", "ok", f"saved as {found}"[:80]])
    assert found == [uploads / "escape-marker.txt"], (found, result)
    assert "escape-marker.txt" in result


def test_upload_over_the_size_limit_is_refused(
    secured: ServerProcess, secured_env: dict, tmp_path: Path, checks
) -> None:
    big = tmp_path / "too-big.txt"
    big.write_text("All work and no play makes a dull index. " * 4000)  # ~160 KB
    # gradio_client checks the limit the page announces before sending...
    with pytest.raises(ValueError) as refused:
        _web(secured).predict([handle_file(str(big))], api_name="/upload")
    assert "exceeds the maximum file size" in str(refused.value)
    # ...and the server refuses it when it is sent anyway (as a hand-made request would)
    with big.open("rb") as handle:
        sent = httpx.post(
            secured.url + "/gradio_api/upload",
            files={"files": ("too-big.txt", handle, "text/plain")},
            auth=(USER, PASSWORD),
        )
    data_dir = Path(secured_env["RAG_DATA_DIR"])
    detail = sent.text.strip()
    checks.append(["upload over the size limit", f"HTTP {sent.status_code}", detail[:80]])
    assert sent.status_code == 413 and "maximum allowed size" in detail
    assert not list(data_dir.parent.rglob("too-big.txt"))


def test_over_long_questions_get_a_clear_message(secured: ServerProcess, checks) -> None:
    question = "Who is the director of the SVR? " * 200  # 6,400 characters, limit 2,000
    with pytest.raises(openai.BadRequestError) as err:
        _api(secured).chat.completions.create(
            model="extractive", messages=[{"role": "user", "content": question}]
        )
    assert "limit is 2000" in err.value.message
    with pytest.raises(AppError) as web_err:
        _web(secured).predict(question, "extractive", "", "", 5, True, [], api_name="/chat")
    assert "limit is 2000" in str(web_err.value) and "Traceback" not in str(web_err.value)
    checks.append(["over-long question", "400 / error", err.value.message[:80]])


def test_keys_are_never_logged_or_shown(secured: ServerProcess, secured_env: dict, checks) -> None:
    seen: dict[str, str] = {}
    # the error path that mentions the backend: the server refuses (and quotes) the key
    with pytest.raises(openai.APIStatusError) as err:
        _api(secured).chat.completions.create(
            model="openai", messages=[{"role": "user", "content": "Who heads the SVR?"}]
        )
    seen["API error body"] = json.dumps(err.value.body)
    assert "OPENAI_API_KEY" in seen["API error body"]  # it names the variable, not the value
    stream = _api(secured).chat.completions.create(
        model="openai", messages=[{"role": "user", "content": "Who heads the SVR?"}], stream=True
    )
    try:
        list(stream)
    except openai.APIError as stream_err:
        seen["API stream error"] = stream_err.message
    chat, _box, sources = _web(secured).predict(
        "Who heads the SVR?", "openai", "", "", 5, True, [], api_name="/chat"
    )
    seen["web answer + sources"] = _bubble(chat) + sources
    assert "rag-error" in seen["web answer + sources"]
    seen["/v1/models"] = httpx.get(
        secured.url + "/v1/models", headers={"Authorization": f"Bearer {RAG_KEY}"}
    ).text
    seen["/v1 401 body"] = httpx.get(secured.url + "/v1/models").text
    seen["page HTML"] = httpx.get(secured.url + "/", auth=(USER, PASSWORD)).text
    seen["page config"] = httpx.get(secured.url + "/config", auth=(USER, PASSWORD)).text
    env = offline_env(**secured_env)
    seen["rag config"] = (done := rag("config", env=env)).stdout + done.stderr
    seen["rag backends"] = (done := rag("backends", env=env)).stdout + done.stderr
    seen["server output"] = "".join(secured.output)
    leaks = [where for where, text in seen.items() if RAG_KEY in text or OPENAI_KEY in text]
    checks.append(["keys never shown", "ok" if not leaks else "LEAK", ", ".join(seen)[:80]])
    for where in seen:
        checks.append([f"  no key in {where}", "LEAK" if where in leaks else "ok", ""])
    assert "page config" in seen and len(seen["page config"]) > 100
    assert not leaks, leaks
