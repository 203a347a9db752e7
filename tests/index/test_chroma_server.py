"""Scale-out: index into a real Chroma server (`chroma run`) on 127.0.0.1 and query it."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from index.config import IndexSettings
from index.embedding import get_embedder
from index.store import open_index
from rag.cli import cli

pytestmark = pytest.mark.server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    binary = Path(sys.executable).with_name("chroma")
    binary = binary if binary.exists() else Path(shutil.which("chroma") or "chroma")
    port = _free_port()
    store = tmp_path / "server-store"
    log = (tmp_path / "chroma.log").open("wb")
    proc = subprocess.Popen(
        [str(binary), "run", "--path", str(store), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"chroma run did not start: {(tmp_path / 'chroma.log').read_text()}"
                )
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_index_into_a_chroma_server_and_query_it(
    chroma_server: str, corpus_copy: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(data_dir.parent)
    runner = CliRunner()
    args = ["--data-dir", str(data_dir), "index", str(corpus_copy), "--json"]
    result = runner.invoke(cli, [*args, "--chroma-url", chroma_server])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["added"] == 5 and report["chunks"] > 5
    assert not (data_dir / "chroma").exists()  # the vectors went to the server

    settings = IndexSettings(data_dir=data_dir, chroma_url=chroma_server)
    index = open_index(settings)
    assert index.chroma.count() == report["chunks"] == index.count()
    target = index.chunks_of(index.sources()[1])[0]
    hits = index.dense_search(get_embedder(settings).embed_query(target.text), k=2)
    assert hits[0][0] == target.id
    assert index.status().location == chroma_server

    again = runner.invoke(cli, [*args, "--chroma-url", chroma_server])
    assert json.loads(again.stdout)["unchanged"] == 5
